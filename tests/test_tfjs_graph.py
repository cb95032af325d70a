"""The NumPy TF.js executor: each op against a plain loop written from TensorFlow's definition,
and whole graphs (the liveness CNN, the COCO detector) on real inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from faceproof.models.tfjs_graph import (
    TfjsGraph,
    conv2d,
    depthwise,
    max_pool,
    resize_bilinear_legacy,
)


def _same_pad(n: int, k: int, s: int) -> tuple[int, int]:
    out = (n + s - 1) // s
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _naive(x: np.ndarray, w: np.ndarray, s: int, padding: str, kind: str) -> np.ndarray:
    """Direct sums: out[i, j, o] = Σ x[i·s + a − top, j·s + b − left, c] · w[a, b, c, o]."""
    kh, kw = w.shape[:2]
    h, wd, c = x.shape
    if padding == "SAME":
        (t, _), (lf, _) = _same_pad(h, kh, s), _same_pad(wd, kw, s)
        oh, ow = (h + s - 1) // s, (wd + s - 1) // s
    else:
        t = lf = 0
        oh, ow = (h - kh) // s + 1, (wd - kw) // s + 1
    cout = w.shape[3] if kind == "conv" else c
    out = np.zeros((oh, ow, cout))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    y, xx = i * s + a - t, j * s + b - lf
                    if 0 <= y < h and 0 <= xx < wd:
                        if kind == "conv":
                            out[i, j] += x[y, xx] @ w[a, b]
                        else:
                            out[i, j] += x[y, xx] * w[a, b, :, 0]
    return out


@pytest.mark.parametrize(
    ("size", "k", "s", "padding"),
    [((9, 7), 3, 1, "SAME"), ((9, 7), 3, 2, "SAME"), ((8, 8), 3, 2, "SAME"),
     ((9, 7), 3, 1, "VALID"), ((10, 6), 1, 2, "SAME"), ((7, 9), 5, 2, "SAME")],
)  # fmt: skip
def test_conv_and_depthwise_follow_tensorflow_padding(
    size: tuple[int, int], k: int, s: int, padding: str
) -> None:
    rng = np.random.default_rng(k * 10 + s)
    x = rng.normal(size=(*size, 3)).astype(np.float32)
    w = rng.normal(size=(k, k, 3, 4)).astype(np.float32)
    got = conv2d(x, w, (s, s), padding)
    assert np.allclose(got, _naive(x, w, s, padding, "conv"), atol=1e-4)
    wd = rng.normal(size=(k, k, 3, 1)).astype(np.float32)
    got = depthwise(x, wd, (s, s), padding)
    assert np.allclose(got, _naive(x, wd, s, padding, "depthwise"), atol=1e-4)


def test_max_pool_same_ignores_padding() -> None:
    x = -np.arange(5 * 4 * 2, dtype=np.float32).reshape(5, 4, 2) - 1  # all negative
    got = max_pool(x, (3, 3), (1, 1), "SAME")
    for i in range(5):
        for j in range(4):
            win = x[max(0, i - 1) : i + 2, max(0, j - 1) : j + 2]
            assert np.array_equal(got[i, j], win.max(axis=(0, 1)))


def test_legacy_bilinear_resize() -> None:
    x = np.arange(3 * 4, dtype=np.float32).reshape(3, 4, 1)
    got = resize_bilinear_legacy(x, (6, 8))[:, :, 0]
    # source = destination × in/out (no half-pixel shift), clamped at the far edge
    for i in range(6):
        for j in range(8):
            sy, sx = i * 3 / 6, j * 4 / 8
            y0, x0 = int(sy), int(sx)
            y1, x1 = min(y0 + 1, 2), min(x0 + 1, 3)
            fy, fx = sy - y0, sx - x0
            v = x[:, :, 0]
            want = (v[y0, x0] * (1 - fx) + v[y0, x1] * fx) * (1 - fy) + (
                v[y1, x0] * (1 - fx) + v[y1, x1] * fx
            ) * fy
            assert got[i, j] == pytest.approx(want, abs=1e-5)


def test_unsupported_ops_are_refused_at_load(tmp_path: Path) -> None:
    graph = {
        "modelTopology": {"node": [
            {"name": "x", "op": "Placeholder"},
            {"name": "y", "op": "Softplus", "input": ["x"]},
        ]},
        "weightsManifest": [{"paths": ["w.bin"], "weights": []}],
    }  # fmt: skip
    (tmp_path / "g.json").write_text(json.dumps(graph))
    (tmp_path / "w.bin").write_bytes(b"")
    with pytest.raises(ValueError, match=r"unsupported TF\.js op Softplus"):
        TfjsGraph(tmp_path / "g.json", tmp_path / "w.bin", ["y"])
    with pytest.raises(ValueError, match="no node"):
        TfjsGraph(tmp_path / "g.json", tmp_path / "w.bin", ["z"])


@pytest.mark.models
def test_liveness_cnn_runs_as_its_keras_layers(models_path: Path) -> None:
    """The antispoof graph is conv → pool → … → dense → sigmoid; recompute it by hand."""
    g = models_path / "antispoof.json"
    if not g.is_file():
        pytest.skip("antispoof model not fetched")
    net = TfjsGraph(g, models_path / "antispoof.bin", ["Identity"])
    x = np.random.default_rng(3).random((128, 128, 3)).astype(np.float32)
    got = float(net.run({net.inputs[0]: x})["Identity"].reshape(-1)[0])
    h: np.ndarray = x
    for node in net.nodes:
        op = node["op"]
        args: list[Any] = [net.weights.get(i) for i in node.get("input", [])]
        if op == "_FusedConv2D":
            h = _naive(h, args[1], 1, "VALID", "conv") + args[2]
        elif op == "MaxPool":
            hh, ww = h.shape[0] // 2, h.shape[1] // 2
            h = h[: hh * 2, : ww * 2].reshape(hh, 2, ww, 2, -1).max(axis=(1, 3))
        elif op == "Relu":
            h = np.maximum(h, 0)
        elif op == "Reshape":
            h = h.reshape(1, -1)
        elif op == "_FusedMatMul":
            h = h @ args[1] + args[2]
            if "UmVsdQ==" in json.dumps(node["attr"]["fused_ops"]):  # base64 "Relu"
                h = np.maximum(h, 0)
        elif op == "Sigmoid":
            h = 1 / (1 + np.exp(-h))
    assert got == pytest.approx(float(np.asarray(h).reshape(-1)[0]), abs=1e-5)
    assert 0.0 < got < 1.0
