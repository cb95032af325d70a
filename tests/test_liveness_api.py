"""Liveness endpoints end to end with real images: /face/as, /secure/face/as and the
documented error paths."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from faceproof.config import Settings
from faceproof.crypto.envelope import build_envelope
from faceproof.liveness.levels import LEVELS
from imaging import DATA, LIVE_VIDEO, encode, fit, load_rgb, video_frames

pytestmark = pytest.mark.models

PAD = DATA / "pad"
LIVE = PAD / "live" / "silentface__image_T1.jpg"  # full-frame selfie (Apache-2.0 source)
PRINT = PAD / "spoof" / "print_photo" / "silentface__image_F1.jpg"  # full frame, printed photo
TABLET = PAD / "spoof" / "replay_screen" / "silentface__image_F2.jpg"  # full frame, tablet
TIGHT_CROP = PAD / "spoof" / "replay_screen_crop" / "apfol__100.png"  # detector crop, no context
REPLAY_VIDEO = DATA / "video" / "apfol__fake2__replay_attack_phone.webm"  # 640×480 phone replay
NO_FACE = DATA / "misc" / "no_face" / "skimage__brick.png"


def face_as(client: TestClient, image: bytes | str, threshold: str | None) -> Any:
    data = {"image": image if isinstance(image, str) else base64.b64encode(image).decode()}
    if threshold is not None:
        data["threshold"] = threshold
    return client.post("/api/v1/face/as", data=data)


def _need(path: Path) -> bytes:
    if not path.is_file():
        pytest.skip(f"{path.name} not present")
    return path.read_bytes()


def test_live_image_passes_at_low(face_app: TestClient) -> None:
    raw = _need(LIVE)
    r = face_as(face_app, raw, "LOW")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "as_highest_security_level_reached",
        "is_spoof",
        "score",
        "error",
        "refid",
    }  # no `input` echo by default (FACEPROOF_ECHO_INPUT_IMAGE; tests/test_error_model.py)
    assert body["is_spoof"] is False and body["error"] == 0
    assert body["as_highest_security_level_reached"] in LEVELS
    assert 0.0 <= body["score"] <= 1.0
    assert body["refid"].startswith("W-face-antispoof-")


@pytest.mark.parametrize("path", [PRINT, TABLET], ids=["print", "tablet"])
def test_full_frame_attacks_are_refused_at_the_default_level(
    face_app: TestClient, path: Path
) -> None:
    r = face_as(face_app, _need(path), "BALANCED_VERY_HIGH")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["is_spoof"] is True
    level = body["as_highest_security_level_reached"]
    assert level is None or LEVELS.index(level) < LEVELS.index("BALANCED_VERY_HIGH")


def test_a_tight_face_crop_is_not_judged(face_app: TestClient) -> None:
    """Too little context for the MiniFASNet pair: 401 FEEDBACK_RETRY, quality false, and a
    message that says what to send instead (docs/liveness.md)."""
    r = face_as(face_app, _need(TIGHT_CROP), "LOW")
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == 401 and body["message"] == "FEEDBACK_RETRY"
    assert body["quality"] is False
    assert "whole camera frame" in body["description"]
    assert body["data"]["image"]


def test_level_reached_is_independent_of_the_level_asked(face_app: TestClient) -> None:
    raw = _need(LIVE)
    low, highest = (
        face_as(face_app, raw, "LOW").json(),
        face_as(face_app, raw, "HIGHEST").json(),
    )
    assert low["as_highest_security_level_reached"] == highest["as_highest_security_level_reached"]
    assert low["score"] == highest["score"]
    reached = low["as_highest_security_level_reached"]
    assert highest["is_spoof"] == (reached != "HIGHEST")


@pytest.fixture
def unlimited_app(
    make_settings: Callable[..., Settings], models_path: Path, data_root: Path
) -> Iterator[TestClient]:
    """The whole app with the failed-attempt limit off: a test that sends six spoofs from one
    client on purpose would otherwise get 429 from the sixth (test_abuse_limits.py)."""
    from faceproof.api.app import create_app

    settings = make_settings(require_models=True, model_dir=models_path, abuse_failures=0)
    with TestClient(create_app(settings)) as c:
        yield c


def test_webcam_frames_are_classified_as_labelled(unlimited_app: TestClient) -> None:
    """640×480 frames of the live and the phone-replay webcam clips (frames the API judges;
    not calibration data: the levels come from ../shared/data/pad)."""
    if not LIVE_VIDEO.is_file() or not REPLAY_VIDEO.is_file():
        pytest.skip("videos not present")
    face_app = unlimited_app
    lives = [encode(f) for f in video_frames(LIVE_VIDEO, step=30, limit=6)]
    replays = [encode(f) for f in video_frames(REPLAY_VIDEO, step=30, limit=6)]
    live_ok = [not face_as(face_app, f, "LOW").json()["is_spoof"] for f in lives]
    caught = [face_as(face_app, f, "BALANCED_VERY_HIGH").json()["is_spoof"] for f in replays]
    assert sum(live_ok) >= 5, live_ok
    assert all(caught), caught


@pytest.mark.parametrize(
    ("threshold", "code", "description"),
    [
        ("NONE", 501, "(/threshold) AS level can not be NONE"),
        ("none", 501, "(/threshold) AS level can not be NONE"),
        ("ULTRA", 506, "(/threshold) AS level not supported: use one of "),
        ("", 501, "(/threshold) is required: "),  # an empty form field is "missing"
    ],
)
def test_threshold_errors(
    face_app: TestClient, threshold: str, code: int, description: str | None
) -> None:
    r = face_as(face_app, b"not even an image", threshold)
    body = r.json()
    assert r.status_code == 400 and body["code"] == code
    assert body["description"].startswith(description)


def test_missing_threshold_is_a_schema_error(face_app: TestClient) -> None:
    r = face_as(face_app, _need(LIVE), None)
    assert r.status_code == 400 and r.json()["code"] == 501


def test_undecodable_image_is_504(face_app: TestClient) -> None:
    r = face_as(face_app, base64.b64encode(b"GIF89a....").decode(), "LOW")
    assert r.status_code == 400 and r.json()["code"] == 504
    r = face_as(face_app, "%%% not base64 %%%", "LOW")
    assert r.json()["code"] == 504


def test_image_without_face_is_503(face_app: TestClient) -> None:
    r = face_as(face_app, _need(NO_FACE), "LOW")
    assert r.status_code == 400 and r.json()["code"] == 503


# -- /secure/face/as --------------------------------------------------------------------------
def seal(client: TestClient, images: list[bytes], **kw: Any) -> bytes:
    jwk = client.app.state.services.keystore.public_jwk()  # type: ignore[attr-defined]
    return build_envelope(images, jwk, **kw)


def secure(client: TestClient, token: bytes) -> Any:
    return client.post("/api/v1/secure/face/as", files={"file": ("bdata", token)})


def webcam_frame() -> bytes:
    if not LIVE_VIDEO.is_file():
        pytest.skip("live video not present")
    return encode(video_frames()[3])


def test_secure_capture_answers_in_the_documented_schema(face_app: TestClient) -> None:
    frame = webcam_frame()
    r = secure(face_app, seal(face_app, [frame], options={"asThreshold": "LOW"}))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "as_highest_security_level_reached",
        "is_spoof",
        "score",
        "error",
        "refid",
        "liveness",  # additive (challenge protocol §4), FACEPROOF_LIVENESS_DETAILS
    }
    assert body["is_spoof"] is False
    assert body["liveness"]["decision"] == "live" and body["liveness"]["challenge"] is None


def test_secure_capture_threshold_errors(face_app: TestClient) -> None:
    frame = webcam_frame()
    r = secure(face_app, seal(face_app, [frame], options={"asThreshold": "NONE"}))
    assert r.json()["code"] == 501
    r = secure(face_app, seal(face_app, [frame], options={"asThreshold": "MAXIMUM"}))
    assert r.json()["code"] == 506


def test_virtual_camera_is_feedback_retry_insecure(face_app: TestClient) -> None:
    token = seal(face_app, [webcam_frame()], device={"cameraLabel": "OBS Virtual Camera"})
    r = secure(face_app, token)
    body = r.json()
    assert r.status_code == 400 and body["code"] == 401
    assert body["message"] == "FEEDBACK_RETRY_INSECURE"
    assert body["data"]["image"] and isinstance(body["quality"], bool)


def test_secure_capture_without_face_is_503(face_app: TestClient) -> None:
    blank = encode(fit(load_rgb(_need_path(NO_FACE)), 640, 480))
    r = secure(face_app, seal(face_app, [blank]))
    assert r.status_code == 400 and r.json()["code"] == 503


def _need_path(path: Path) -> Path:
    _need(path)
    return path


def test_garbage_envelope_is_601(face_app: TestClient) -> None:
    r = secure(face_app, b"not.a.jwe.token.at-all")
    assert r.status_code == 400 and r.json()["code"] == 601
