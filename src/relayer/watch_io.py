"""The watcher's edges that are not the chain: where reports come from, where its status goes,
and how URLs are shown in logs. Nothing here reads the relayer's database or settings."""

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from relayer.errors import RelayerError

log = logging.getLogger(__name__)

#: Largest report the watcher downloads: a 100,000-member report is ~25 MB, a million-member
#: root-mode one (its tree lists every leaf) ~370 MB.
MAX_REPORT_BYTES = 1024 * 1024 * 1024


class ReportUnavailable(RelayerError):
    """The report of an epoch could not be fetched (yet): the source did not answer."""

    code = "report_unavailable"


class ReportMissing(ReportUnavailable):
    """The source answered that it has no report for the epoch (HTTP 404, no such file)."""

    code = "report_missing"


def redact_url(url: str) -> str:
    """scheme://host[:port] only: RPC and report URLs carry API keys in their path, query or
    user part, and none of those may reach a log."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    if not parts.scheme or not host:
        return "<URL>"
    hidden = "/…" if (parts.path not in ("", "/") or parts.query or parts.username) else ""
    return f"{parts.scheme}://{host}{port}{hidden}"


class ReportSource:
    """Reports by epoch number, from a template with `{epoch}`: an http(s) URL or a file path.
    A bare http(s) base URL means a relayer: `<base>/v1/epochs/{epoch}/report`."""

    def __init__(self, template: str, timeout: float = 20.0) -> None:
        is_http = template.startswith(("http://", "https://"))
        if is_http and "{epoch}" not in template:
            template = template.rstrip("/") + "/v1/epochs/{epoch}/report"
        if "{epoch}" not in template:
            raise RelayerError("the report source must contain {epoch}, e.g. reports/{epoch}.json")
        self.template = template
        self.is_http = is_http
        self.timeout = timeout

    def __str__(self) -> str:
        return redact_url(self.template) if self.is_http else self.template

    def fetch(self, epoch: int) -> bytes:
        """The report's exact bytes; ReportUnavailable if they cannot be had now."""
        where = self.template.replace("{epoch}", str(epoch))
        if not self.is_http:
            try:
                return Path(where).read_bytes()
            except FileNotFoundError:
                raise ReportMissing(f"there is no {where}") from None
            except OSError as exc:
                raise ReportUnavailable(f"cannot read {where}: {exc.strerror}") from None
        try:
            with requests.get(where, timeout=self.timeout, stream=True) as response:
                if response.status_code in (404, 410):
                    raise ReportMissing(f"{redact_url(where)} has no such report (HTTP 404)")
                if response.status_code != 200:
                    raise ReportUnavailable(
                        f"{redact_url(where)} answered HTTP {response.status_code}"
                    )
                body = bytearray()
                for chunk in response.iter_content(1 << 16):
                    body += chunk
                    if len(body) > MAX_REPORT_BYTES:
                        raise ReportUnavailable(f"{redact_url(where)}: report over the size limit")
                return bytes(body)
        except requests.RequestException as exc:
            raise ReportUnavailable(f"{redact_url(where)}: {type(exc).__name__}") from None


class StatusBoard:
    """The watcher's latest status, for other tools to poll: a JSON file (replaced atomically)
    and, if asked, `GET /status` on a loopback port (HTTP 200 while all is well, 503 in alarm)."""

    def __init__(self, path: Path | None = None, port: int | None = None) -> None:
        self.path = path
        self._status: dict[str, Any] = {"state": "starting", "alarm": False}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        if port is not None:
            self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self.snapshot))
            threading.Thread(
                target=self._server.serve_forever, name="watch-status", daemon=True
            ).start()

    @property
    def port(self) -> int | None:
        return None if self._server is None else int(self._server.server_address[1])

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._status)

    def publish(self, status: dict[str, Any]) -> None:
        with self._lock:
            self._status = status
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".watch-status-")
            with os.fdopen(fd, "w") as out:
                json.dump(status, out, indent=2, sort_keys=True)
            os.replace(tmp, self.path)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _handler(snapshot: Callable[[], dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path not in ("/", "/status"):
                self.send_error(404)
                return
            status = snapshot()
            body = json.dumps(status, sort_keys=True).encode()
            self.send_response(503 if status.get("alarm") else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("status request: " + format, *args)

    return Handler
