"""Training/evaluation plumbing: the private cue cache, `liveness train --out`, the fixed
MiniFASNet-pair model and the shipped fusion/calibration files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from faceproof.liveness import train as tr
from faceproof.liveness.fusion import load_fusion
from faceproof.liveness.levels import load_liveness_calibration
from faceproof.private_cache import PrivateCacheError


def test_cue_cache_defaults_to_a_private_user_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = tr.CueCache(tr.DEFAULT_CACHE)
    assert cache.path is not None and cache.path.parent == tmp_path / "xdg" / "faceproof"
    cache.put("abc:orig", {"mfn": 1.5})
    cache.save()
    assert stat.S_IMODE(cache.path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert tr.CueCache(tr.DEFAULT_CACHE).get("abc:orig") == {"mfn": 1.5}


def test_cue_cache_refuses_shared_directories_and_planted_files(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(PrivateCacheError, match="shared"):
        tr.CueCache(shared)
    if os.geteuid() != 0:  # /tmp is sticky and world-writable: refused too
        with pytest.raises(PrivateCacheError):
            tr.CueCache(Path("/tmp"))
    own = tmp_path / "own"
    cache = tr.CueCache(own)  # created 0700
    assert stat.S_IMODE(own.stat().st_mode) == 0o700
    assert cache.path is not None
    # A file someone else could write is not read.
    cache.path.write_text(json.dumps({"x": 1}))
    os.chmod(cache.path, 0o666)
    with pytest.raises(PrivateCacheError):
        tr.CueCache(own)
    # A symlink planted at the cache path is not followed.
    cache.path.unlink()
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    cache.path.symlink_to(target)
    with pytest.raises(PrivateCacheError):
        tr.CueCache(own)


def test_train_needs_an_explicit_out_folder(tmp_path: Path) -> None:
    from faceproof.cli.liveness_train import train_cmd

    (tmp_path / "live").mkdir()
    (tmp_path / "spoof").mkdir()
    r = CliRunner().invoke(
        train_cmd, ["--live", str(tmp_path / "live"), "--spoof", str(tmp_path / "spoof")]
    )
    assert r.exit_code == 2 and "--out" in r.output


def test_pair_model_is_upstreams_mean_probability() -> None:
    from faceproof.liveness.fusion import logit

    model = tr.pair_model()
    for p in (0.001, 0.3, 0.5, 0.97):
        assert model.liveness_score({"mfn": logit(p)}) == pytest.approx(p, abs=1e-9)
    x = np.array([[logit(0.2)], [logit(0.9)]])
    assert tr.scores_of(model, x) == pytest.approx([0.2, 0.9], abs=1e-9)


def test_shipped_fusion_and_calibration_belong_together() -> None:
    fusion, calib = load_fusion(), load_liveness_calibration()
    assert tuple(fusion.features) == tr.SHIPPED_FEATURES
    assert calib.meta["fusion_sha256"] == fusion.digest
    assert "worst attack type" in calib.meta["calibrated_on"]
    assert 0.0 < calib.sdk_passive_floor < calib.thresholds["LOW"]


def test_leave_one_source_out_refits_per_fold_and_calibrates_on_the_worst_type() -> None:
    """Synthetic cue table, three sources: each fold is fitted on the other two only, single
    cues are used as they are (physical sign, nothing fitted), levels per attack type."""
    rng = np.random.default_rng(7)
    samples, rows = [], []
    for source, shift in (("a", 0.0), ("b", 1.0), ("c", -1.0)):
        for i in range(60):
            live = i % 3 == 0
            attack = "none" if live else ("print" if i % 3 == 1 else "replay")
            samples.append(
                tr.Sample(Path(f"{source}{i}.png"), "live" if live else "spoof", attack, source)
            )
            mfn = (2.0 if live else -2.0) + rng.normal(0, 1) + shift
            noise = (0.5 if live else -0.5) + rng.normal(0, 1)
            rows.append([mfn, noise])
    table = tr.Table(samples, np.array(rows), ["mfn", "noise64"], np.ones(len(samples)), [])
    single = tr.leave_one_source_out(table, ("mfn",), 200.0)
    assert set(single["folds"]) == {"a", "b", "c"}
    assert all(f["weights"] == {"mfn": -1.0} for f in single["folds"].values())
    fused = tr.leave_one_source_out(table, ("mfn", "noise64"), 200.0)
    for held, fold in fused["folds"].items():
        assert fold["trained_on"] == sorted({"a", "b", "c"} - {held})
        test = fold["test"]
        assert set(test["n_attack"]) == {"print", "replay"} and test["n_bona_fide"] == 20
        assert test["auc"] > 0.9
        lv = test["levels"]["LOW"]
        assert set(lv["apcer"]) == {"print", "replay"} and lv["apcer_max"] == max(
            lv["apcer"].values()
        )
