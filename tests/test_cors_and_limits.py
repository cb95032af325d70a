"""CORS for allow-listed browser origins, the OPTIONS preflight, and 413 for every oversized body.

The 413 tests send the body chunked (no Content-Length) to endpoints whose framework parsing
used to turn the interrupted read into a generic 400: through the ASGI app, and through a real
uvicorn server on a free port with httpx streaming a generator body.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from faceproof.api.app import create_app
from faceproof.api.middleware import CORS_ALLOW_HEADERS, CORS_MAX_AGE_S
from faceproof.config import Settings

API = "/api/v1"
GOOD = "https://app.bank.example"
EVIL = "https://evil.example"


@pytest.fixture
def lic(tmp_path: Path) -> Path:
    path = tmp_path / "lic_config.json"
    path.write_text(json.dumps({"face": {"url": "bank.example", "license": "OPEN"}}))
    return path


@pytest.fixture
def cors_client(make_settings: Callable[..., Settings], lic: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(server_config_path=lic, allowed_origins=""))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def ledger_rows(client: TestClient) -> list[object]:
    return list(client.app.state.services.ledger.query(None, None))  # type: ignore[attr-defined]


def preflight(client: TestClient, path: str, origin: str, **headers: str) -> httpx.Response:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,logapitrigger,requestid",
            **headers,
        },
    )


# -- CORS ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"{API}/process",
        f"{API}/secure/face/as",
        f"{API}/face/as",
        f"{API}/matchWithSelfie",
        f"{API}/matchWithPictureId",
        f"{API}/verifyWithPictureId",
        f"{API}/face/generateTemplateFromImage",
        f"{API}/challenge",
        f"{API}/pub_key",
        f"{API}/models",
        f"{API}/time",
    ],
)
def test_preflight_from_an_allowed_origin_on_every_api_path(
    cors_client: TestClient, path: str
) -> None:
    before = len(ledger_rows(cors_client))
    r = preflight(cors_client, path, GOOD)
    assert r.status_code == 204, r.text
    assert r.headers["access-control-allow-origin"] == GOOD  # the exact origin, never *
    assert "Origin" in r.headers["vary"]
    methods = {m.strip() for m in r.headers["access-control-allow-methods"].split(",")}
    assert {"POST", "OPTIONS"} <= methods
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "logapitrigger", "requestid"} <= allowed
    assert {h.lower() for h in CORS_ALLOW_HEADERS} <= allowed
    assert r.headers["access-control-max-age"] == str(CORS_MAX_AGE_S)
    assert "access-control-allow-credentials" not in r.headers
    assert len(ledger_rows(cors_client)) == before  # a preflight is not billed


def test_preflight_of_the_get_endpoint_names_get(cors_client: TestClient) -> None:
    r = cors_client.options(
        f"{API}/face_health",
        headers={"Origin": GOOD, "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code == 204
    assert "GET" in r.headers["access-control-allow-methods"]


def test_preflight_from_a_refused_origin_gets_the_documented_error(
    cors_client: TestClient,
) -> None:
    before = len(ledger_rows(cors_client))
    r = preflight(cors_client, f"{API}/process", EVIL)
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 501 and body["message"] == "ERROR_INVALID_JSON"
    assert "evil" not in json.dumps(body)
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-methods" not in r.headers
    assert len(ledger_rows(cors_client)) == before


def test_preflight_on_an_unknown_api_path_is_404(cors_client: TestClient) -> None:
    r = preflight(cors_client, f"{API}/nope", GOOD)
    assert r.status_code == 404 and r.json()["code"] == 404


def test_private_network_preflight_is_granted_to_allowed_origins_only(
    cors_client: TestClient,
) -> None:
    pna = {"Access-Control-Request-Private-Network": "true"}
    r = preflight(cors_client, f"{API}/time", GOOD, **pna)
    assert r.headers["access-control-allow-private-network"] == "true"
    r = preflight(cors_client, f"{API}/time", EVIL, **pna)
    assert "access-control-allow-private-network" not in r.headers


def test_extra_allowed_headers_come_from_the_setting(
    make_settings: Callable[..., Settings], lic: Path
) -> None:
    settings = make_settings(server_config_path=lic, cors_allow_headers="X-Tenant, X-Trace-Id")
    with TestClient(create_app(settings)) as c:
        r = preflight(c, f"{API}/time", GOOD)
        names = r.headers["access-control-allow-headers"].lower()
        assert "x-tenant" in names and "x-trace-id" in names and "requestid" in names


def test_bad_extra_header_setting_fails_at_start(make_settings: Callable[..., Settings]) -> None:
    from faceproof.config import ConfigError

    with pytest.raises(ConfigError, match="FACEPROOF_CORS_ALLOW_HEADERS"):
        make_settings(cors_allow_headers="X-Ok, not a header")


def test_real_post_from_an_allowed_origin_carries_cors_headers(cors_client: TestClient) -> None:
    r = cors_client.post(
        f"{API}/time",
        headers={"Origin": GOOD, "LogAPITrigger": "true", "requestID": "cors-1"},
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == GOOD
    assert "Origin" in r.headers["vary"]
    exposed = r.headers["access-control-expose-headers"]
    assert "X-Refid" in exposed and "Server-Timing" in exposed
    # An error answer to an allowed origin is readable by the page too.
    r = cors_client.post(f"{API}/matchWithSelfie", headers={"Origin": GOOD}, content=b"{not json")
    assert r.status_code == 400 and r.json()["code"] == 501
    assert r.headers["access-control-allow-origin"] == GOOD


def test_real_post_from_a_refused_origin_gets_the_error_and_no_grant(
    cors_client: TestClient,
) -> None:
    r = cors_client.post(f"{API}/time", headers={"Origin": EVIL})
    assert r.status_code == 400 and r.json()["code"] == 501
    assert "access-control-allow-origin" not in r.headers
    assert "Origin" in r.headers["vary"]


def test_no_origin_means_no_grant(cors_client: TestClient) -> None:
    # Server-to-server, or a Referer-only same-origin request: nothing to grant.
    for headers in ({}, {"Referer": "https://bank.example/page"}):
        r = cors_client.post(f"{API}/time", headers=headers)
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example@bank.example",
        "https://bank.example.",
        "https://bank.example/",
        "https://bank.example:0",
        "https://bank.example:99999",
        "ftp://bank.example",
    ],
)
def test_malformed_origins_are_refused_end_to_end(cors_client: TestClient, origin: str) -> None:
    r = cors_client.post(f"{API}/time", headers={"Origin": origin})
    assert r.status_code == 400 and r.json()["code"] == 501, origin
    assert "access-control-allow-origin" not in r.headers
    assert preflight(cors_client, f"{API}/time", origin).status_code == 400


# -- 413 without Content-Length ---------------------------------------------------------------


def chunks(total: int, size: int = 700) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b"x" * n


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        (f"{API}/face/as", "multipart/form-data; boundary=b0undary"),
        (f"{API}/process", "multipart/form-data; boundary=b0undary"),
        (f"{API}/matchWithSelfie", "application/json"),
        (f"{API}/face/generateTemplateFromImage", "application/json"),
        (f"{API}/time", "application/octet-stream"),
    ],
)
def test_chunked_oversized_body_is_413_on_real_endpoints(
    make_settings: Callable[..., Settings], path: str, content_type: str
) -> None:
    app = create_app(make_settings(max_upload_bytes=2000))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post(path, content=chunks(5000), headers={"Content-Type": content_type})
        assert "content-length" not in {k.lower() for k in r.request.headers}
        assert r.status_code == 413, r.text
        body = r.json()
        assert body["code"] == 501
        assert body["description"].startswith("Request body larger than 2000 bytes: ")
        assert r.headers["connection"] == "close" and r.headers["x-refid"]


def test_413_is_on_the_ledger_for_billed_endpoints_either_way(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings(max_upload_bytes=2000))
    with TestClient(app, raise_server_exceptions=False) as c:
        c.post(f"{API}/matchWithSelfie", content=chunks(5000))  # streamed
        c.post(f"{API}/matchWithSelfie", content=b"{" * 5000)  # declared
        rows = ledger_rows(c)
    assert [(r.code, r.http_status) for r in rows] == [(501, 413), (501, 413)]  # type: ignore[attr-defined]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(make_settings: Callable[..., Settings], lic: Path) -> Iterator[str]:
    """The app under a real uvicorn server (HTTP/1.1 chunked transfer, real sockets)."""
    import uvicorn

    app = create_app(make_settings(max_upload_bytes=4000, server_config_path=lic))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_chunked_oversized_body_is_413_through_a_real_server(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=10) as http:
        r = http.post(
            f"{API}/face/as",
            content=chunks(12_000),
            headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
        )
        assert r.request.headers.get("transfer-encoding") == "chunked"
        assert r.status_code == 413, r.text
        assert r.json()["code"] == 501
        # Under the limit, chunked, the request is parsed normally (and answered by the
        # endpoint: here a schema error, not a size error).
        r = http.post(f"{API}/matchWithSelfie", content=chunks(1000))
        assert r.status_code == 400 and r.json()["code"] == 501


def test_cors_through_a_real_server(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=10) as http:
        r = http.options(
            f"{API}/process",
            headers={"Origin": GOOD, "Access-Control-Request-Method": "POST"},
        )
        assert r.status_code == 204 and r.headers["access-control-allow-origin"] == GOOD
        r = http.post(f"{API}/time", headers={"Origin": GOOD, "requestID": "r-1"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == GOOD
