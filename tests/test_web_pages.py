"""The pages the server serves itself: the demo app and offline Swagger UI (no CDN)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from faceproof.api.routers import web


def test_demo_is_served_with_its_modules(client: TestClient) -> None:
    r = client.get("/demo", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/demo/"
    page = client.get("/demo/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for src in re.findall(r'(?:src|href)="(/demo/[^"]+)"', page.text):
        asset = client.get(src)
        assert asset.status_code == 200, src
    js = client.get("/demo/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert "/sdk/faceproof.js" in js.text


@pytest.mark.parametrize(
    "path",
    ["/demo/../pyproject.toml", "/demo/%2e%2e/pyproject.toml", "/demo/nope.js", "/demo/x.py"],
)
def test_demo_serves_nothing_outside_its_folder(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_no_page_loads_anything_from_another_host() -> None:
    for path in web.DEMO_DIR.rglob("*"):
        if path.suffix in {".html", ".js", ".css"}:
            assert not re.search(r"https?://(?!127\.0\.0\.1|localhost)", path.read_text()), path


@pytest.mark.skipif(
    not (web.SWAGGER_DIR / "swagger-ui-bundle.js").is_file(),
    reason="swagger-ui-dist not installed (npm ci in sdk/)",
)
def test_swagger_ui_is_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(u.startswith("/docs/assets/") for u in urls), urls
    assert "cdn" not in page.text.lower()
    for u in urls:
        assert client.get(u).status_code == 200, u
    assert client.get("/docs/assets/package.json").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200
