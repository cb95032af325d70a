"""Every documented error code is reachable through the HTTP API, in the documented body.

One trigger per code, each a real request (no handler is called directly). Codes whose
trigger needs a specific stage are also covered in that stage's tests; here they are
gathered so the catalogue in faceproof.errors can be checked as a whole.
"""

from __future__ import annotations

import base64
import json
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from faceproof.api.app import create_app
from faceproof.crypto.envelope import build_envelope
from faceproof.errors import catalogue
from imaging import empty_capture, encode, fit, load_rgb, video_frames

DOCUMENTED = {401, 404, 500, 501, 503, 504, 505, 506, 507, 509, 510, 601, 604, 900, 901}


@pytest.fixture(scope="module")
def app_client(
    tmp_path_factory: pytest.TempPathFactory, models_available: Path
) -> Iterator[TestClient]:
    from faceproof.config import load_settings

    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("data"), model_dir=models_available, require_models=True
    )
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def models_available() -> Path:
    from conftest import model_dir

    path = model_dir()
    if not (path / "face_detection_short_range.tflite").is_file():
        pytest.skip("model store is empty: run `faceproof models fetch`")
    return path


def _seal(c: TestClient, images: list[bytes], **kw: Any) -> bytes:
    return build_envelope(images, c.app.state.services.keystore.public_jwk(), **kw)  # type: ignore[attr-defined]


def _process(c: TestClient, token: bytes) -> Any:
    return c.post("/api/v1/process", files={"file": ("bdata", token)})


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


GEN = "/api/v1/face/generateTemplateFromImage"
NO_AS = {"enableAs": False}
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def t401(c: TestClient) -> Any:
    # A real phone-replay attack filmed by a webcam, sent as an SDK capture with the default
    # liveness level: refused with FEEDBACK_RETRY, the capture and the quality flag.
    replay = video_frames(DATA / "video/apfol__fake2__replay_attack_phone.webm", 15, 1)[0]
    r = _process(c, _seal(c, [encode(replay)]))
    body = r.json()
    assert body["message"] == "FEEDBACK_RETRY" and isinstance(body["quality"], bool)
    assert body["data"]["image"]
    return r


def t404(c: TestClient) -> Any:
    return c.post("/api/v1/noSuchEndpoint")


def t500(c: TestClient) -> Any:
    engine = c.app.state.services.face  # type: ignore[attr-defined]
    original = engine.find_faces

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret-detail-that-must-not-leak")

    engine.find_faces = broken
    try:
        return c.post(GEN, json={"image": base64.b64encode(encode(video_frames()[0])).decode()})
    finally:
        engine.find_faces = original


def t501(c: TestClient) -> Any:
    return c.post(GEN, content=b"{not json", headers={"content-type": "application/json"})


def t503(c: TestClient) -> Any:
    brick = base64.b64encode((DATA / "misc/no_face/skimage__brick.png").read_bytes()).decode()
    return c.post(GEN, json={"image": brick, "qualityMode": "ENROL"})


def t504(c: TestClient) -> Any:
    return c.post(GEN, json={"image": base64.b64encode(b"GIF89a not really").decode()})


def t505(c: TestClient) -> Any:
    frame = base64.b64encode(encode(video_frames()[0])).decode()
    image = {"template": frame, "format": "JPEG"}
    return c.post(
        "/api/v1/matchWithSelfie",
        json={"image": image, "imageToVerifyAgainst": image, "level": "EXTREME"},
    )


def t506(c: TestClient) -> Any:
    frame = base64.b64encode(encode(video_frames()[0])).decode()
    return c.post("/api/v1/face/as", data={"image": frame, "threshold": "SUPER_HIGH"})


def t507(c: TestClient) -> Any:
    return _process(c, empty_capture(c))


def t509(c: TestClient) -> Any:
    group = DATA / "misc/multi_face/face_recognition__obama_and_biden.jpg"
    return c.post(GEN, json={"image": base64.b64encode(group.read_bytes()).decode()})


def t510(c: TestClient) -> Any:
    portrait = load_rgb(DATA / "misc/other_faces/dlib__Tom_Cruise_avp_2014_4.jpg")
    tiny = base64.b64encode(encode(fit(portrait, 120, 160))).decode()
    return c.post(GEN, json={"image": tiny, "qualityMode": "ENROL"})


def t601(c: TestClient) -> Any:
    return _process(c, b"eyJhbGciOiJSU0EtT0FFUC0yNTYifQ.a.b.c.d")


def t604(c: TestClient) -> Any:
    old = int(time.time() * 1000) - 3 * 60 * 1000
    return _process(c, _seal(c, [encode(video_frames()[0])], options=NO_AS, ts_ms=old))


def t900(c: TestClient) -> Any:
    bomb = base64.b64encode(_png_declaring(60_000, 60_000)).decode()
    return c.post(GEN, json={"image": bomb})


def t901(c: TestClient) -> Any:
    return _process(c, _seal(c, [encode(fit(video_frames()[0], 320, 240))], options=NO_AS))


TRIGGERS: dict[int, tuple[Callable[[TestClient], Any], int]] = {
    401: (t401, 400),
    404: (t404, 404),
    500: (t500, 500),
    501: (t501, 400),
    503: (t503, 400),
    504: (t504, 400),
    505: (t505, 400),
    506: (t506, 400),
    507: (t507, 400),
    509: (t509, 400),
    510: (t510, 400),
    601: (t601, 400),
    604: (t604, 500),
    900: (t900, 400),
    901: (t901, 400),
}


def test_catalogue_names_every_documented_code() -> None:
    assert {k.code for k in catalogue()} >= DOCUMENTED
    assert set(TRIGGERS) == DOCUMENTED


@pytest.mark.models
@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_code_is_reachable_in_the_documented_body(
    app_client: TestClient, data_root: Path, code: int
) -> None:
    trigger, http_status = TRIGGERS[code]
    r = trigger(app_client)
    assert r.status_code == http_status, r.text
    body = r.json()
    assert body["code"] == code
    assert body.get("message") or body.get("feedbackCode")
    assert body["refid"].startswith("W-face-")
    assert isinstance(body["description"], str)
    text = json.dumps(body)
    assert "Traceback" not in text and "secret-detail" not in text
