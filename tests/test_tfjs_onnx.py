"""The COCO object model on onnxruntime (models/tfjs_onnx) against the NumPy executor it
replaces in the server: same tensors up to float32 summation order, same objects decoded,
on real photos (dogs, groups, portraits); a graph op it does not translate is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceproof.models.centernet import (
    GRAPH_FILE,
    HEATMAP,
    INPUT,
    SIZES,
    WEIGHTS_FILE,
    CenterNetObjects,
)
from faceproof.models.tfjs_graph import TfjsGraph
from faceproof.models.tfjs_onnx import OnnxTfjsGraph, to_onnx

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _photos() -> list[Path]:
    picks = sorted((DATA / "misc" / "no_face").glob("*"))[:6]
    picks += sorted((DATA / "misc" / "multi_face").rglob("*.jpg"))[:3]
    picks += sorted((DATA / "verify" / "extra" / "deepface_unit_dataset").rglob("*.jpg"))[:3]
    return [p for p in picks if p.suffix.lower() in (".jpg", ".jpeg", ".png")]


@pytest.fixture(scope="module")
def pair(models_path: Path) -> tuple[CenterNetObjects, CenterNetObjects]:
    if not (models_path / GRAPH_FILE).is_file():
        pytest.skip("centernet model not fetched")
    return (
        CenterNetObjects(models_path, runtime="onnx"),
        CenterNetObjects(models_path, runtime="numpy"),
    )


def _rgb(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def test_tensors_match_the_numpy_executor(models_path: Path) -> None:
    if not (models_path / GRAPH_FILE).is_file():
        pytest.skip("centernet model not fetched")
    graph = TfjsGraph(models_path / GRAPH_FILE, models_path / WEIGHTS_FILE, [HEATMAP, SIZES])
    fast = OnnxTfjsGraph(graph, (512, 512, 3))
    photos = _photos()
    assert len(photos) >= 8
    for path in photos[:4]:
        import cv2

        x = cv2.resize(_rgb(path), (512, 512), interpolation=cv2.INTER_AREA).astype(np.float32)
        want, got = graph.run({INPUT: x}), fast.run({INPUT: x})
        # Heatmap scores in [0, 1]: seen ≤ 1.1e-6; box sizes up to ~330 px: seen ≤ 0.0045 px.
        assert np.abs(want[HEATMAP] - got[HEATMAP]).max() < 1e-5, path.name
        assert np.abs(want[SIZES] - got[SIZES]).max() < 0.05, path.name


def test_same_objects_as_the_numpy_executor(
    pair: tuple[CenterNetObjects, CenterNetObjects],
) -> None:
    fast, reference = pair
    checked = 0
    for path in _photos():
        rgb = _rgb(path)
        want, got = reference.detect(rgb), fast.detect(rgb)
        # A peak sitting on a neighbour's value to within 1e-6 could flip; none does here.
        assert [o.label for o in got] == [o.label for o in want], path.name
        for a, b in zip(got, want, strict=True):
            assert abs(a.score - b.score) < 1e-5
            assert np.allclose(a.box, b.box, atol=0.05)
        checked += len(want)
    assert checked > 10  # the photos do hold objects (people, dogs)


def test_untranslated_ops_are_refused(models_path: Path) -> None:
    if not (models_path / GRAPH_FILE).is_file():
        pytest.skip("centernet model not fetched")
    graph = TfjsGraph(models_path / GRAPH_FILE, models_path / WEIGHTS_FILE, [HEATMAP, SIZES])
    graph.nodes = [*graph.nodes, {"name": "odd", "op": "MaxPool", "input": [HEATMAP]}]
    with pytest.raises(ValueError, match=r"unsupported TF\.js op MaxPool"):
        to_onnx(graph, (512, 512, 3))
