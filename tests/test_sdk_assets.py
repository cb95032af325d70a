"""The server side of the Face Web SDK: the browser model bundle and the /sdk assets."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from faceproof.api.routers import sdk_assets
from faceproof.models.bundle import parse_bundle
from faceproof.models.store import load_manifest

SDK = sdk_assets.sdk_dir()
STATIC_IMPORT = r"""^(?:import|export)\b[^;'"]*?from\s*['"]([^'"]+)['"]"""
HAS_NODE_MODULES = (SDK / "node_modules" / "@litertjs" / "core" / "dist" / "index.js").is_file()


def test_models_bundle_carries_the_pinned_browser_models(
    client: TestClient, models_path: Path
) -> None:
    r = client.post("/api/v1/models")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert len(r.content) <= 6 * 1024 * 1024  # budget: models bundle <= 6 MB
    manifest, files = parse_bundle(r.content)  # raises on any digest mismatch
    pinned = {m.name: m.sha256 for m in load_manifest().models}
    entries: list[dict[str, str]] = manifest["files"]  # type: ignore[assignment]
    roles = {e["name"]: e["role"] for e in entries}
    assert roles == {
        "face_detection_short_range.tflite": "face_detector",
        "face_landmark.tflite": "face_mesh",
    }
    for name, data in files.items():
        assert hashlib.sha256(data).hexdigest() == pinned[name]
        assert data == (models_path / name).read_bytes()
    # The SDK pins the same digests (sdk/src/bundle.js).
    sdk_bundle = (SDK / "src" / "bundle.js").read_text()
    for name in roles:
        assert pinned[name] in sdk_bundle


def test_sdk_entry_point_is_served_as_javascript(client: TestClient) -> None:
    r = client.get("/sdk/faceproof.js")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["access-control-allow-origin"] == "*"
    assert "export class FaceSDK" in r.text
    again = client.get("/sdk/faceproof.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    types = client.get("/sdk/types/faceproof.d.ts")
    assert types.status_code == 200 and "export declare class FaceSDK" in types.text


def test_every_sdk_module_import_resolves(client: TestClient) -> None:
    """Walks the relative imports from /sdk/faceproof.js: each is served (no bare specifier
    the browser could not resolve without an import map)."""
    seen: set[str] = set()
    todo = ["faceproof.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        r = client.get(f"/sdk/{name}")
        assert r.status_code == 200, name
        static = re.findall(STATIC_IMPORT, r.text, re.M)
        dynamic = re.findall(r"""\bimport\(\s*['"]([^'"]+)['"]\s*\)""", r.text)
        for spec in static + dynamic:
            assert spec.startswith("./"), f"{name} imports {spec!r}"
            todo.append(spec[2:])
    assert {"capture.js", "envelope.js", "blazeface.js", "runtime.js"} <= seen


def test_sdk_sources_name_no_cdn() -> None:
    for path in (SDK / "src").glob("*.js"):
        assert not re.search(r"https?://(?!localhost[/:])", path.read_text()), path


@pytest.mark.skipif(not HAS_NODE_MODULES, reason="sdk/node_modules not installed (npm ci)")
def test_litert_vendor_files_need_no_import_map(client: TestClient) -> None:
    core = client.get("/sdk/vendor/litertjs-core.js")
    assert core.status_code == 200
    assert core.headers["content-type"].startswith("text/javascript")
    assert core.headers["cache-control"] == sdk_assets.VENDOR_CACHE
    assert "@litertjs/wasm-utils" not in core.text
    assert '"./litertjs-wasm-utils.js"' in core.text
    assert "sourceMappingURL" not in core.text
    utils = client.get("/sdk/vendor/litertjs-wasm-utils.js")
    assert utils.status_code == 200 and "createWasmLib" in utils.text
    wasm = client.get("/sdk/wasm/litert_wasm_internal.wasm")
    assert wasm.status_code == 200
    assert wasm.headers["content-type"] == "application/wasm"
    assert wasm.content[:4] == b"\0asm"
    loader = client.get("/sdk/wasm/litert_wasm_internal.js")
    assert loader.status_code == 200 and loader.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "path",
    [
        "/sdk/../pyproject.toml",
        "/sdk/%2e%2e/pyproject.toml",
        "/sdk/nope.js",
        "/sdk/faceproof.py",
        "/sdk/.hidden.js",
        "/sdk/vendor/other.js",
        "/sdk/wasm/../package.json",
        "/sdk/wasm/evil.wasm",
        "/sdk/test/support/seal.mjs",
    ],
)
def test_sdk_serves_nothing_else(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404
