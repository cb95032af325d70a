"""Challenge-bound liveness with real webcam frames (``../shared/data/video``).

Genuine far/near frames of a person moving towards the camera pass; the far frame rendered
onto a plane and brought closer (a "photo of the video") fails as planar; reused, reordered,
stale and spliced answers fail.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from faceproof.api.capture import open_capture
from faceproof.crypto.envelope import CapturePayload, Frame, new_nonce, seal
from faceproof.liveness.service import LivenessService
from imaging import DATA, LIVE_VIDEO, encode, fit, load_rgb, video_frames

pytestmark = pytest.mark.models

# Every 3rd frame of the live clip: index 38 (frame 114) is the far pose, index 3 (frame 9)
# the near pose of the same head, 1.3× larger, nearly without rotation.
FAR, NEAR = 38, 3


def frames() -> tuple[np.ndarray, ...]:
    if not LIVE_VIDEO.is_file():
        pytest.skip("live video not present")
    return video_frames(LIVE_VIDEO, 3, 40)


def render_on_plane(rgb: np.ndarray, scale: float, tilt: float) -> np.ndarray:
    """The picture as a flat print brought closer: a homography about the image centre."""
    c = np.array([rgb.shape[1] / 2, rgb.shape[0] / 2])
    h = np.array([[scale, 0, 0], [0, scale, 0], [tilt, 0, 1.0]])
    to_c = np.array([[1, 0, -c[0]], [0, 1, -c[1]], [0, 0, 1]])
    back = np.array([[1, 0, c[0]], [0, 1, c[1]], [0, 0, 1]])
    return cv2.warpPerspective(
        rgb, back @ h @ to_c, (rgb.shape[1], rgb.shape[0]), borderMode=cv2.BORDER_REPLICATE
    )


def envelope(
    client: TestClient,
    shots: dict[str, bytes],
    order: tuple[str, ...],
    *,
    nonce: str,
    challenge_id: str | None,
    ts_ms: int | None = None,
    step_ms: int = 900,
) -> bytes:
    payload = CapturePayload(
        nonce=nonce,
        ts=int(time.time() * 1000) if ts_ms is None else ts_ms,
        frames=[
            Frame(jpeg=base64.b64encode(shots[role]).decode(), t=i * step_ms, role=role)
            for i, role in enumerate(order)
        ],
        options={"asThreshold": "LOW"},  # type: ignore[arg-type]
        challenge=None if challenge_id is None else {"id": challenge_id},
    )
    jwk = client.app.state.services.keystore.public_jwk()  # type: ignore[attr-defined]
    return seal(payload, jwk)


def issue(client: TestClient) -> dict[str, Any]:
    r = client.post("/api/v1/challenge")
    assert r.status_code == 200, r.text
    ch: dict[str, Any] = r.json()["challenge"]
    assert ch["expires_at_ms"] - ch["issued_at_ms"] <= 120_000
    return ch


def evaluate(client: TestClient, token: bytes) -> Any:
    services = client.app.state.services  # type: ignore[attr-defined]
    service: LivenessService = services.liveness
    return service.evaluate_capture(services, open_capture(services, token))


def genuine_shots() -> dict[str, bytes]:
    f = frames()
    return {"far": encode(f[FAR]), "near": encode(f[NEAR])}


def test_genuine_far_near_frames_pass(face_app: TestClient) -> None:
    ch = issue(face_app)
    token = envelope(
        face_app, genuine_shots(), tuple(ch["order"]), nonce=ch["nonce"], challenge_id=ch["id"]
    )
    r = face_app.post("/api/v1/secure/face/as", files={"file": ("bdata", token)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["is_spoof"] is False and body["as_highest_security_level_reached"] is not None
    assert set(body) == {
        "as_highest_security_level_reached",
        "is_spoof",
        "score",
        "error",
        "refid",
        "input",
    }


def test_genuine_outcome_details(face_app: TestClient) -> None:
    ch = issue(face_app)
    token = envelope(
        face_app, genuine_shots(), tuple(ch["order"]), nonce=ch["nonce"], challenge_id=ch["id"]
    )
    result = evaluate(face_app, token)
    assert result.challenge is not None and result.challenge.passed, result.challenge
    assert result.challenge.scale_ratio > 1.2
    assert result.challenge.min_identity > 0.5


@pytest.mark.parametrize(
    ("index", "scale", "tilt"),
    [
        (FAR, 1.35, 0.0002),
        # Strong keystone of a turned head: the landmark model alone reads it as a 3-D turn.
        (10, 1.4, 0.0004),
    ],
)
def test_frames_rendered_on_a_plane_fail(
    face_app: TestClient, index: int, scale: float, tilt: float
) -> None:
    far = frames()[index]
    shots = {"far": encode(far), "near": encode(render_on_plane(far, scale, tilt))}
    ch = issue(face_app)
    token = envelope(face_app, shots, tuple(ch["order"]), nonce=ch["nonce"], challenge_id=ch["id"])
    result = evaluate(face_app, token)
    assert result.challenge is not None and not result.challenge.passed
    assert "planar_motion" in result.challenge.reasons
    # Everything else about the answer was right: only the geometry gave it away.
    assert result.challenge.reasons == ["planar_motion"]
    assert result.is_spoof and result.level_reached is None and result.score == 0.0


def test_wrong_order_fails(face_app: TestClient) -> None:
    ch = issue(face_app)
    reverse = tuple(reversed(ch["order"]))
    token = envelope(face_app, genuine_shots(), reverse, nonce=ch["nonce"], challenge_id=ch["id"])
    result = evaluate(face_app, token)
    assert "wrong_order" in result.challenge.reasons and result.is_spoof


def test_reused_challenge_and_nonce_fail(face_app: TestClient) -> None:
    ch = issue(face_app)
    shots = genuine_shots()
    token = envelope(face_app, shots, tuple(ch["order"]), nonce=ch["nonce"], challenge_id=ch["id"])
    assert evaluate(face_app, token).challenge.passed
    # The same envelope again: its nonce was claimed → 601 before any liveness work.
    r = face_app.post("/api/v1/secure/face/as", files={"file": ("bdata", token)})
    assert r.status_code == 400 and r.json()["code"] == 601
    # A fresh envelope answering the used challenge.
    again = envelope(face_app, shots, tuple(ch["order"]), nonce=new_nonce(), challenge_id=ch["id"])
    result = evaluate(face_app, again)
    assert result.challenge.reasons == ["challenge_unknown_or_used"] and result.is_spoof


def test_nonce_not_bound_to_challenge_fails(face_app: TestClient) -> None:
    ch = issue(face_app)
    token = envelope(
        face_app, genuine_shots(), tuple(ch["order"]), nonce=new_nonce(), challenge_id=ch["id"]
    )
    assert "nonce_not_bound" in evaluate(face_app, token).challenge.reasons


def test_stale_frames_fail(face_app: TestClient) -> None:
    ch = issue(face_app)
    # Captured a minute before the challenge existed (still fresh for the envelope check).
    token = envelope(
        face_app,
        genuine_shots(),
        tuple(ch["order"]),
        nonce=ch["nonce"],
        challenge_id=ch["id"],
        ts_ms=ch["issued_at_ms"] - 60_000,
    )
    result = evaluate(face_app, token)
    assert "frames_outside_challenge_window" in result.challenge.reasons and result.is_spoof


def test_implausible_timing_fails(face_app: TestClient) -> None:
    ch = issue(face_app)
    token = envelope(
        face_app,
        genuine_shots(),
        tuple(ch["order"]),
        nonce=ch["nonce"],
        challenge_id=ch["id"],
        step_ms=40,
    )
    assert "implausible_timing" in evaluate(face_app, token).challenge.reasons


def test_spliced_frames_fail(face_app: TestClient) -> None:
    f = frames()
    shots = {"far": encode(f[FAR]), "near": encode(f[NEAR], quality=70)}  # another encoder
    ch = issue(face_app)
    token = envelope(face_app, shots, tuple(ch["order"]), nonce=ch["nonce"], challenge_id=ch["id"])
    assert "frames_spliced" in evaluate(face_app, token).challenge.reasons


def test_another_person_fails(face_app: TestClient) -> None:
    other = DATA / "pad" / "live" / "silentface__image_T1.jpg"
    if not other.is_file():
        pytest.skip("pad data not present")
    shots = {"far": encode(frames()[FAR]), "near": encode(fit(load_rgb(other), 640, 480))}
    ch = issue(face_app)
    token = envelope(face_app, shots, tuple(ch["order"]), nonce=ch["nonce"], challenge_id=ch["id"])
    assert "identity_changed" in evaluate(face_app, token).challenge.reasons
