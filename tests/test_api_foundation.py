"""The HTTP foundation: utility endpoints, error bodies, origin allow-list, logging, ledger."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from faceproof.api.app import create_app
from faceproof.config import Settings
from faceproof.models.bundle import parse_bundle
from faceproof.refid import parse_refid


def test_health_reports_ok_version_and_key(client: TestClient) -> None:
    r = client.get("/api/v1/face_health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "OK"
    assert body["kid"] == client.app.state.services.keystore.current_kid  # type: ignore[attr-defined]
    assert parse_refid(body["refid"]) is not None
    assert body["version"]


def test_pub_key_is_webcrypto_importable_jwk(client: TestClient) -> None:
    r = client.post("/api/v1/pub_key")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    body = json.loads(r.content)
    jwk = body["jwk"]
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RSA-OAEP-256" and jwk["use"] == "enc"
    assert body["kid"] == jwk["kid"]
    assert "d" not in jwk and "p" not in jwk  # never the private part
    import base64

    from cryptography.hazmat.primitives.serialization import load_der_public_key

    key = load_der_public_key(base64.b64decode(body["spki"]))
    assert key.key_size >= 3072  # type: ignore[attr-defined]


def test_models_bundle_is_well_formed(client: TestClient) -> None:
    r = client.post("/api/v1/models")
    assert r.status_code == 200
    manifest, files = parse_bundle(r.content)
    assert manifest["format"] == "faceproof-model-bundle"
    assert set(files) == {f["name"] for f in manifest["files"]}  # type: ignore[index,union-attr]


def test_time_is_server_epoch_ms(client: TestClient) -> None:
    import time

    before = int(time.time() * 1000)
    r = client.post("/api/v1/time")
    after = int(time.time() * 1000)
    assert before <= json.loads(r.content)["epoch_ms"] <= after


def test_every_response_carries_a_refid_for_its_action(client: TestClient) -> None:
    r = client.post("/api/v1/time")
    parsed = parse_refid(r.headers["X-Refid"])
    assert parsed is not None and parsed[0] == "time"


def test_every_response_carries_server_timing(client: TestClient) -> None:
    import re

    for r in (client.post("/api/v1/time"), client.get("/api/v1/nope")):
        m = re.fullmatch(r"app;dur=(\d+\.\d\d), cpu;dur=(\d+\.\d\d)", r.headers["Server-Timing"])
        assert m is not None, r.headers["Server-Timing"]
        assert float(m.group(1)) >= 0 and float(m.group(2)) >= 0


def test_unknown_path_and_method_use_the_error_body(client: TestClient) -> None:
    r = client.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.json()["code"] == 404 and "refid" in r.json()
    r = client.get("/api/v1/time")
    assert r.status_code == 405
    assert r.json()["code"] == 405


def test_oversized_body_is_refused_with_413(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(max_upload_bytes=1000))
    with TestClient(app) as c:
        r = c.post("/api/v1/time", content=b"x" * 5000)
        assert r.status_code == 413
        assert r.json()["code"] == 501


def test_oversized_chunked_body_is_refused(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(max_upload_bytes=1000))
    seen: list[int] = []

    @app.post("/api/v1/test-body")
    async def _read(request: Request) -> dict[str, int]:
        seen.append(len(await request.body()))
        return {"n": seen[-1]}

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 500

    with TestClient(app) as c:
        r = c.post("/api/v1/test-body", content=chunks())
        assert r.status_code == 413, r.text
        assert r.json()["code"] == 501
        assert seen == []  # the handler never saw a truncated body
        assert c.post("/api/v1/test-body", content=b"z" * 900).json() == {"n": 900}


@pytest.fixture
def lic_client(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[TestClient]:
    lic = tmp_path / "lic_config.json"
    lic.write_text(json.dumps({"face": {"url": "bank.example", "license": ""}}))
    app = create_app(make_settings(server_config_path=lic, allowed_origins=""))
    with TestClient(app) as c:
        yield c


def test_origin_allow_list(lic_client: TestClient) -> None:
    ok = lic_client.post("/api/v1/time", headers={"Origin": "https://bank.example"})
    assert ok.status_code == 200
    ok_sub = lic_client.post("/api/v1/time", headers={"Referer": "https://app.bank.example/x"})
    assert ok_sub.status_code == 200
    bad = lic_client.post("/api/v1/time", headers={"Origin": "https://evil-bank.example"})
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == 501 and body["message"] == "ERROR_INVALID_JSON"
    assert "evil" not in json.dumps(body)  # never echo the caller's data
    # Server-to-server (no Origin/Referer) is accepted by default.
    assert lic_client.post("/api/v1/time").status_code == 200


def test_requests_without_origin_can_be_refused(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    lic = tmp_path / "lic_config.json"
    lic.write_text(json.dumps({"face": {"url": "bank.example", "license": ""}}))
    app = create_app(make_settings(server_config_path=lic, allow_no_origin=False))
    with TestClient(app) as c:
        assert c.post("/api/v1/time").status_code == 400
        assert c.post("/api/v1/time", headers={"Origin": "https://bank.example"}).status_code == 200


def test_log_api_trigger_writes_one_json_line_without_payload(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    """One line per request, the access line, with the session id the reference asks to log
    (requestID) and the answer's code; never the body. No second line for LogAPITrigger."""
    secret = "c2VjcmV0LWltYWdlLWJ5dGVz"
    r = client.post(
        "/api/v1/time",
        headers={"LogAPITrigger": "true", "requestID": "session-42"},
        content=secret.encode(),
    )
    err = capfd.readouterr().err
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    mine = [x for x in lines if r.headers["X-Refid"] in json.dumps(x)]
    assert len(mine) == 1, mine
    line = mine[0]
    assert line["event"] == "access" and line["requestID"] == "session-42"
    assert line["path"] == "/api/v1/time" and line["status"] == 200
    assert line["code"] == 200 and isinstance(line["outcome"], str)
    assert secret not in err


def test_no_request_id_no_request_id_field(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("faceproof").setLevel(logging.INFO)
    r = client.post("/api/v1/time")
    err = capfd.readouterr().err
    mine = [json.loads(x) for x in err.splitlines() if r.headers["X-Refid"] in x]
    assert len(mine) == 1 and "requestID" not in mine[0]


def test_openapi_lists_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {
        "/api/v1/pub_key",
        "/api/v1/models",
        "/api/v1/time",
        "/api/v1/face_health",
        "/api/v1/process",
        "/api/v1/face/generateTemplateFromImage",
        "/api/v1/face/as",
        "/api/v1/secure/face/as",
        "/api/v1/challenge",
        "/api/v1/matchWithSelfie",
        "/api/v1/matchWithPictureId",
        "/api/v1/verifyWithPictureId",
    } <= paths
    # Multipart endpoints are documented as multipart (the reference's content type).
    for path in (
        "/api/v1/process",
        "/api/v1/face/as",
        "/api/v1/secure/face/as",
        "/api/v1/verifyWithPictureId",
    ):
        assert list(spec["paths"][path]["post"]["requestBody"]["content"]) == [
            "multipart/form-data"
        ], path
    # Validation failures are answered 400 with code 501, never 422: the document says so.
    assert '"422"' not in json.dumps(spec)
    assert client.get("/docs").status_code == 200


def test_billed_request_is_not_acknowledged_when_the_ledger_write_fails(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = client.app.state.services.ledger  # type: ignore[attr-defined]
    url = "/api/v1/matchWithSelfie"
    assert client.post(url, content=b"{").json()["code"] == 501  # recorded normally

    def broken(_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(ledger, "record", broken)
    r = client.post(url, content=b"{")
    assert r.status_code == 500 and r.json()["code"] == 500
    assert "disk" not in r.text
    assert r.headers["X-Refid"] == r.json()["refid"]
