"""`relayer page`: the member page served as static files, with no relayer behind it — no
settings, no database, no chain connection of its own. A member whose relayer is gone opens it,
picks the union's published report (it names the union and its chain) and claims or leaves
from the wallet (see web/js/roots.js). The page is the same `web/index.html` and bundle the
relayer serves, with the same headers, but with no union facts embedded.
"""

import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click

from relayer.api.page import ASSET_NAME, CONFIG_PLACEHOLDER, PAGE_HEADERS, WEB_DIR, bundle_missing

_ASSET = re.compile(ASSET_NAME)
_TYPES = {".js": "text/javascript", ".css": "text/css", ".map": "application/json"}


def page_html(web_dir: Path = WEB_DIR) -> bytes:
    """index.html with `null` for the union's facts: the page then starts from a report."""
    template = (web_dir / "index.html").read_text(encoding="utf-8")
    return template.replace(CONFIG_PLACEHOLDER, "null", 1).encode()


def make_server(host: str, port: int, web_dir: Path = WEB_DIR) -> ThreadingHTTPServer:
    """A server of the page at `/` and its bundle at `/assets/<name>` (port 0: any free one)."""
    if bundle_missing(web_dir):
        missing = web_dir / "dist"
        raise click.ClickException(f"the member page is not built (no {missing}): run `make web`")
    html = page_html(web_dir)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/":
                self._answer(html, "text/html; charset=utf-8", PAGE_HEADERS)
                return
            name = path.removeprefix("/assets/")
            asset = web_dir / "dist" / name
            if path.startswith("/assets/") and _ASSET.match(name) and asset.is_file():
                kind = _TYPES.get(asset.suffix, "application/octet-stream")
                self._answer(asset.read_bytes(), kind, {"X-Content-Type-Options": "nosniff"})
                return
            self._answer(b"not found", "text/plain", {}, HTTPStatus.NOT_FOUND)

        def _answer(
            self, body: bytes, kind: str, headers: dict[str, str], code: HTTPStatus = HTTPStatus.OK
        ) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # a member's own server: nothing worth logging per request

    return ThreadingHTTPServer((host, port), Handler)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def page(host: str, port: int) -> None:
    """Serve the member page without a relayer: claim with the union's published report."""
    server = make_server(host, port)
    url = f"http://{host}:{server.server_address[1]}/"
    click.echo(f"the member page (no relayer) at {url}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
