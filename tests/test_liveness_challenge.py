"""Challenge-bound liveness (protocol v2) with real webcam frames (``../shared/data/video``).

A genuine answer — real far/near frames of a person brought into the issued ovals, then the
frames that follow lit by the issued colour sequence — passes; frames rendered onto a plane
fail as planar; frames outside the ovals, reused, reordered, stale, spliced and replayed
answers fail, each with its check named.
"""

from __future__ import annotations

import itertools
import random
import time
import zlib
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from challenge_capture import FAR, Answer, answer, clip
from faceproof.api.capture import open_capture
from faceproof.crypto.envelope import new_nonce
from faceproof.liveness import challenge as chl
from faceproof.liveness import screen_light as sl
from faceproof.liveness.service import LivenessResult, LivenessService
from imaging import DATA, LIVE_VIDEO, fit, load_rgb

pytestmark = pytest.mark.models


@pytest.fixture(autouse=True)
def _video() -> None:
    if not LIVE_VIDEO.is_file():
        pytest.skip("live video not present")


DRAW = chl.draw_challenge  # the server's own draw (CSPRNG)


@pytest.fixture
def server_draw() -> None:
    """Asked for by a test that judges the server's own (CSPRNG) draws: no seeding."""


@pytest.fixture(autouse=True)
def _seeded_draws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Challenges drawn from ``random.Random(seed)``, the seed a CRC of the test's name (fixed,
    arbitrary, not chosen to pass), so each test judges the same captures on every run, like
    ``bench/challenge_verdicts.py`` (whose ``--seeds`` reproduce a draw: a test's k-th challenge
    is that Random's k-th draw). Why: with the server's draw, a genuine answer here is refused
    ``planar_motion`` for about 1 % of challenges (``challenge_verdicts.py -n 200``: seeds 52
    and 60), a tests-only artefact of placing the clip's frames into the ovals by digital
    zoom (docs/liveness.md, Limits), which made these tests fail now and then. The server's
    draw itself is untouched; ``test_issued_challenges_follow_the_contract`` still judges it."""
    if "server_draw" in request.fixturenames:
        return
    rng = random.Random(zlib.crc32(request.node.name.encode()))
    monkeypatch.setattr(
        chl,
        "draw_challenge",
        lambda now_ms, ttl_ms, _rng=None: DRAW(now_ms, ttl_ms, rng),  # type: ignore[arg-type]
    )


def render_on_plane(rgb: np.ndarray, scale: float, tilt: float) -> np.ndarray:
    """The picture as a flat print brought closer: a homography about the image centre."""
    c = np.array([rgb.shape[1] / 2, rgb.shape[0] / 2])
    h = np.array([[scale, 0, 0], [0, scale, 0], [tilt, 0, 1.0]])
    to_c = np.array([[1, 0, -c[0]], [0, 1, -c[1]], [0, 0, 1]])
    back = np.array([[1, 0, c[0]], [0, 1, c[1]], [0, 0, 1]])
    return np.asarray(
        cv2.warpPerspective(
            rgb, back @ h @ to_c, (rgb.shape[1], rgb.shape[0]), borderMode=cv2.BORDER_REPLICATE
        )
    )


def issue(client: TestClient) -> dict[str, Any]:
    r = client.post("/api/v1/challenge")
    assert r.status_code == 200, r.text
    ch: dict[str, Any] = r.json()["challenge"]
    assert ch["expires_at_ms"] - ch["issued_at_ms"] <= 120_000
    return ch


def engine(client: TestClient) -> Any:
    return client.app.state.services.face  # type: ignore[attr-defined]


def jwk(client: TestClient) -> dict[str, Any]:
    key: dict[str, Any] = client.app.state.services.keystore.public_jwk()  # type: ignore[attr-defined]
    return key


def evaluate(client: TestClient, token: bytes) -> LivenessResult:
    services = client.app.state.services  # type: ignore[attr-defined]
    service: LivenessService = services.liveness
    return service.evaluate_capture(services.face, open_capture(services, token))


def least_like(issued: tuple[str, ...]) -> tuple[str, ...]:
    """The valid order of the issued colours whose screen changes the issued order explains
    least (the statistic on noise-free screens)."""
    orders = sl.arrangements(issued)
    screens = np.array([[sl.hex_to_linear(c) for c in o] for o in orders])
    drawn = sl.screen_steps(np.array([sl.hex_to_linear(c) for c in issued]))
    # S of a face that follows order o, judged against the issued order.
    scores = [float(sl.fit_statistic(sl.screen_steps(s), drawn)[0]) for s in screens]
    return orders[int(np.argmin(scores))]


def genuine(client: TestClient, **kw: Any) -> tuple[dict[str, Any], Answer]:
    ch = issue(client)
    return ch, answer(engine(client), ch, **kw)


# -- issuance ------------------------------------------------------------------------------
def test_issued_challenges_follow_the_contract(face_app: TestClient, server_draw: None) -> None:
    for _ in range(20):
        ch = issue(face_app)
        assert ch["type"] == "move_closer+screen_light"
        assert [s["role"] for s in ch["steps"]] == ch["order"]
        ovals = {s["role"]: s["oval"] for s in ch["steps"]}
        assert ovals["near"]["h"] / ovals["far"]["h"] >= 1.45
        for s in ch["steps"]:
            o = s["oval"]
            half_w = chl.OVAL_ASPECT * o["h"] * 480 / 2 / 640
            assert half_w <= o["cx"] <= 1 - half_w and o["h"] / 2 <= o["cy"] <= 1 - o["h"] / 2
            assert 300 <= s["hold_ms"] <= 1200
        colours = [c["color"] for c in ch["light"]["colors"]]
        assert 4 <= len(colours) <= 8 and all(a != b for a, b in itertools.pairwise(colours))
        assert all(300 <= c["ms"] <= 700 for c in ch["light"]["colors"])
        assert set(colours) <= set(sl.PALETTE) and 0 < ch["light"]["settle"] < 1
        assert ch["step_timeout_ms"] > 0 and ch["oval_tolerance"]["size_min"] < 1
    # Random per challenge: ovals and sequences are not repeated.
    seen = {str(issue(face_app)["light"]) for _ in range(5)}
    assert len(seen) == 5


# -- genuine answers -----------------------------------------------------------------------
def test_genuine_answer_is_captured_through_process_with_templates(face_app: TestClient) -> None:
    _, ans = genuine(face_app)
    token = ans.seal(jwk(face_app))
    r = face_app.post(
        "/api/v1/process",
        files={"file": ("bdata", token)},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"] == "FEEDBACK_CAPTURED"
    assert body["data"]["templates"] == {} or isinstance(body["data"]["templates"], dict)
    assert body["data"]["aligned"]
    live = body["liveness"]
    assert live["decision"] == "live" and live["reasons"] == []
    assert live["challenge"]["passed"] and all(live["challenge"]["move_closer"]["in_oval"])
    light = live["challenge"]["screen_light"]
    assert light["passed"] and light["statistic"] >= light["threshold"]
    assert light["contrast"] >= light["min_contrast"]
    assert body["data"]["spoof_score"] == [live["passive_score"]]


def test_genuine_answer_returns_requested_templates(face_app: TestClient) -> None:
    _, ans = genuine(face_app)
    payload = ans.payload()
    payload.options.requiredTemplates = ["JPEG"]
    from faceproof.crypto.envelope import seal

    r = face_app.post("/api/v1/process", files={"file": ("bdata", seal(payload, jwk(face_app)))})
    assert r.status_code == 200, r.text
    assert set(r.json()["data"]["templates"]) == {"JPEG"}


def test_genuine_outcome_details(face_app: TestClient) -> None:
    _, ans = genuine(face_app)
    result = evaluate(face_app, ans.seal(jwk(face_app)))
    ch = result.challenge
    assert ch is not None and ch.passed, result.reasons
    assert ch.scale_ratio is not None and ch.scale_ratio > 1.2
    assert ch.min_identity is not None and ch.min_identity > 0.5
    assert ch.light is not None and ch.light.p_value is not None
    assert ch.light.p_value <= sl.ALPHA
    assert not result.is_spoof and result.decision == "live"


# -- refused answers -----------------------------------------------------------------------
def refused(client: TestClient, token: bytes) -> dict[str, Any]:
    r = client.post("/api/v1/process", files={"file": ("bdata", token)})
    assert r.status_code == 400, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == 401 and body["message"] == "FEEDBACK_RETRY"
    return body


def test_face_outside_the_ovals_is_refused_by_name(face_app: TestClient) -> None:
    ch = issue(face_app)
    # The face where a recording had it, not where this challenge asked: shifted by a third
    # of the frame (and so outside the centre tolerance) for both steps.
    moved = {
        s["role"]: {**s["oval"], "cx": (s["oval"]["cx"] + 0.35) % 0.7 + 0.15} for s in ch["steps"]
    }
    ans = answer(engine(face_app), ch, ovals=moved)
    body = refused(face_app, ans.seal(jwk(face_app)))
    assert "face_not_in_oval" in body["liveness"]["reasons"]
    assert not all(body["liveness"]["challenge"]["move_closer"]["in_oval"])


@pytest.mark.parametrize("how", ["shifted", "shuffled"])
def test_light_that_does_not_follow_the_sequence_is_refused(face_app: TestClient, how: str) -> None:
    ch = issue(face_app)
    issued = [c["color"] for c in ch["light"]["colors"]]
    if how == "shifted":  # the response lags one colour behind (e.g. a relayed video)
        colours = issued[-1:] + issued[:-1]
        if any(a == b for a, b in itertools.pairwise(colours)):
            colours = issued[-2:] + issued[:-2]
    else:  # another order of the same colours: the one least like the issued order (a face
        # following a *similar* order passes now and then, at most ALPHA of the time)
        colours = list(least_like(tuple(issued)))
    ans = answer(engine(face_app), ch, colours=colours)
    body = refused(face_app, ans.seal(jwk(face_app)))
    assert body["liveness"]["decision"] == "spoof" and body["quality"] is True
    assert body["liveness"]["reasons"] == ["light_not_followed"]


def test_no_light_on_the_face_asks_for_a_retry(face_app: TestClient) -> None:
    """A face held still without screen light, and with a very weak one (bright ambient
    light): its colour does not change enough to judge. Never accepted; a retry with quality
    false. (A face that *moves* in the meantime changes colour on its own and is refused as
    light_not_followed instead: docs/liveness.md.)"""
    for depth in (0.0, 0.01):
        _, ans = genuine(face_app, depth=depth, light_step=0)
        body = refused(face_app, ans.seal(jwk(face_app)))
        assert body["liveness"]["reasons"] == ["light_too_weak"], depth
        assert body["liveness"]["decision"] == "retry" and body["quality"] is False
        assert body["description"].startswith("Too little light from the screen")
        light = body["liveness"]["challenge"]["screen_light"]
        assert light["contrast"] < light["min_contrast"]


def test_replayed_capture_of_an_earlier_challenge_fails(face_app: TestClient) -> None:
    _, ans = genuine(face_app)
    assert evaluate(face_app, ans.seal(jwk(face_app))).decision == "live"
    # The same frames, times and light start, sealed again for a new challenge.
    second = issue(face_app)
    token = ans.seal(jwk(face_app), nonce=second["nonce"], challenge_id=second["id"])
    result = evaluate(face_app, token)
    assert result.is_spoof and result.decision in {"spoof", "retry"}
    replay_evidence = {
        "face_not_in_oval",
        "light_not_followed",
        "light_too_weak",
        "light_frames_missing",
        "implausible_timing",
        "wrong_order",
    }
    assert replay_evidence & set(result.reasons), result.reasons
    # And the earlier challenge itself cannot be answered twice.
    again = ans.seal(jwk(face_app), nonce=new_nonce())
    assert evaluate(face_app, again).reasons == ["challenge_unknown_or_used"]


@pytest.mark.parametrize(("scale", "tilt"), [(1.35, 0.0002), (1.4, 0.0004)])
def test_frames_rendered_on_a_plane_fail(face_app: TestClient, scale: float, tilt: float) -> None:
    """The far frame printed and brought closer: the near and light frames are renders of it
    on a plane (then placed in the near oval), so the whole approach is planar."""
    ch = issue(face_app)
    ans = answer(engine(face_app), ch)
    far = clip()[FAR]
    near_i = ans.roles.index("near")
    flat = render_on_plane(far, scale, tilt)
    from challenge_capture import box_of, placement, warp

    oval = next(s["oval"] for s in ch["steps"] if s["role"] == "near")
    ans.frames[near_i] = warp(flat, placement(box_of(engine(face_app), flat), oval, (640, 480)))
    result = evaluate(face_app, ans.seal(jwk(face_app)))
    assert result.challenge is not None and "planar_motion" in result.reasons
    assert result.is_spoof and result.level_reached is None and result.score == 0.0


def test_wrong_order_fails(face_app: TestClient) -> None:
    _, ans = genuine(face_app)
    far_i, near_i = ans.roles.index("far"), ans.roles.index("near")
    ans.roles[far_i], ans.roles[near_i] = "near", "far"
    assert "wrong_order" in evaluate(face_app, ans.seal(jwk(face_app))).reasons


def test_nonce_not_bound_to_challenge_fails(face_app: TestClient) -> None:
    _, ans = genuine(face_app)
    result = evaluate(face_app, ans.seal(jwk(face_app), nonce=new_nonce()))
    assert "nonce_not_bound" in result.reasons and result.is_spoof


def test_stale_frames_fail(face_app: TestClient) -> None:
    _, ans = genuine(face_app)
    payload = ans.payload()
    payload.ts = ans.challenge["issued_at_ms"] - 60_000  # taken before the challenge existed
    from faceproof.crypto.envelope import seal

    result = evaluate(face_app, seal(payload, jwk(face_app)))
    assert "frames_outside_challenge_window" in result.reasons and result.is_spoof


def test_light_frames_outside_their_colour_windows_fail(face_app: TestClient) -> None:
    _, ans = genuine(face_app)
    ans.light_start_t += 400  # frames taken before their colour was on screen
    assert "implausible_timing" in evaluate(face_app, ans.seal(jwk(face_app))).reasons


def test_missing_light_frames_fail(face_app: TestClient) -> None:
    _, ans = genuine(face_app)
    last = len(ans.roles) - 1 - ans.roles[::-1].index("light")
    for seq in (ans.frames, ans.roles, ans.times):
        del seq[last]
    assert "light_frames_missing" in evaluate(face_app, ans.seal(jwk(face_app))).reasons


def test_too_short_hold_fails(face_app: TestClient) -> None:
    ch, ans = genuine(face_app)
    first = ans.roles.index(ch["order"][0])
    ans.times[first] = ans.times[first - 1] + 100  # hold_ms is at least 300
    assert "implausible_timing" in evaluate(face_app, ans.seal(jwk(face_app))).reasons


def test_spliced_frames_fail(face_app: TestClient) -> None:
    _, ans = genuine(face_app)
    payload = ans.payload()
    import base64

    from imaging import encode

    far_i = ans.roles.index("far")
    payload.frames[far_i].jpeg = base64.b64encode(encode(ans.frames[far_i], quality=70)).decode()
    from faceproof.crypto.envelope import CapturePayload, seal

    token = seal(CapturePayload.model_validate(payload.model_dump()), jwk(face_app))
    assert "frames_spliced" in evaluate(face_app, token).reasons


def test_another_person_fails(face_app: TestClient) -> None:
    other = DATA / "pad" / "live" / "silentface__image_T1.jpg"
    if not other.is_file():
        pytest.skip("pad data not present")
    _, ans = genuine(face_app)
    ans.frames[ans.roles.index("far")] = fit(load_rgb(other), 640, 480)
    assert "identity_changed" in evaluate(face_app, ans.seal(jwk(face_app))).reasons


@pytest.mark.parametrize("which", ["all", "one"])
def test_another_person_in_the_light_frames_fails(face_app: TestClient, which: str) -> None:
    """Light frames are tracked from the frame before them rather than detected, and each is
    still embedded: a person swapped in for the light part (or one frame of it) is caught."""
    other = DATA / "pad" / "live" / "silentface__image_T1.jpg"
    if not other.is_file():
        pytest.skip("pad data not present")
    _, ans = genuine(face_app)
    light = [i for i, r in enumerate(ans.roles) if r == "light"]
    for i in light if which == "all" else light[len(light) // 2 : len(light) // 2 + 1]:
        ans.frames[i] = fit(load_rgb(other), 640, 480)
    assert "identity_changed" in evaluate(face_app, ans.seal(jwk(face_app))).reasons


def test_a_light_frame_without_a_face_is_not_tracked_into_one(face_app: TestClient) -> None:
    """Tracking needs the mesh model's face score; on a frame with no face it falls back to
    the detector, which finds none."""
    _, ans = genuine(face_app)
    i = ans.roles.index("light") + 2
    ans.frames[i] = np.full_like(ans.frames[i], 128)
    assert "no_face_in_frame" in evaluate(face_app, ans.seal(jwk(face_app))).reasons


def test_light_frames_are_tracked_not_detected(face_app: TestClient) -> None:
    """The detector runs on the far and near frames only (the main frame's face comes from
    the route); every light frame's face follows the one before it."""
    services = face_app.app.state.services  # type: ignore[attr-defined]
    _, ans = genuine(face_app)
    capture = open_capture(services, ans.seal(jwk(face_app)))
    main, _ = services.face.analyse(capture.main.rgb, "selfie")
    seen: list[int] = []
    short = services.face.detectors.short
    detect = short.detect

    def counted(rgb: np.ndarray) -> Any:
        seen.append(id(rgb))
        return detect(rgb)

    short.detect = counted
    try:
        outcome = services.liveness.verify_challenge(services.face, capture, main_record=main)
    finally:
        del short.detect
    assert outcome.passed, outcome.reasons
    steps = {id(f.rgb) for f, r in zip(capture.frames, ans.roles, strict=True) if r in chl.ROLES}
    assert seen and set(seen) <= steps


def test_a_tracked_box_moves_and_scales_with_the_mesh() -> None:
    from faceproof.face.record import Detection
    from faceproof.pipeline.landmarks import follow

    rng = np.random.default_rng(3)
    before = rng.uniform(100, 300, (468, 3)).astype(np.float32)
    after = before.copy()
    after[:, :2] = 1.25 * (before[:, :2] - 200) + 200 + np.array([30.0, -12.0])
    det = Detection((150.0, 160.0, 250.0, 280.0), 0.9, before[:6, :2].copy())
    moved = follow(det, before, after)
    want = 1.25 * (np.array(det.box).reshape(2, 2) - 200) + 200 + np.array([30.0, -12.0])
    assert np.allclose(moved.box, want.reshape(-1), atol=1e-3)
    assert np.allclose(moved.keypoints, after[:6, :2], atol=1e-3)
    assert moved.score == det.score


def test_capture_time_is_checked_against_expiry(face_app: TestClient) -> None:
    services = face_app.app.state.services  # type: ignore[attr-defined]
    _, ans = genuine(face_app)
    capture = open_capture(services, ans.seal(jwk(face_app)))
    late = int(time.time() * 1000) + 10 * 60_000
    outcome = services.liveness.verify_challenge(services.face, capture, now_ms=late)
    assert "challenge_expired" in outcome.reasons
