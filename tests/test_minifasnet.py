"""The converted MiniFASNet pair: equal to the PyTorch originals, pinned, cropped as upstream,
and right on the full-frame images of its own source."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from faceproof.liveness import minifasnet as mfn
from faceproof.models import store
from imaging import DATA, LIVE_VIDEO, load_rgb, video_frames

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO.parent / "shared" / "models" / "silentface"
PAD = DATA / "pad"
FULL_FRAMES = {
    "live/silentface__image_T1.jpg": "live",
    "spoof/print_photo/silentface__image_F1.jpg": "spoof",
    "spoof/replay_screen/silentface__image_F2.jpg": "spoof",
}
REPLAY_VIDEO = DATA / "video" / "apfol__fake2__replay_attack_phone.webm"


def _converter() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "convert_minifasnet", REPO / "tools" / "convert_minifasnet.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dev_crops() -> list[np.ndarray]:
    """80×80 network inputs from real dev images: each network's window around a fixed
    central box of full frames, and whole PAD face crops (RGB)."""
    images = [load_rgb(PAD / p) for p in FULL_FRAMES if (PAD / p).is_file()]
    images += [load_rgb(p) for p in sorted((PAD / "live").glob("apfol__*.png"))[:3]]
    images += [
        load_rgb(p) for p in sorted((PAD / "spoof" / "replay_screen_crop").glob("*.png"))[:3]
    ]
    if LIVE_VIDEO.is_file():
        images += list(video_frames()[:2])
    if len(images) < 6:
        pytest.skip("dev images not present")
    crops = []
    for rgb in images:
        h, w = rgb.shape[:2]
        box = (0.35 * w, 0.3 * h, 0.65 * w, 0.3 * h + 0.3 * w)
        for _, scale in mfn.NETWORKS:
            crops.append(mfn.crop_window(rgb, mfn.upstream_box(box), scale)[0])
    return crops


def test_converted_models_match_the_pytorch_originals() -> None:
    torch = pytest.importorskip("torch")
    if not WEIGHTS.is_dir():
        pytest.skip("../shared/models/silentface not present")
    conv = _converter()
    crops = _dev_crops()
    batch = np.concatenate([mfn.network_input(c) for c in crops])
    sessions = {name: mfn.onnx_session(mfn.bundled_dir() / name) for name, _ in mfn.NETWORKS}
    for name, (pth, digest) in conv.SOURCES.items():
        net = conv.build(WEIGHTS / pth, digest)
        with torch.no_grad():
            want = net(torch.from_numpy(batch)).numpy()
        got = np.concatenate(
            [sessions[name].run(None, {"input": batch[i : i + 1]})[0] for i in range(len(batch))]
        )
        assert got.shape == want.shape == (len(batch), 3)
        print(f"{name}: max |onnx - torch| = {np.abs(got - want).max():.2e}")
        assert np.abs(got - want).max() <= 1e-4, name
        # The inputs are varied enough for the check to mean something.
        assert want[:, mfn.REAL_CLASS].max() > 0.9 and want[:, mfn.REAL_CLASS].min() < 0.25


def test_converter_rebuilds_the_structure_strictly() -> None:
    """A state dict with one tensor missing or unexpected does not load (strict)."""
    torch = pytest.importorskip("torch")
    if not WEIGHTS.is_dir():
        pytest.skip("../shared/models/silentface not present")
    conv = _converter()
    pth, digest = conv.SOURCES["MiniFASNetV1SE_4.0_80x80.onnx"]
    sd = conv.load_state_dict(WEIGHTS / pth, digest)
    assert any(".se_module." in k for k in sd)
    net = conv.MiniFASNet(sd)
    broken = dict(sd)
    broken.pop("prob.weight")
    with pytest.raises(RuntimeError):
        net.load_state_dict(broken, strict=True)
    assert isinstance(net, torch.nn.Module)


def test_bundled_files_are_pinned_and_noticed() -> None:
    manifest = store.load_manifest()
    for name, _ in mfn.NETWORKS:
        entry = manifest.entry(name)
        assert entry.bundled and "Apache-2.0" in entry.license
        path = entry.path(Path("/nonexistent-store"))
        assert path == mfn.bundled_dir() / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256
        assert path.stat().st_size == entry.size
    notice = (mfn.bundled_dir() / "NOTICE").read_text()
    assert "b6d5f04a" in notice and "Apache License, Version 2.0" in notice
    assert "tools/convert_minifasnet.py" in notice
    assert "Apache License" in (mfn.bundled_dir() / "LICENSE").read_text()


def test_an_altered_bundled_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify / require_models check the bundled files like the store's (package copied)."""
    fake_pkg = tmp_path / "pkg"
    shutil.copytree(mfn.bundled_dir(), fake_pkg / "models" / "minifasnet")
    monkeypatch.setattr(store, "PACKAGE_ROOT", fake_pkg)
    names = [n for n, _ in mfn.NETWORKS]
    assert store.verify(tmp_path / "store", names) == []
    target = fake_pkg / "models" / "minifasnet" / names[1]
    data = bytearray(target.read_bytes())
    data[5000] ^= 0x01
    target.write_bytes(bytes(data))
    problems = store.verify(tmp_path / "store", names)
    assert [(p.name, p.kind) for p in problems] == [(names[1], "mismatch")]
    assert "reinstall faceproof" in problems[0].message
    with pytest.raises(store.ConfigError, match="digest mismatch"):
        store.require_models(tmp_path / "store", names)
    from faceproof.models.fetch import FetchError, fetch

    with pytest.raises(FetchError, match="bundled model file mismatch"):
        fetch(tmp_path / "store", names=names, download=lambda a, d: d)


def test_manifest_json_lists_the_pair_as_bundled() -> None:
    raw = json.loads((REPO / "src/faceproof/models/manifest.json").read_text())
    bundled = [m for m in raw["models"] if m["registry"] == "bundled"]
    assert {m["name"] for m in bundled} == {n for n, _ in mfn.NETWORKS}
    assert all(m["path_in_package"].startswith("models/minifasnet/") for m in bundled)


# -- crops -----------------------------------------------------------------------------------
def test_upstream_box_mapping() -> None:
    x, y, w, h = mfn.upstream_box((100.0, 200.0, 200.0, 300.0))
    assert (w, h) == pytest.approx((83.0, 122.0))
    assert x + w / 2 == pytest.approx(150.0)
    assert y + h / 2 == pytest.approx(250.0 - 7.0)


def test_window_fits_shrinks_and_shifts_like_upstream() -> None:
    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb[:, 320:] = 255  # right half white
    ubox = (300.0, 200.0, 40.0, 50.0)
    crop, ctx = mfn.crop_window(rgb, ubox, 2.7)
    assert ctx == 1.0 and crop.shape == (80, 80, 3)
    # 54 px window centred at x=320 → half black, half white
    assert crop[:, :35].max() == 0 and crop[:, 45:].min() == 255
    # Face at the left border: the window is shifted right, not padded
    crop, ctx = mfn.crop_window(rgb, (0.0, 200.0, 40.0, 50.0), 2.7)
    assert ctx == 1.0 and crop[:, 0].max() == 0
    # A box too large for the image: the scale shrinks to what fits
    crop, ctx = mfn.crop_window(rgb, (200.0, 100.0, 200.0, 300.0), 4.0)
    assert ctx == pytest.approx((479 / 300) / 4.0)
    assert mfn.context((640, 480), (200.0, 100.0, 300.0, 200.0)) == pytest.approx(
        min(2.7, 479 / 122, 639 / 83) / 2.7
    )


def test_network_input_is_bgr_raw_nchw() -> None:
    crop = np.zeros((80, 80, 3), np.uint8)
    crop[..., 0] = 200  # red
    x = mfn.network_input(crop)
    assert x.shape == (1, 3, 80, 80) and x.dtype == np.float32
    assert x[0, 2].max() == 200.0 and x[0, 0].max() == 0.0  # red lands in channel 2 (BGR)


# -- behaviour on its own source's full frames (needs the face detector) ----------------------
@pytest.mark.models
def test_pair_separates_its_source_full_frames(models_path: Path) -> None:
    from faceproof.pipeline.decode import decode_image
    from faceproof.pipeline.engine import FaceEngine

    engine = FaceEngine(models_path)
    pair = mfn.MiniFASNetPair()
    for rel, label in FULL_FRAMES.items():
        if not (PAD / rel).is_file():
            pytest.skip("silentface images not present")
        rgb = decode_image((PAD / rel).read_bytes()).rgb  # upright (EXIF), as the API sees it
        det = engine.find_faces(rgb, "document").main
        assert det is not None
        s = pair.score(rgb, det)
        assert s.context_v2 >= mfn.MIN_CONTEXT, rel
        assert (s.score > 0.9) if label == "live" else (s.score < 0.3), (rel, s)


@pytest.mark.models
def test_phone_replay_frames_score_low_and_live_frames_high(models_path: Path) -> None:
    from faceproof.pipeline.engine import FaceEngine

    if not REPLAY_VIDEO.is_file() or not LIVE_VIDEO.is_file():
        pytest.skip("videos not present")
    engine = FaceEngine(models_path)
    pair = mfn.MiniFASNetPair()

    def scores(path: Path) -> list[float]:
        out = []
        for rgb in video_frames(path, step=25, limit=8):
            det = engine.find_faces(rgb, "document").main
            if det is not None:
                out.append(pair.score(rgb, det).score)
        return out

    live, replay = scores(LIVE_VIDEO), scores(REPLAY_VIDEO)
    assert len(live) >= 5 and len(replay) >= 5
    assert min(live) > 0.8 and max(replay) < 0.2, (live, replay)
