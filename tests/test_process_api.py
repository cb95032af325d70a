"""/api/v1/process end to end: real webcam frames sealed in envelopes, through the whole app."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from faceproof.api.app import create_app
from faceproof.config import Settings
from faceproof.crypto.envelope import build_envelope
from faceproof.refid import parse_refid
from imaging import decode, empty_capture, encode, fit, load_rgb, video_frames
from reference_fields import ICAO_KEYS

pytestmark = pytest.mark.models

NO_LIVENESS = {"enableAs": False}


def seal(client: TestClient, images: list[bytes], **kw: Any) -> bytes:
    jwk = client.app.state.services.keystore.public_jwk()  # type: ignore[attr-defined]
    return build_envelope(images, jwk, **kw)


def post(client: TestClient, token: bytes, **form: str) -> Any:
    return client.post("/api/v1/process", files={"file": ("bdata", token)}, data=form)


def live_frame() -> bytes:
    return encode(video_frames()[3])


def test_capture_is_processed_in_the_documented_schema(face_app: TestClient) -> None:
    opts = {
        **NO_LIVENESS,
        "requiredTemplates": ["JPEG", "PNG", "ISO_19794_5"],
        "enableICAOChecks": True,
    }
    r = post(face_app, seal(face_app, [live_frame()], options=opts))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == 200 and body["message"] == "FEEDBACK_CAPTURED"
    assert parse_refid(body["refid"])[0] == "process"  # type: ignore[index]
    data = body["data"]
    assert (data["width"], data["height"], data["channels"]) == (640, 480, 3)
    assert data["resolution"] == "640x480x3" and data["bits_per_pixel"] == 8
    assert data["as_highest_security_level_reached"] is None  # liveness off in this capture
    q = data["quality"]
    assert q["eyes_status"] in ("OPEN", "CLOSED")
    assert (q["eyes_status"] == "OPEN") == (q["eyes_open_metric"] >= 10)
    assert 0 <= q["quality_metric"] <= 100 and isinstance(q["qc_passed"], bool)
    jpeg = decode(base64.b64decode(data["templates"]["JPEG"]))
    png = decode(base64.b64decode(data["templates"]["PNG"]))
    assert jpeg.shape == png.shape == (480, 640, 3)
    iso = base64.b64decode(data["templates"]["ISO_19794_5"])
    assert iso[:8] == b"FAC\x00" + b"010\x00"
    aligned = decode(base64.b64decode(data["aligned"]))
    assert aligned.shape[0] * 3 == aligned.shape[1] * 4  # token frontal 3:4
    icao = body["icao_data"]
    for key in ICAO_KEYS:
        assert key in icao
    assert icao["multiple_faces"] is False
    token = decode(base64.b64decode(icao["templates"]["JPEG"]))
    assert token.shape[0] * 3 == token.shape[1] * 4


def test_quality_block_can_be_turned_off(face_app: TestClient) -> None:
    r = post(face_app, seal(face_app, [live_frame()], options=NO_LIVENESS), enableQuality="false")
    assert r.status_code == 200, r.text
    assert "quality" not in r.json()["data"]
    assert "icao_data" not in r.json()  # not asked for


def test_wrong_resolution_is_901(face_app: TestClient, data_root: Path) -> None:
    portrait = load_rgb(data_root / "misc/other_faces/dlib__Tom_Cruise_avp_2014_4.jpg")
    r = post(face_app, seal(face_app, [encode(portrait)], options=NO_LIVENESS))
    assert r.status_code == 400
    assert r.json()["code"] == 901 and r.json()["message"] == "ERROR_WRONG_RESOLUTION"
    ok = post(face_app, seal(face_app, [encode(fit(portrait, 480, 640))], options=NO_LIVENESS))
    assert ok.status_code == 200, ok.text


def test_no_face_is_503(face_app: TestClient, data_root: Path) -> None:
    brick = fit(load_rgb(data_root / "misc/no_face/skimage__brick.png"), 640, 480)
    r = post(face_app, seal(face_app, [encode(brick)], options=NO_LIVENESS))
    assert r.status_code == 400 and r.json()["code"] == 503


def test_capture_without_usable_frame_is_507(face_app: TestClient) -> None:
    r = post(face_app, empty_capture(face_app))
    assert r.status_code == 400 and r.json()["code"] == 507
    broken = live_frame()[:2000]  # a truncated JPEG
    r = post(face_app, seal(face_app, [broken], options=NO_LIVENESS))
    assert r.status_code == 400 and r.json()["code"] == 507


def test_replay_tamper_and_expiry_through_the_api(face_app: TestClient) -> None:
    token = seal(face_app, [live_frame()], options=NO_LIVENESS)
    assert post(face_app, token).status_code == 200
    replay = post(face_app, token)
    assert replay.status_code == 400 and replay.json()["code"] == 601
    fresh = bytearray(seal(face_app, [live_frame()], options=NO_LIVENESS))
    fresh[-5] ^= 0x01
    tampered = post(face_app, bytes(fresh))
    assert tampered.json()["code"] == 601
    assert tampered.json()["description"] == replay.json()["description"]
    import time

    old = seal(
        face_app,
        [live_frame()],
        options=NO_LIVENESS,
        ts_ms=int(time.time() * 1000) - 10 * 60 * 1000,
    )
    expired = post(face_app, old)
    assert expired.status_code == 500 and expired.json()["code"] == 604


def test_background_removal_paints_the_background(face_app: TestClient) -> None:
    opts = {
        **NO_LIVENESS,
        "requiredTemplates": ["PNG"],
        "enableBackgroundRemoval": True,
        "backgroundColor": "#00FF00",
    }
    r = post(face_app, seal(face_app, [live_frame()], options=opts))
    assert r.status_code == 200, r.text
    out = decode(base64.b64decode(r.json()["data"]["templates"]["PNG"])).astype(int)
    original = video_frames()[3].astype(int)
    green = np.array([0, 255, 0])
    changed = np.abs(out - original).sum(axis=2) > 30
    is_green = np.abs(out - green).sum(axis=2) < 40
    assert is_green.mean() > 0.2  # a real share of the frame became background colour
    h, w = out.shape[:2]
    centre = (slice(h // 3, 2 * h // 3), slice(w // 3, 2 * w // 3))
    assert changed[centre].mean() < 0.3  # the face in the middle is kept
    for bad in ("", "00ff00", "#00ff0", "#00ff00ff", "#00000g"):
        opts["backgroundColor"] = bad
        r = post(face_app, seal(face_app, [live_frame()], options=opts))
        assert r.status_code == 400 and r.json()["code"] == 501, bad


def test_template_encryption_returns_encrypted_templates(
    make_settings: Callable[..., Settings], models_path: Path, data_root: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from faceproof.crypto.template_encryption import decrypt_template

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    app = create_app(
        make_settings(
            require_models=True,
            model_dir=models_path,
            template_encryption_enabled=True,
            template_encryption_key=pem,
        )
    )
    with TestClient(app) as c:
        opts = {**NO_LIVENESS, "requiredTemplates": ["JPEG"]}
        r = post(c, seal(c, [live_frame()], options=opts))
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert "templates" not in data
        enc = data["encrypted_templates"]["JPEG"]
        assert set(enc) == {"data", "key1", "key2"}
        jpeg = decrypt_template(enc, private)
        assert decode(jpeg).shape == (480, 640, 3)


def test_process_is_recorded_in_the_ledger(face_app: TestClient) -> None:
    r = post(
        face_app, seal(face_app, [live_frame()], options=NO_LIVENESS, device={"type": "desktop"})
    )
    refid = r.json()["refid"]
    ledger = face_app.app.state.services.ledger  # type: ignore[attr-defined]
    rows = [t for t in ledger.query(None, None) if t.refid == refid]
    assert len(rows) == 1
    row = rows[0]
    assert row.action == "process" and row.outcome == "FEEDBACK_CAPTURED"
    assert row.device_type == "desktop" and row.quality is not None
    assert "templates" not in json.dumps(row.quality)
