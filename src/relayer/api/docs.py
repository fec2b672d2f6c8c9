"""The API's documentation pages, served from the installed packages, with no CDN: Swagger UI at
`/docs` and ReDoc at `/redoc`, both reading `/openapi.json`.

The viewers' files come from the `fastapi-offline` package (pinned; used only for its static
files) and are served under `/docs-assets/`. The pages run under a Content-Security-Policy that,
like the member page's, allows scripts, requests, images and fonts from this origin only, and no
inline script (Swagger UI is started by a file of ours). Unlike the member page's it allows
inline styles: both viewers set styles from script (ReDoc injects style elements), and a style
cannot run code. ReDoc's search runs in a worker it starts from a `blob:` URL. ReDoc's bundle
names one file on another origin, its footer's logo: it is served with that address replaced by
this origin's icon, so the page asks nothing of any other host.
"""

from functools import cache
from pathlib import Path
from typing import Annotated

import fastapi_offline
from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response

from relayer.errors import NotFound

VIEWER_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
OWN_DIR = Path(__file__).resolve().parents[1] / "web" / "docs"
#: Every file the pages may load, and where it is.
ASSETS = {
    "swagger-ui-bundle.js": VIEWER_DIR,
    "swagger-ui.css": VIEWER_DIR,
    "redoc.standalone.js": VIEWER_DIR,
    "favicon.png": VIEWER_DIR,
    "swagger-init.js": OWN_DIR,
}
#: Addresses on other origins in the viewers' files, and what they are served with instead.
REWRITES = {
    "redoc.standalone.js": [
        (b"https://cdn.redoc.ly/redoc/logo-mini.svg", b"/docs-assets/favicon.png"),
    ],
}
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title} - API docs</title>
<link rel="icon" href="/docs-assets/favicon.png">
<link rel="stylesheet" href="/docs-assets/swagger-ui.css">
</head><body>
<div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/docs-assets/swagger-init.js"></script>
</body></html>
"""

REDOC_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title} - API reference</title>
<link rel="icon" href="/docs-assets/favicon.png">
</head><body>
<redoc spec-url="/openapi.json"></redoc>
<script src="/docs-assets/redoc.standalone.js"></script>
</body></html>
"""


@cache
def _rewritten(name: str) -> bytes:
    content = (ASSETS[name] / name).read_bytes()
    for old, new in REWRITES[name]:
        content = content.replace(old, new)
    return content


def router(title: str) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/docs", response_class=HTMLResponse)
    def swagger() -> HTMLResponse:
        return HTMLResponse(SWAGGER_PAGE.format(title=title), headers=HEADERS)

    @routes.get("/redoc", response_class=HTMLResponse)
    def redoc() -> HTMLResponse:
        return HTMLResponse(REDOC_PAGE.format(title=title), headers=HEADERS)

    @routes.get("/docs-assets/{name}")
    def asset(name: Annotated[str, PathParam(max_length=64)]) -> Response:
        folder = ASSETS.get(name)
        if folder is None or not (folder / name).is_file():
            raise NotFound(f"no documentation asset {name!r}")
        headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
        if name in REWRITES:
            return Response(_rewritten(name), media_type="text/javascript", headers=headers)
        return FileResponse(folder / name, headers=headers)

    return routes
