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
from faceproof.liveness.levels import load_calibration
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
    fusion, calib = load_fusion(), load_calibration()
    assert tuple(fusion.features) == tr.SHIPPED_FEATURES
    assert calib.meta["fusion_sha256"] == fusion.digest
    assert "worst attack type" in calib.meta["calibrated_on"]
    assert 0.0 < calib.sdk_passive_floor < calib.thresholds["LOW"]
