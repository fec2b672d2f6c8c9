"""The member web page: `/` serves `web/index.html` with the union's facts embedded in it, and
`/assets/<file>` the bundle that `make web` builds (esbuild) into `web/dist/`.

The facts (chain id, contract, pool token) are rendered into the page as a JSON data block
rather than fetched by the script, so a page that has loaded keeps working with the wallet alone
if the relayer goes away: a direct claim needs only the chain. The page is served with a strict
Content-Security-Policy: scripts and styles from this origin only, no inline script (the JSON
block is data, never executed), requests to this origin only, no framing.
"""

import logging
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse

from relayer.api.deps import ContextDep
from relayer.api.union import union_info
from relayer.errors import NotFound
from relayer.union import UnionInfo

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
CONFIG_PLACEHOLDER = "__UNION_CONFIG__"
BUNDLE = "app.js"
ASSET_NAME = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Member page not built</title></head>
<body><h1>The member page has not been built</h1>
<p>Run <code>make web</code>: it bundles <code>src/relayer/web</code> into
<code>src/relayer/web/dist</code>. The API itself is up: see <a href="/docs">/docs</a>.</p>
</body></html>
"""


def render(template: str, info: UnionInfo) -> str:
    """The page with the union's facts as JSON in its data block. `<`, `>` and `&` are escaped
    so no value can close the script element."""
    config = (
        info.model_dump_json()
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return template.replace(CONFIG_PLACEHOLDER, config, 1)


def bundle_missing(web_dir: Path) -> bool:
    return not (web_dir / "dist" / BUNDLE).is_file()


def router(web_dir: Path = WEB_DIR) -> APIRouter:
    """The page and its assets, from `web_dir` (its `index.html` and `dist/`)."""
    routes = APIRouter(include_in_schema=False)
    if bundle_missing(web_dir):
        log.warning("the member page is not built (no %s): run `make web`", web_dir / "dist")

    @routes.get("/", response_class=HTMLResponse)
    def member_page(context: ContextDep) -> HTMLResponse:
        if bundle_missing(web_dir):
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": "no-store"})
        template = (web_dir / "index.html").read_text(encoding="utf-8")
        return HTMLResponse(render(template, union_info(context)), headers=PAGE_HEADERS)

    @routes.get("/assets/{name}")
    def asset(name: Annotated[str, PathParam(pattern=ASSET_NAME)]) -> FileResponse:
        path = web_dir / "dist" / name
        if not path.is_file():
            raise NotFound(f"no asset {name!r}")
        return FileResponse(
            path, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        )

    return routes
