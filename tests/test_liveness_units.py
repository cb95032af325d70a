"""Liveness building blocks without models: levels, metrics, fusion fit, device labels,
the planarity test on synthetic geometry, the challenge store."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from faceproof.crypto.envelope import DeviceInfo
from faceproof.error_rates import auc
from faceproof.errors import ApiError
from faceproof.liveness import geometry3d as g
from faceproof.liveness.challenge import SqliteChallengeStore as ChallengeStore
from faceproof.liveness.device import check_device
from faceproof.liveness.fusion import SIGNS, FusionModel, fit_fusion, load_fusion
from faceproof.liveness.levels import (
    DEFAULT_LEVEL,
    LEVELS,
    TARGET_APCER,
    LivenessCalibration,
    calibrate,
    load_liveness_calibration,
)
from faceproof.liveness.metrics import apcer, bpcer, bpcer_at_apcer, summary
from faceproof.liveness.service import parse_threshold


# -- calibration file and levels ------------------------------------------------------------
def test_packaged_calibration_loads_and_levels_are_monotonic() -> None:
    calib = load_liveness_calibration()
    values = [calib.thresholds[n] for n in LEVELS]
    assert list(calib.thresholds) == list(LEVELS)
    assert all(b > a for a, b in itertools.pairwise(values))
    targets = [TARGET_APCER[n] for n in LEVELS]
    assert all(b < a for a, b in itertools.pairwise(targets))
    # Bound to the packaged fusion and to the data it was calibrated on.
    assert calib.meta["fusion_sha256"] == load_fusion().digest
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", calib.meta["data_sha256"])
    # Calibrated on the worst attack type: every type's APCER is within the target.
    for name in LEVELS:
        level = calib.meta["levels"][name]
        assert max(level["apcer"].values()) <= TARGET_APCER[name] + 1e-9
        assert 0.0 <= level["bpcer"] <= 1.0
        # Rule of three: a type with fewer than 3/target attacks does not support the level.
        n = calib.meta["attacks_per_type"]
        want = {k: v for k, v in n.items() if v < 3 / TARGET_APCER[name]}
        assert level["unsupported_by"] == want == calib.unsupported(name)
        assert level["supported"] == (not want)
    # The SDK floor: a low-BPCER point below the strict levels.
    floor = calib.meta["sdk_passive_floor"]
    assert floor["bpcer"] <= floor["target_bpcer"] <= 0.02
    assert calib.sdk_passive_floor == floor["threshold"]


def test_highest_level_reached() -> None:
    calib = load_liveness_calibration()
    t = calib.thresholds
    assert calib.highest_level(t["LOW"] - 1e-6) is None
    assert calib.highest_level(t["LOW"]) == "LOW"
    assert calib.highest_level((t["HIGH"] + t["BALANCED_VERY_HIGH"]) / 2) == "HIGH"
    assert calib.highest_level(1.0) == "HIGHEST"


def test_calibrate_hits_targets_on_known_scores() -> None:
    rng = np.random.default_rng(0)
    attacks = rng.uniform(0, 0.6, 1000)
    bona = rng.uniform(0.4, 1.0, 500)
    calib = calibrate({"replay": attacks}, bona)
    for name in LEVELS:
        assert apcer(attacks, calib.thresholds[name]) <= TARGET_APCER[name]
    # LOW accepts close to 20 % of attacks: it is not needlessly strict.
    assert apcer(attacks, calib.thresholds["LOW"]) > 0.19
    # 1000 attacks support every level down to 0.3 % (3/N); HIGHEST (0.1 %) needs 3000.
    assert [n for n in LEVELS if not calib.meta["levels"][n]["supported"]] == ["HIGHEST"]
    assert calib.unsupported("HIGHEST") == {"replay": 1000}


def test_levels_are_set_by_the_worst_attack_type() -> None:
    """A pooled threshold would let the rare, strong attack type through; per type it cannot."""
    rng = np.random.default_rng(3)
    replay = rng.uniform(0.0, 0.5, 2000)  # weak attacks, many
    prints = rng.uniform(0.3, 0.9, 100)  # strong attacks, few
    bona = rng.uniform(0.5, 1.0, 400)
    calib = calibrate({"replay": replay, "print": prints}, bona)
    pooled = np.concatenate([replay, prints])
    for name in ("LOW", "MEDIUM", "MODERATE"):
        t = calib.thresholds[name]
        assert apcer(prints, t) <= TARGET_APCER[name] and apcer(replay, t) <= TARGET_APCER[name]
        assert calib.meta["levels"][name]["worst_type"] == "print"
        # ... which is stricter than what the pooled rate would have asked for.
        assert apcer(pooled, t) < TARGET_APCER[name] / 2
        assert calib.meta["levels"][name]["bpcer"] == pytest.approx(bpcer(bona, t), abs=1e-6)
    # 100 prints support LOW..MODERATE (3/0.05 = 60) but not BALANCED_HIGH (3/0.03 = 100 is
    # enough) nor HIGH (150 needed).
    assert calib.unsupported("MODERATE") == {}
    assert calib.unsupported("BALANCED_HIGH") == {}
    assert calib.unsupported("HIGH") == {"print": 100}


def test_sdk_passive_floor_is_a_low_bpcer_point() -> None:
    rng = np.random.default_rng(4)
    bona = rng.uniform(0.2, 1.0, 1000)
    attacks = rng.uniform(0.0, 0.4, 500)
    calib = calibrate({"replay": attacks}, bona, floor_bpcer=0.01)
    floor = calib.sdk_passive_floor
    assert bpcer(bona, floor) <= 0.01
    assert bpcer(bona, floor + 0.01) > 0.01  # not needlessly low
    assert floor < calib.thresholds["LOW"]
    info = calib.meta["sdk_passive_floor"]
    assert info["apcer"]["replay"] == pytest.approx(apcer(attacks, floor), abs=1e-6)
    # The file round-trips the floor and the per-level support flags.
    again = LivenessCalibration.from_json(json.loads(json.dumps(calib.to_json())))
    assert again.sdk_passive_floor == floor
    assert again.unsupported("HIGHEST") == calib.unsupported("HIGHEST") == {"replay": 500}
    bad = calib.to_json()
    bad["meta"]["sdk_passive_floor"]["threshold"] = 1.5
    with pytest.raises(ValueError, match="sdk_passive_floor"):
        LivenessCalibration.from_json(bad)


def test_calibration_refuses_non_monotonic_file() -> None:
    data = load_liveness_calibration().to_json()
    data["levels"][3]["threshold"] = data["levels"][2]["threshold"]
    with pytest.raises(ValueError, match="increase"):
        LivenessCalibration.from_json(data)


def test_threshold_parsing() -> None:
    assert parse_threshold(None) == DEFAULT_LEVEL == "BALANCED_VERY_HIGH"
    assert parse_threshold("very_high") == "VERY_HIGH"
    with pytest.raises(ApiError) as none:
        parse_threshold("NONE")
    assert none.value.kind.code == 501
    assert none.value.description.startswith("(/threshold) AS level can not be NONE: use one of")
    with pytest.raises(ApiError) as unknown:
        parse_threshold("EXTREME")
    assert unknown.value.kind.code == 506


# -- metrics ----------------------------------------------------------------------------------
def test_iso_metrics() -> None:
    bona = np.array([0.9, 0.8, 0.7, 0.2])
    attacks = {"print": np.array([0.1, 0.3, 0.75]), "replay": np.array([0.05, 0.5])}
    assert apcer(attacks["print"], 0.5) == pytest.approx(1 / 3)
    assert bpcer(bona, 0.5) == pytest.approx(0.25)
    # APCER <= 1 % for every type needs the threshold above 0.75: BPCER 2/4.
    assert bpcer_at_apcer(bona, attacks, 0.01) == pytest.approx(0.5)
    assert auc(np.array([1.0, 2.0]), np.array([0.0, 3.0])) == pytest.approx(0.5)
    out = summary(bona, attacks, {"X": 0.5})
    assert out["levels"]["X"]["apcer_max"] == pytest.approx(0.5)  # type: ignore[index]


# -- fusion -----------------------------------------------------------------------------------
def test_fusion_respects_physical_signs() -> None:
    rng = np.random.default_rng(1)
    n = 400
    y = rng.random(n) < 0.5
    hf = rng.normal(0, 1, n) - 1.5 * y  # attacks: less detail (sign -1)
    # A cue whose data relation contradicts its physics must get weight 0, not a flipped sign.
    block = rng.normal(0, 1, n) - 1.0 * y
    x = np.stack([hf, block], axis=1)
    model = fit_fusion(x, y, ["hf64", "block"], l2=1.0)
    assert SIGNS["hf64"] == -1 and model.weights[0] < 0
    assert model.weights[1] == pytest.approx(0.0, abs=1e-9)
    p = np.array([model.attack_probability({"hf64": a, "block": b}) for a, b in x])
    assert auc(p[y], p[~y]) > 0.8


def test_fusion_json_round_trip_and_validation() -> None:
    model = load_fusion()
    again = FusionModel.from_json(json.loads(json.dumps(model.to_json())))
    values = {n: 0.3 for n in model.features}
    assert again.liveness_score(values) == pytest.approx(model.liveness_score(values))
    bad = model.to_json()
    bad["features"] = ["colour_of_the_wall"]
    with pytest.raises(ValueError):
        FusionModel.from_json(bad)


# -- device -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "label",
    [
        "OBS Virtual Camera",
        "ManyCam Virtual Webcam",
        "Dummy video device (0x0000)",
        "v4l2loopback",
        "fake_device_0",
        "/home/eve/replay.y4m",
        "C:\\clips\\me.mp4",
        "XSplit VCam",
    ],
)
def test_virtual_cameras_are_insecure(label: str) -> None:
    assert check_device(DeviceInfo(cameraLabel=label)).insecure


@pytest.mark.parametrize(
    "label",
    [
        None,
        "FaceTime HD Camera",
        "Integrated Webcam (0bda:58f4)",
        "Logitech BRIO",
        "HD Pro Webcam C920",
        "Front Camera",
        "camera2 1, facing front",
        "Jobs HD",
    ],
)
def test_real_cameras_are_not_flagged(label: str | None) -> None:
    assert not check_device(DeviceInfo(cameraLabel=label)).insecure


def test_headless_browser_is_insecure() -> None:
    ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36"
    assert check_device(DeviceInfo(userAgent=ua)).insecure


# -- planarity on synthetic geometry ----------------------------------------------------------
def _synthetic_head() -> np.ndarray:
    """468 points on a half-ellipsoid 'face' (units: mm), z towards the camera negative."""
    rng = np.random.default_rng(2)
    u = rng.uniform(-1, 1, 468)
    v = rng.uniform(-1, 1, 468)
    keep = u**2 + v**2 <= 1
    u, v = np.where(keep, u, u * 0.7), np.where(keep, v, v * 0.7)
    x, y = 75 * u, 95 * v
    z = -60 * np.sqrt(np.clip(1 - u**2 - v**2, 0, 1))  # nose region nearest the camera
    pts = np.stack([x, y, z], axis=1)
    pts[33], pts[263] = (-32, -20, -30), (32, -20, -30)  # eye corners for the IOD
    return pts


def _project(pts: np.ndarray, distance: float, f: float = 640.0) -> np.ndarray:
    """Mesh as the landmark model reports it: pixels, z in pixel units at the face's scale."""
    depth = distance + pts[:, 2]
    xy = pts[:, :2] * f / depth[:, None] + np.array([320.0, 240.0])
    scale = f / distance
    return np.column_stack([xy, pts[:, 2] * scale]).astype(np.float32)


def test_planarity_separates_a_head_from_a_photo() -> None:
    head = _synthetic_head()
    rng = np.random.default_rng(3)
    jitter = lambda m: m + np.column_stack([rng.normal(0, 0.3, (468, 2)), np.zeros(468)])  # noqa: E731
    far, near = jitter(_project(head, 600)), jitter(_project(head, 380))
    real = g.planarity(far, near, (640, 480))
    assert real.scale_ratio > 1.4
    assert real.statistic > 0.4, real
    # The same face printed flat: every point at the plane's depth, but the mesh model still
    # reports the face's depth in z (it hallucinates a 3-D face from the photo).
    flat = head.copy()
    flat[:, 2] = 0.0
    far_p, near_p = _project(flat, 600), _project(flat, 380)
    far_p[:, 2], near_p[:, 2] = far[:, 2], near[:, 2]
    photo = g.planarity(jitter(far_p), jitter(near_p), (640, 480))
    assert photo.statistic < 0.0, photo
    assert photo.e_plane < real.e_plane


def test_motion_strength() -> None:
    head = _synthetic_head()
    assert g.motion_strength(_project(head, 500), _project(head, 500)) == pytest.approx(0, abs=1e-6)
    assert g.motion_strength(_project(head, 600), _project(head, 400)) > math.log(1.3)


# -- challenge store --------------------------------------------------------------------------
def test_challenge_store_is_single_use_and_expires(tmp_path: Path) -> None:
    store = ChallengeStore(tmp_path / "c.sqlite3")
    ch = store.issue(now_ms=1_000_000)
    assert ch.expires_ms - ch.issued_ms <= 120_000
    assert set(ch.order) == {"far", "near"}
    other = ChallengeStore(tmp_path / "c.sqlite3")  # another worker on the same file
    claimed = other.claim(ch.id)
    assert claimed is not None and claimed.nonce == ch.nonce and claimed.order == ch.order
    assert store.claim(ch.id) is None
    assert store.claim("no-such-id") is None
    orders = {store.issue().order for _ in range(40)}
    assert orders == {("far", "near"), ("near", "far")}
