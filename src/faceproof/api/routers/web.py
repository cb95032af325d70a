"""Browser pages served by the server itself: the demo app (``/demo``) and Swagger UI
(``/docs``), both working offline.

The demo is static files from the repository's ``demo/`` folder (plain ES modules that import
the SDK from ``/sdk/faceproof.js``). Swagger UI's assets come from npm's ``swagger-ui-dist``
as installed by ``npm ci`` in ``sdk/`` (pinned in ``sdk/package-lock.json``), never from a CDN.
ReDoc is not served (``/redoc`` answers 404): it would be a second copy of the same document
needing its own npm package. When the files are missing (a server installed without the
repository's web assets) these pages answer 404 with a one-line reason instead of failing.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse

router = APIRouter(include_in_schema=False)

_REPO = Path(__file__).resolve().parents[4]
DEMO_DIR = _REPO / "demo"
SWAGGER_DIR = _REPO / "sdk" / "node_modules" / "swagger-ui-dist"
# Only what the Swagger UI page loads.
SWAGGER_ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# Pages change with the code; let the browser revalidate instead of running stale modules.
_NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def _file(root: Path, rel: str) -> FileResponse:
    """A file strictly inside ``root`` with a known type; anything else is a 404."""
    base = root.resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base) or not path.is_file() or path.suffix not in _TYPES:
        raise HTTPException(404, "Not Found")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers=_NO_CACHE)


def _missing(what: str, fix: str) -> PlainTextResponse:
    return PlainTextResponse(f"{what} is not installed on this server: {fix}\n", status_code=404)


@router.get("/demo")
def demo_root() -> RedirectResponse:
    return RedirectResponse("/demo/", status_code=307)


@router.get("/demo/", response_model=None)
def demo_index() -> FileResponse | PlainTextResponse:
    if not (DEMO_DIR / "index.html").is_file():
        return _missing("The demo app", f"{DEMO_DIR} has no index.html")
    return _file(DEMO_DIR, "index.html")


@router.get("/demo/{rel:path}")
def demo_file(rel: str) -> FileResponse:
    return _file(DEMO_DIR, rel)


@router.get("/docs", response_model=None)
def swagger_ui() -> HTMLResponse | PlainTextResponse:
    if not (SWAGGER_DIR / "swagger-ui-bundle.js").is_file():
        return _missing("Swagger UI", "run `npm ci --ignore-scripts` in sdk/ (scripts/install.sh)")
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="faceproof API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon-32x32.png",
    )


@router.get("/docs/assets/{name}")
def swagger_asset(name: str) -> FileResponse:
    if name not in SWAGGER_ASSETS:
        raise HTTPException(404, "Not Found")
    return _file(SWAGGER_DIR, name)
