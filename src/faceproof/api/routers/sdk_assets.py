"""The Face Web SDK and its runtime, served by faceproof itself (never from a CDN).

Layout under ``/sdk/`` (docs/sdk.md):

* ``/sdk/faceproof.js`` and its sibling modules: ``sdk/src/`` as committed;
* ``/sdk/vendor/litertjs-core.js``, ``/sdk/vendor/litertjs-wasm-utils.js``: the pinned
  ``@litertjs/*`` npm packages from ``sdk/node_modules``. LiteRT.js imports the bare specifier
  ``@litertjs/wasm-utils``, which a browser resolves only through an import map, and an SDK
  loaded by an integrator's page cannot count on the page's import map; so the core file is
  served with that one specifier rewritten to its sibling path (checked: exactly one);
* ``/sdk/wasm/*``: LiteRT's wasm loaders and binaries (``application/wasm``).

Everything here is public code: it is answered with ``Access-Control-Allow-Origin: *`` (the
LiteRT loader injects its script with ``crossorigin="anonymous"``) and an ETag. SDK modules
revalidate on every load (their path carries no version); vendor files, which only change
with the pinned package version, are cached for a day.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

router = APIRouter(prefix="/sdk", tags=["sdk"])

_MIME = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".ts": "text/plain; charset=utf-8",
    ".json": "application/json",
}
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_WASM_FILES = re.compile(r"^litert_wasm(_compat|_threaded|_jspi)?_internal\.(js|wasm)$")
_BARE = '"@litertjs/wasm-utils"'
SDK_CACHE = "no-cache"
VENDOR_CACHE = "public, max-age=86400"


def sdk_dir() -> Path:
    """``FACEPROOF_SDK_DIR`` or the repository's ``sdk/`` (editable install)."""
    env = os.environ.get("FACEPROOF_SDK_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[4] / "sdk"


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str


def _asset(body: bytes, suffix: str) -> _Asset:
    return _Asset(body, _MIME[suffix], '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def _read(path: Path) -> _Asset | None:
    try:
        return _asset(path.read_bytes(), path.suffix) if path.is_file() else None
    except OSError:
        return None


@lru_cache(maxsize=8)
def _vendor(root: Path, name: str) -> _Asset | None:
    modules = root / "node_modules" / "@litertjs"
    if name == "litertjs-wasm-utils.js":
        src = modules / "wasm-utils" / "dist" / "index.js"
    elif name == "litertjs-core.js":
        src = modules / "core" / "dist" / "index.js"
    else:
        return None
    if not src.is_file():
        return None
    text = src.read_text(encoding="utf-8")
    if name == "litertjs-core.js":
        if text.count(_BARE) != 1:
            raise RuntimeError("@litertjs/core no longer imports wasm-utils exactly once")
        text = text.replace(_BARE, '"./litertjs-wasm-utils.js"')
    # Source maps are not served; drop the dangling reference.
    text = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", text)
    return _asset(text.encode(), ".js")


def _respond(request: Request, asset: _Asset | None, cache: str) -> Response:
    if asset is None:
        return Response(b"Not Found", status_code=404, media_type="text/plain")
    headers = {
        "ETag": asset.etag,
        "Cache-Control": cache,
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/vendor/{name}", include_in_schema=False)
def vendor(name: str, request: Request) -> Response:
    return _respond(request, _vendor(sdk_dir(), name), VENDOR_CACHE)


@router.get("/wasm/{name}", include_in_schema=False)
def wasm(name: str, request: Request) -> Response:
    if not _WASM_FILES.match(name):
        return _respond(request, None, VENDOR_CACHE)
    path = sdk_dir() / "node_modules" / "@litertjs" / "core" / "wasm" / name
    return _respond(request, _cached_file(path, _mtime(path)), VENDOR_CACHE)


@router.get("/types/faceproof.d.ts", include_in_schema=False)
def types(request: Request) -> Response:
    path = sdk_dir() / "types" / "faceproof.d.ts"
    return _respond(request, _read(path), SDK_CACHE)


@router.get("/{name}", include_in_schema=False)
def module(name: str, request: Request) -> Response:
    """``/sdk/faceproof.js`` and the other SDK modules (flat ``sdk/src/*.js``)."""
    if not _NAME.match(name) or not name.endswith(".js"):
        return _respond(request, None, SDK_CACHE)
    return _respond(request, _read(sdk_dir() / "src" / name), SDK_CACHE)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


@lru_cache(maxsize=4)
def _cached_file(path: Path, mtime: float) -> _Asset | None:
    """Wasm binaries are ~9 MB: hashed once per file version, not per request."""
    return _read(path) if mtime >= 0 else None
