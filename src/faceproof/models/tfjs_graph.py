"""A NumPy executor for the inference ops of TensorFlow.js graph models (no TensorFlow).

Pinned npm packages ship some models only as TF.js graphs (``model.json`` + weight shards).
This runs the part of such a graph that leads to the requested outputs, node by node in
topological (file) order, batch 1, float32, NHWC. Each supported op follows TensorFlow's
definition, including TF's SAME padding (extra pixel after) and the legacy
``ResizeBilinear`` sampling (``align_corners = half_pixel_centers = false``). An op or an
attribute outside that set is refused when the graph is loaded, so an upgraded model cannot
be silently mis-executed. Post-processing subgraphs (top-k, gathers) are left to the caller,
who asks for the tensors before them.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]


def _s(attr: Mapping[str, Any], key: str, default: str = "") -> str:
    value = attr.get(key, {}).get("s")
    return base64.b64decode(value).decode("ascii") if value else default


def _ints(attr: Mapping[str, Any], key: str) -> list[int]:
    return [int(v) for v in attr.get(key, {}).get("list", {}).get("i", [])]


def _bool(attr: Mapping[str, Any], key: str) -> bool:
    return bool(attr.get(key, {}).get("b", False))


def fused_ops(node: Mapping[str, Any]) -> list[str]:
    raw = node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])
    return [base64.b64decode(s).decode("ascii") for s in raw]


def load_weights(manifest: list[dict[str, Any]], data: bytes) -> dict[str, Array]:
    """Weights of a TF.js manifest whose shards are concatenated in ``data`` (float32,
    float16-quantised float32, int32)."""
    out: dict[str, Array] = {}
    offset = 0
    for group in manifest:
        for spec in group["weights"]:
            shape = tuple(int(d) for d in spec["shape"])
            count = math.prod(shape) if shape else 1
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


# -- ops ------------------------------------------------------------------------------------
def _same_pads(size: int, k: int, stride: int) -> tuple[int, int]:
    """TensorFlow SAME padding along one axis: the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def _pad_for(x: Array, kh: int, kw: int, sh: int, sw: int, padding: str) -> Array:
    if padding == "VALID":
        return x
    (t, b), (lft, r) = _same_pads(x.shape[0], kh, sh), _same_pads(x.shape[1], kw, sw)
    if t or b or lft or r:
        x = np.pad(x, ((t, b), (lft, r), (0, 0)))
    return x


def _windows(x: Array, kh: int, kw: int, sh: int, sw: int) -> Array:
    """(oh, ow, C, kh, kw) strided view of the padded (H, W, C) input."""
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(0, 1))
    return view[::sh, ::sw]


def conv2d(x: Array, w: Array, strides: tuple[int, int], padding: str) -> Array:
    """(H, W, Cin) * HWIO kernel."""
    kh, kw, cin, cout = w.shape
    sh, sw = strides
    if kh == kw == 1 and padding in ("SAME", "VALID"):
        xs = x[::sh, ::sw]
        return (xs.reshape(-1, cin) @ w.reshape(cin, cout)).reshape(*xs.shape[:2], cout)
    xp = _pad_for(x, kh, kw, sh, sw, padding)
    cols = _windows(xp, kh, kw, sh, sw)  # oh, ow, C, kh, kw
    oh, ow = cols.shape[:2]
    mat = cols.transpose(0, 1, 3, 4, 2).reshape(oh * ow, kh * kw * cin)
    return (mat @ w.reshape(kh * kw * cin, cout)).reshape(oh, ow, cout)


def depthwise(x: Array, w: Array, strides: tuple[int, int], padding: str) -> Array:
    """(H, W, C) depthwise with an (kh, kw, C, 1) kernel: k² shifted multiply-adds."""
    kh, kw, c, mult = w.shape
    if mult != 1:
        raise ValueError("depthwise channel multiplier must be 1")
    sh, sw = strides
    xp = _pad_for(x, kh, kw, sh, sw, padding)
    oh, ow = (xp.shape[0] - kh) // sh + 1, (xp.shape[1] - kw) // sw + 1
    xp = np.asarray(xp, dtype=np.float32)
    out = np.zeros((oh, ow, c), dtype=np.float32)
    tmp = np.empty_like(out)
    for i in range(kh):
        for j in range(kw):
            tap = xp[i : i + (oh - 1) * sh + 1 : sh, j : j + (ow - 1) * sw + 1 : sw]
            np.multiply(tap, w[i, j, :, 0], out=tmp)
            out += tmp
    return out


def max_pool(x: Array, k: tuple[int, int], strides: tuple[int, int], padding: str) -> Array:
    kh, kw = k
    sh, sw = strides
    if padding == "SAME":
        (t, b), (lft, r) = _same_pads(x.shape[0], kh, sh), _same_pads(x.shape[1], kw, sw)
        x = np.pad(x, ((t, b), (lft, r), (0, 0)), constant_values=-np.inf)
    return np.asarray(_windows(x, kh, kw, sh, sw).max(axis=(3, 4)))


def resize_bilinear_legacy(x: Array, size: tuple[int, int]) -> Array:
    """TF ``ResizeBilinear`` with ``align_corners = half_pixel_centers = false``:
    source = destination × (in / out), clamped at the last row/column."""

    def axis(n_in: int, n_out: int) -> tuple[Array, Array, Array]:
        src = np.arange(n_out, dtype=np.float64) * (n_in / n_out)
        lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (src - lo).astype(np.float32)

    (y0, y1, fy), (x0, x1, fx) = axis(x.shape[0], size[0]), axis(x.shape[1], size[1])
    top = x[y0][:, x0] * (1 - fx)[None, :, None] + x[y0][:, x1] * fx[None, :, None]
    bot = x[y1][:, x0] * (1 - fx)[None, :, None] + x[y1][:, x1] * fx[None, :, None]
    return np.asarray(top * (1 - fy)[:, None, None] + bot * fy[:, None, None], dtype=np.float32)


def _activate(y: Array, ops: Iterable[str], node: str) -> Array:
    for op in ops:
        if op == "Relu":
            y = np.maximum(y, 0)
        elif op == "Relu6":
            y = np.clip(y, 0, 6)
        else:
            raise ValueError(f"{node}: unsupported fused op {op}")
    return y


def _spatial(x: Array) -> Array:
    """Batch-1 NHWC → HWC (the executor's layout)."""
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError("batch 1 only")
        return x[0]
    return x


def _conv_like(node: dict[str, Any], args: list[Array]) -> Array:
    attr = node.get("attr", {})
    sh, sw = _ints(attr, "strides")[1:3]
    padding = _s(attr, "padding")
    x = _spatial(args[0])
    if node["op"] in ("_FusedConv2D", "Conv2D"):
        y = conv2d(x, args[1], (sh, sw), padding)
    else:
        y = depthwise(x, args[1], (sh, sw), padding)
    ops = fused_ops(node)
    if ops:
        if ops[0] != "BiasAdd":
            raise ValueError(f"{node['name']}: fused ops must start with BiasAdd")
        y = _activate(y + args[2], ops[1:], node["name"])
    return y.astype(np.float32)


def _mean(node: dict[str, Any], args: list[Array]) -> Array:
    x, axes = args[0], [int(a) for a in np.atleast_1d(args[1])]
    # The executor drops the batch axis: NHWC axis a is HWC axis a − 1.
    axes = [a - 1 if a > 0 else a for a in axes] if x.ndim == 3 else axes
    keep = _bool(node.get("attr", {}), "keep_dims")
    return np.asarray(x.mean(axis=tuple(axes), keepdims=keep), dtype=np.float32)


def _concat(node: dict[str, Any], args: list[Array]) -> Array:
    axis = int(args[-1])
    parts = args[:-1]
    if axis > 0 and parts[0].ndim == 3:
        axis -= 1
    return np.concatenate(parts, axis=axis)


def _resize(node: dict[str, Any], args: list[Array]) -> Array:
    attr = node.get("attr", {})
    if _bool(attr, "align_corners") or _bool(attr, "half_pixel_centers"):
        raise ValueError(f"{node['name']}: only legacy ResizeBilinear sampling is supported")
    h, w = (int(v) for v in args[1])
    return resize_bilinear_legacy(_spatial(args[0]), (h, w))


def _maxpool(node: dict[str, Any], args: list[Array]) -> Array:
    attr = node.get("attr", {})
    k, s = _ints(attr, "ksize")[1:3], _ints(attr, "strides")[1:3]
    return max_pool(_spatial(args[0]), (k[0], k[1]), (s[0], s[1]), _s(attr, "padding"))


def _matmul(node: dict[str, Any], args: list[Array]) -> Array:
    y = args[0].reshape(1, -1) @ args[1]
    ops = fused_ops(node)
    if ops:
        y = _activate(y + args[2], ops[1:], node["name"])
    return np.asarray(y, dtype=np.float32)


Op = Callable[[dict[str, Any], list[Array]], Array]
OPS: dict[str, Op] = {
    "_FusedConv2D": _conv_like,
    "Conv2D": _conv_like,
    "FusedDepthwiseConv2dNative": _conv_like,
    "DepthwiseConv2dNative": _conv_like,
    "MaxPool": _maxpool,
    "Mean": _mean,
    "ConcatV2": _concat,
    "ResizeBilinear": _resize,
    "_FusedMatMul": _matmul,
    "Relu": lambda n, a: np.maximum(a[0], 0),
    "Relu6": lambda n, a: np.clip(a[0], 0, 6),
    "Sigmoid": lambda n, a: (1.0 / (1.0 + np.exp(-a[0]))).astype(np.float32),
    "Mul": lambda n, a: np.multiply(a[0], a[1], dtype=np.float32),
    "Add": lambda n, a: np.add(a[0], a[1], dtype=np.float32),
    "AddV2": lambda n, a: np.add(a[0], a[1], dtype=np.float32),
    "Sub": lambda n, a: np.subtract(a[0], a[1], dtype=np.float32),
    "Reshape": lambda n, a: a[0].reshape([int(d) for d in np.atleast_1d(a[1])]),
    "Identity": lambda n, a: a[0],
}


def _check(node: dict[str, Any]) -> None:
    op, attr = node["op"], node.get("attr", {})
    if op not in OPS:
        raise ValueError(f"unsupported TF.js op {op} ({node['name']})")
    if "data_format" in attr and _s(attr, "data_format") != "NHWC":
        raise ValueError(f"{node['name']}: only NHWC is supported")
    if "padding" in attr and _s(attr, "padding") not in ("SAME", "VALID"):
        raise ValueError(f"{node['name']}: padding {_s(attr, 'padding')} is not supported")
    if any(d != 1 for d in _ints(attr, "dilations")):
        raise ValueError(f"{node['name']}: dilated convolutions are not supported")
    ops = fused_ops(node)
    if ops and (ops[0] != "BiasAdd" or any(o not in ("Relu", "Relu6") for o in ops[1:])):
        raise ValueError(f"{node['name']}: unsupported fused ops {ops}")


class TfjsGraph:
    """One TF.js graph, pruned to what ``outputs`` need; ``run`` maps inputs to outputs."""

    def __init__(self, graph_path: Path, weights_path: Path, outputs: Iterable[str]) -> None:
        graph = json.loads(Path(graph_path).read_text())
        self.weights = load_weights(graph["weightsManifest"], Path(weights_path).read_bytes())
        nodes: list[dict[str, Any]] = graph["modelTopology"]["node"]
        by_name = {n["name"]: n for n in nodes}
        self.outputs = list(outputs)
        needed: set[str] = set()
        stack = list(self.outputs)
        while stack:
            name = stack.pop().split(":")[0]
            if name in needed:
                continue
            if name not in by_name:
                raise ValueError(f"graph has no node {name}")
            needed.add(name)
            stack.extend(i for i in by_name[name].get("input", []) if not i.startswith("^"))
        self.inputs = [n["name"] for n in nodes if n["op"] == "Placeholder" and n["name"] in needed]
        self.nodes = [n for n in nodes if n["name"] in needed and n["op"] not in _LEAVES]
        for node in self.nodes:
            _check(node)
        missing = [
            n["name"] for n in nodes if n["op"] == "Const" and n["name"] in needed
            and n["name"] not in self.weights
        ]  # fmt: skip
        if missing:
            raise ValueError(f"constants without weights: {missing[:3]}")

    def run(self, feeds: Mapping[str, Array]) -> dict[str, Array]:
        """Feeds by input name (NHWC batch 1 or HWC); outputs by name (HWC for images)."""
        values: dict[str, Array] = dict(self.weights)
        for name in self.inputs:
            values[name] = _spatial(np.asarray(feeds[name], dtype=np.float32))
        for node in self.nodes:
            args = [values[i.split(":")[0]] for i in node.get("input", []) if i[0] != "^"]
            values[node["name"]] = OPS[node["op"]](node, args)
        return {name: values[name] for name in self.outputs}


_LEAVES = {"Const", "Placeholder"}
