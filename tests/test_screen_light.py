"""The screen-light statistic's null (no face needed) and the v2 device signals through the API.

The permutation argument (docs/liveness.md, "Screen light"): a response fixed before the
sequence was drawn passes with probability at most ALPHA whatever it is. Checked here by
drawing many sequences against fixed responses of several kinds (noise, a luminance flicker,
a colour response to *another* sequence): the pass rate stays within ALPHA (binomial bound).
"""

from __future__ import annotations

import base64
import itertools
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from faceproof.config import Settings
from faceproof.crypto.envelope import CapturePayload, DeviceInfo, Frame, seal
from faceproof.liveness import screen_light as sl
from faceproof.liveness.device import check_device


def fake_lights(colours: np.ndarray, depth: float, noise: float, rng: Any) -> list[sl.FrameLight]:
    """Frame measures whose skin colour is ``1 + depth·colour`` plus noise, over a static
    background (the statistic only reads ``face``, ``small`` and ``background``)."""
    small = np.full((60, 80, 3), 0.2, np.float32)
    cells = np.ones((60, 80), bool)
    out = []
    for c in colours:
        face = 0.3 * (1 + depth * c) * np.exp(rng.normal(0, noise, 3))
        out.append(sl.FrameLight(face, small, cells, 5000))
    return out


def screen(colours: tuple[str, ...]) -> np.ndarray:
    return np.array([sl.hex_to_linear(c) for c in colours])


def test_drawn_sequences_follow_the_protocol() -> None:
    for _ in range(200):
        seq = sl.draw_sequence()
        assert sl.MIN_COLOURS <= len(seq.colors) <= sl.MAX_COLOURS
        assert all(a != b for a, b in itertools.pairwise(seq.colors))
        assert set(seq.colors) == set(sl.PALETTE)  # all six, then at most two repeats
        assert all(sl.MIN_MS <= m <= sl.MAX_MS for m in seq.ms)
        assert len(sl.arrangements(seq.colors)) >= 1 / sl.ALPHA


def test_windows_are_the_last_part_of_each_colour() -> None:
    seq = sl.LightSequence(("#ff0000", "#00ff00"), (400, 600), 0.5)
    assert seq.windows(1000) == [(1200.0, 1400.0), (1700.0, 2000.0)]


def test_a_following_face_passes_and_other_orders_fail() -> None:
    rng = np.random.default_rng(0)
    seq = sl.draw_sequence(random.Random(1))
    lights = fake_lights(screen(seq.colors), 0.15, 0.005, rng)
    good = sl.judge(lights, seq)
    assert good.passed and good.p_value is not None and good.p_value <= sl.ALPHA
    assert good.gains is not None and min(good.gains) > 0.05
    shifted = sl.LightSequence(seq.colors[1:] + seq.colors[:1], seq.ms)
    if all(a != b for a, b in itertools.pairwise(shifted.colors)):
        assert sl.judge(lights, shifted).reasons == ["light_not_followed"]
    # A face that does not change (bright ambient, or an inert picture): too weak, a retry.
    still = fake_lights(screen(seq.colors), 0.0, 0.002, rng)
    assert sl.judge(still, seq).reasons == ["light_too_weak"]


@pytest.mark.parametrize("kind", ["noise", "flicker", "other_sequence"])
def test_false_pass_rate_of_responses_fixed_before_the_draw(kind: str) -> None:
    rng = np.random.default_rng(42)
    draws = random.Random(7)
    trials, passes = 200, 0
    for _ in range(trials):
        seq = sl.draw_sequence(draws)
        k = len(seq.colors)
        if kind == "noise":  # strong random colour changes (motion, compression, a replay)
            lights = fake_lights(np.zeros((k, 3)), 0.0, 0.08, rng)
        elif kind == "flicker":  # a luminance flicker: all channels together
            level = rng.uniform(0, 1, (k, 1)) * np.ones((1, 3))
            lights = fake_lights(level, 0.4, 0.003, rng)
        else:  # a real reflection of an earlier session's sequence of the same length
            other = sl.draw_sequence(draws)
            while len(other.colors) != k:
                other = sl.draw_sequence(draws)
            lights = fake_lights(screen(other.colors), 0.15, 0.005, rng)
        passes += sl.judge(lights, seq).passed
    # P(pass) <= ALPHA = 0.5 %; with 200 trials, 5 or more passes has probability < 0.4 %
    # under that bound (binomial), so this fails only if the argument is wrong.
    assert passes <= 4, passes


# -- device signals ------------------------------------------------------------------------
def test_sdk_flags_and_server_checks_are_merged() -> None:
    device = DeviceInfo(cameraLabel="OBS Virtual Camera", flags=["webdriver"])
    verdict = check_device(device)
    assert verdict.insecure and verdict.flags == ("webdriver", "virtual_camera_label")
    allowed = check_device(device, allow_emulated=True)
    assert not allowed.insecure and allowed.flags == verdict.flags
    assert not check_device(DeviceInfo(cameraLabel="FaceTime HD Camera")).flags


def test_envelope_device_track_and_flags_are_strict() -> None:
    ok = DeviceInfo.model_validate(
        {"track": {"width": 640, "frameRate": 30.0, "facingMode": "user"}, "flags": ["webdriver"]}
    )
    assert ok.track["width"] == 640
    bad: list[dict[str, Any]] = [
        {"track": {"width": [640]}},
        {"track": {str(i): i for i in range(17)}},
        {"flags": ["Not A Flag"]},
        {"flags": [1]},
        {"flags": ["x"] * 17},
    ]
    for value in bad:
        with pytest.raises(ValueError):
            DeviceInfo.model_validate(value)


def _capture(client: TestClient, device: dict[str, Any]) -> bytes:
    from imaging import LIVE_VIDEO, encode, video_frames

    if not LIVE_VIDEO.is_file():
        pytest.skip("live video not present")
    frame = encode(video_frames(LIVE_VIDEO, 10, 1)[0])
    payload = CapturePayload(
        nonce=base64.urlsafe_b64encode(np.random.bytes(16)).rstrip(b"=").decode(),
        ts=int(time.time() * 1000),
        frames=[Frame(jpeg=base64.b64encode(frame).decode())],
        options={"asThreshold": "LOW"},  # type: ignore[arg-type]
        device=DeviceInfo.model_validate(device),
    )
    return seal(payload, client.app.state.services.keystore.public_jwk())  # type: ignore[attr-defined]


@pytest.fixture
def app_with(
    make_settings: Callable[..., Settings], models_path: Any, data_root: Any
) -> Callable[..., TestClient]:
    from faceproof.api.app import create_app

    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        app = create_app(make_settings(require_models=True, model_dir=models_path, **settings))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make  # type: ignore[misc]
    for c in clients:
        c.__exit__(None, None, None)


@pytest.mark.models
def test_sdk_flag_answers_insecure_with_the_flag_named(app_with: Callable[..., TestClient]) -> None:
    client = app_with()
    token = _capture(client, {"flags": ["canvas_or_synthetic_track"]})
    r = client.post("/api/v1/process", files={"file": ("bdata", token)})
    body = r.json()
    assert r.status_code == 400 and body["message"] == "FEEDBACK_RETRY_INSECURE"
    assert body["liveness"]["decision"] == "insecure"
    assert body["liveness"]["reasons"] == ["insecure_device:canvas_or_synthetic_track"]


@pytest.mark.models
def test_emulated_cameras_allowed_for_tests_report_the_flags(
    app_with: Callable[..., TestClient],
) -> None:
    client = app_with(allow_emulated_camera=True)
    token = _capture(client, {"cameraLabel": "fake_device_0", "flags": ["webdriver"]})
    r = client.post("/api/v1/process", files={"file": ("bdata", token)})
    body = r.json()
    assert body.get("message") != "FEEDBACK_RETRY_INSECURE", body
    assert body["liveness"]["device_flags"] == ["webdriver", "virtual_camera_label"]


@pytest.mark.models
def test_liveness_block_can_be_hidden(app_with: Callable[..., TestClient]) -> None:
    client = app_with(liveness_details=False)
    token = _capture(client, {"flags": ["webdriver"]})
    body = client.post("/api/v1/process", files={"file": ("bdata", token)}).json()
    assert body["message"] == "FEEDBACK_RETRY_INSECURE" and "liveness" not in body


def test_valid_orders_are_the_filtered_permutations() -> None:
    """The direct enumeration gives exactly the sorted set of valid permutations (the
    permutation test's reference set), for every 7-colour multiset and some 8-colour ones."""
    palette = list(sl.PALETTE)
    multisets = [[*palette, c] for c in palette] + [
        palette + list(pair) for pair in itertools.islice(itertools.combinations(palette, 2), 3)
    ]
    for multiset in multisets:
        key = tuple(sorted(multiset))
        want = tuple(sorted({p for p in itertools.permutations(key) if sl._valid(p)}))
        assert sl._valid_orders(key) == want
        # The cache judge reads: the same orders as indices, and their screens' steps.
        codes, steps = sl._orders(key)
        colours = sorted(set(key))
        assert [tuple(colours[i] for i in row) for row in codes] == list(want)
        screens = np.array([[sl.hex_to_linear(c) for c in order] for order in want])
        assert np.array_equal(steps, sl.screen_steps(screens))


# -- measure_frame on its skin region: the same measures as on the whole frame --------------
def _whole_frame_measure(
    rgb: np.ndarray, mesh: np.ndarray, box: tuple[float, float, float, float]
) -> tuple[np.ndarray, sl.FrameLight | None]:
    """The skin mask and measures drawn on the whole frame (how measure_frame computed them
    before it worked on the skin's region): the reference the region must reproduce."""
    import cv2

    shape = rgb.shape[:2]

    def hull_mask(pts: np.ndarray) -> np.ndarray:
        mask = np.zeros(shape, np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts).astype(np.int32)), 255)
        return mask

    oval = mesh[list(sl._FACE_OVAL), :2].astype(np.float64)
    centre = oval.mean(axis=0)
    outline = hull_mask(centre + 0.9 * (oval - centre))
    k = max(3, int(float(np.linalg.norm(mesh[33, :2] - mesh[263, :2])) * 0.12) | 1)
    holes = np.zeros(shape, np.uint8)
    for part in (sl._EYE_R + sl._BROW_R, sl._EYE_L + sl._BROW_L, sl._LIPS):
        holes |= hull_mask(mesh[list(part), :2])
    skin = (outline > 0) & (cv2.dilate(holes, np.ones((k, k), np.uint8)) == 0)
    ok = (rgb.max(axis=2) > 20) & (rgb.max(axis=2) < 250)
    sel = skin & ok
    n = int(np.count_nonzero(sel))
    if n < sl.MIN_SKIN_PIXELS:
        return skin, None
    lin = np.asarray(cv2.LUT(rgb, sl._LUT32), dtype=np.float32)
    face = np.array(cv2.mean(lin, mask=sel.view(np.uint8))[:3], dtype=np.float64)
    small = np.asarray(cv2.resize(lin, sl.SMALL, interpolation=cv2.INTER_AREA), np.float32)
    bg = (sl.background_mask(shape, box) & ok).astype(np.float32)
    cells = np.asarray(cv2.resize(bg, sl.SMALL, interpolation=cv2.INTER_AREA)) > 0.999
    return skin, sl.FrameLight(face, small, cells, n)


def test_measure_frame_on_the_skin_region_equals_the_whole_frame(models_path: Any) -> None:
    """Bit for bit, on webcam frames of both orientations, with the face whole, partly out of
    the frame and (shifted by half-pixels) rounded the other way."""
    from pathlib import Path

    from faceproof.pipeline.engine import FaceEngine
    from imaging import LIVE_VIDEO, video_frames

    if not Path(LIVE_VIDEO).is_file():
        pytest.skip("../shared/data is not present on this machine")
    engine = FaceEngine(models_path)
    checked = skipped = 0
    for rgb in video_frames(LIVE_VIDEO, 20, 6):
        for frame in (rgb, np.ascontiguousarray(rgb.transpose(1, 0, 2))):
            rec, _ = engine.analyse(frame, "selfie")
            assert rec is not None and rec.landmarks is not None
            for dx, dy in ((0.0, 0.0), (0.5, -0.5), (-180.0, 40.0), (150.0, -200.0)):
                mesh = rec.landmarks.mesh.copy()
                mesh[:, 0] += dx
                mesh[:, 1] += dy
                box = rec.detection.box
                moved = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
                skin, want = _whole_frame_measure(frame, mesh, moved)
                assert np.array_equal(sl.skin_mask(frame.shape[:2], mesh), skin)
                got = sl.measure_frame(frame, mesh, moved)
                if want is None:
                    assert got is None
                    skipped += 1
                    continue
                assert got is not None
                assert np.array_equal(got.face, want.face)
                assert np.array_equal(got.small, want.small)
                assert np.array_equal(got.background, want.background)
                assert got.skin_pixels == want.skin_pixels
                checked += 1
    assert checked >= 24  # most placements keep enough skin in the frame
