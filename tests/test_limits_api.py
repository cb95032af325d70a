"""Limits seen through the API: FACEPROOF_MAX_IMAGE_PIXELS on every endpoint that decodes a
client image, captures judged by their frame headers, and the health probe's ledger check.

The pixel limit is set to 1 Mpx and a real portrait is scaled to 1600×1200 (1.92 Mpx): every
endpoint must refuse it with its documented error, and the same request must pass the size
check when the limit is the default (so it is the limit, not the picture, that refuses).
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from faceproof.api.app import create_app
from faceproof.config import Settings
from faceproof.crypto.envelope import CapturePayload, Frame, build_envelope, new_nonce, seal

API = "/api/v1"
PORTRAIT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "misc" / "other_faces"


def _big_jpeg(data_root: Path) -> bytes:
    src = sorted(PORTRAIT.glob("*.jpg"))
    if not src:
        pytest.skip("no portrait in ../shared/data/misc/other_faces")
    buf = io.BytesIO()
    Image.open(src[0]).convert("RGB").resize((1600, 1200)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def limited(
    make_settings: Callable[..., Settings], models_path: Path, data_root: Path
) -> Iterator[TestClient]:
    app = create_app(
        make_settings(require_models=True, model_dir=models_path, max_image_pixels=1_000_000)
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _requests(img: bytes, small: bytes) -> dict[str, Callable[[TestClient], Any]]:
    match = {
        "image": {"template": _b64(img), "format": "JPEG"},
        "imageToVerifyAgainst": {"template": _b64(small), "format": "JPEG"},
        "level": "LOW",
    }
    return {
        "generate": lambda c: c.post(
            f"{API}/face/generateTemplateFromImage", json={"image": _b64(img)}
        ),
        "face/as": lambda c: c.post(
            f"{API}/face/as", data={"image": _b64(img), "threshold": "HIGH"}
        ),
        "matchWithSelfie": lambda c: c.post(f"{API}/matchWithSelfie", json=match),
        "matchWithPictureId": lambda c: c.post(f"{API}/matchWithPictureId", json=match),
        # picID is decoded before the capture is opened: any bytes do for the file here.
        "verifyWithPictureId": lambda c: c.post(
            f"{API}/verifyWithPictureId",
            files={"file": ("bdata", b"not-a-capture", "application/octet-stream")},
            data={"picID": _b64(img), "template": "JPEG", "level": "LOW"},
        ),
    }


# One answer for an image over the pixel limit on every endpoint (docs/api-decisions.md,
# "One error model"): 900 INVALID_IMAGE, the field named; this file's image is 1600×1200.
_OVER = (
    "Image dimensions exceed the supported maximum: 1600×1200 is over this server's limit of "
    "1,000,000 pixels"
)
EXPECTED = {
    "generate": (900, f"(/image) {_OVER}"),
    "face/as": (900, f"(/image) {_OVER}"),
    "matchWithSelfie": (900, f"(/image/template) {_OVER}"),
    "matchWithPictureId": (900, f"(/image/template) {_OVER}"),
    "verifyWithPictureId": (900, f"(/template) {_OVER}"),
}


def _small(img: bytes) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(img)).resize((640, 480)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_pixel_limit_is_read_by_every_endpoint(limited: TestClient, data_root: Path) -> None:
    img = _big_jpeg(data_root)
    for name, send in _requests(img, _small(img)).items():
        r = send(limited)
        body = r.json()
        assert r.status_code == 400, (name, r.text)
        code, start = EXPECTED[name]
        assert body["code"] == code and body["description"].startswith(start), (name, body)


def test_the_same_images_pass_the_size_check_at_the_default_limit(
    face_app: TestClient, data_root: Path
) -> None:
    img = _big_jpeg(data_root)
    for name, send in _requests(img, _small(img)).items():
        body = send(face_app).json()
        # Any answer but the size refusal: a face judged (200, 401, 510 quality, ...), or
        # for verifyWithPictureId the fake capture refused after picID was decoded (601).
        assert body["code"] not in (900, 504), (name, body)
        if name == "verifyWithPictureId":
            assert body["code"] == 601, body


def _token(client: TestClient, frames: list[bytes]) -> bytes:
    jwk = json.loads(client.post(f"{API}/pub_key").content)["jwk"]
    payload = CapturePayload(
        nonce=new_nonce(),
        ts=int(time.time() * 1000),
        frames=[Frame(jpeg=_b64(f), t=i * 100) for i, f in enumerate(frames)],
    )
    return seal(payload, jwk)


def _jpeg(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (120, 110, 100)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def test_a_capture_frame_of_another_size_is_901_before_decoding(client: TestClient) -> None:
    # The main frame is right; a later (challenge) frame declares 6320×6320. Refused from
    # the headers: 901, as for a main frame of the wrong size.
    token = _token(client, [_jpeg(640, 480), _jpeg(640, 480), _jpeg(6320, 6320)])
    r = client.post(f"{API}/process", files={"file": ("bdata", token, "application/octet-stream")})
    assert r.status_code == 400 and r.json()["code"] == 901


def test_a_capture_frame_whose_header_does_not_parse_is_507(client: TestClient) -> None:
    token = _token(client, [_jpeg(640, 480), b"\xff\xd8\xff" + b"\x00" * 64])
    r = client.post(f"{API}/process", files={"file": ("bdata", token, "application/octet-stream")})
    assert r.status_code == 400 and r.json()["code"] == 507


def test_challenge_frames_are_decoded_only_when_used(face_app: TestClient, data_root: Path) -> None:
    from faceproof.api.capture import open_capture

    services = face_app.app.state.services  # type: ignore[attr-defined]
    frame = _small(_big_jpeg(data_root))
    token = build_envelope([frame, frame, frame], services.keystore.public_jwk())
    capture = open_capture(services, token)
    assert capture.frames[0]._image is not None  # the main frame: always needed
    assert all(f._image is None for f in capture.frames[1:])
    assert (capture.frames[2].width, capture.frames[2].height) == (640, 480)  # header only
    assert capture.frames[2]._image is None
    assert capture.frames[2].rgb.shape == (480, 640, 3)


def test_health_reports_the_ledger(client: TestClient, tmp_path: Path) -> None:
    r = client.get(f"{API}/face_health")
    assert r.status_code == 200
    assert r.json()["status"] == "OK" and r.json()["ledger"] == "OK"
    ledger = client.app.state.services.ledger  # type: ignore[attr-defined]
    ledger.path.rename(tmp_path / "moved-away.sqlite3")  # e.g. deleted by a clean-up job
    r = client.get(f"{API}/face_health")
    body = r.json()
    assert r.status_code == 503
    assert body["status"] == "ERROR" and body["ledger"] == "ERROR"
    assert body["reason"] == "ledger file missing"
    assert {"refid", "version", "kid", "models", "uptime_s"} <= set(body)
