"""The same TF.js graph as :class:`~faceproof.models.tfjs_graph.TfjsGraph`, run by onnxruntime.

:class:`TfjsGraph` executes a graph op by op in NumPy: exact to TensorFlow's definitions and
easy to check, but the COCO object model behind the animal check
(:mod:`faceproof.models.centernet`, 512×512 MobileNetV3) costs about 260 ms of CPU there,
most of it in NumPy depthwise convolutions. :func:`to_onnx` translates the already pruned and
checked node list into an equivalent ONNX graph in memory (NCHW, one transpose at the input
and one per output; nothing written to disk) that onnxruntime runs on one thread in about a
fifth of that. The ONNX protobuf is written by the few lines of :class:`_Proto` (the fields
of onnx.proto it needs): the ``onnx`` package takes seconds to import, at every worker
start. Only the ops the graph uses are translated; anything else is refused, so an
upgraded model cannot be silently mis-executed.

Equivalence: TF's SAME padding is ONNX's ``SAME_UPPER`` (the odd pixel after), TF's legacy
``ResizeBilinear`` (no align_corners, no half-pixel centres) is ONNX ``Resize`` with the
``asymmetric`` transform; constants in element-wise ops must be scalars (they are in the
shipped graphs). Results differ from the NumPy executor only by float32 summation order:
``tests/test_tfjs_onnx.py`` bounds the difference on real photos and checks the decoded
objects are the same.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from faceproof import inference_timing
from faceproof.models.runtime import onnx_session
from faceproof.models.tfjs_graph import Array, TfjsGraph, _bool, _ints, _s, fused_ops

OPSET = 17
IR_VERSION = 8


def to_onnx(graph: TfjsGraph, input_shape: tuple[int, int, int]) -> bytes:
    """ONNX model bytes for ``graph`` with its single input fixed at ``input_shape`` (H, W, C),
    batch 1; inputs and outputs stay NHWC as :meth:`TfjsGraph.run` takes and gives them."""
    if len(graph.inputs) != 1:
        raise ValueError("one graph input is supported")
    nodes: list[bytes] = []
    inits: list[bytes] = []
    consts: set[str] = set()

    def const(name: str, value: Array) -> str:
        if name not in consts:
            consts.add(name)
            inits.append(_Proto.tensor(name, np.ascontiguousarray(value)))
        return name

    def name_of(ref: str) -> str:
        return ref.split(":")[0]

    def scalar(ref: str, node: Mapping[str, Any]) -> str:
        value = graph.weights[ref]
        if value.size != 1:
            raise ValueError(f"{node['name']}: only scalar constants are supported")
        return const(ref, np.asarray(value, dtype=np.float32).reshape(()))

    src = graph.inputs[0]
    nodes.append(_Proto.node("Transpose", [src], [f"{src}__nchw"], perm=[0, 3, 1, 2]))
    alias = {src: f"{src}__nchw"}

    def arg(ref: str, node: Mapping[str, Any]) -> str:
        ref = name_of(ref)
        if ref in alias:
            return alias[ref]
        if ref in graph.weights:
            return scalar(ref, node)
        return ref

    for node in graph.nodes:
        op, out, attr = node["op"], node["name"], node.get("attr", {})
        ins = [name_of(i) for i in node.get("input", []) if not i.startswith("^")]
        if op in ("_FusedConv2D", "Conv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
            kernel = graph.weights[ins[1]]
            kh, kw = kernel.shape[:2]
            if "Depthwise" in op:
                oihw = kernel.transpose(2, 3, 0, 1)  # (kh, kw, C, 1) -> (C, 1, kh, kw)
                group = int(kernel.shape[2])
            else:
                oihw = kernel.transpose(3, 2, 0, 1)  # HWIO -> OIHW
                group = 1
            conv_in = [arg(ins[0], node), const(f"{ins[1]}__oihw", oihw)]
            ops = fused_ops(node)
            if ops:
                if ops[0] != "BiasAdd":
                    raise ValueError(f"{out}: fused ops must start with BiasAdd")
                conv_in.append(const(ins[2], graph.weights[ins[2]].astype(np.float32)))
            padding = _s(attr, "padding")
            pad = {"SAME": "SAME_UPPER", "VALID": "VALID"}[padding]
            strides = _ints(attr, "strides")[1:3]
            acts = ops[1:] if ops else []
            target = out if not acts else f"{out}__conv"
            nodes.append(
                _Proto.node(
                    "Conv",
                    conv_in,
                    [target],
                    kernel_shape=[kh, kw],
                    strides=strides,
                    auto_pad=pad,
                    group=group,
                )
            )
            for k, act in enumerate(acts):
                nxt = out if k == len(acts) - 1 else f"{out}__act{k}"
                nodes.append(_activation(act, target, nxt, out, const))
                target = nxt
        elif op in ("Relu", "Relu6"):
            nodes.append(_activation(op, arg(ins[0], node), out, out, const))
        elif op in ("Mul", "Add", "AddV2", "Sub"):
            onnx_op = {"Mul": "Mul", "Add": "Add", "AddV2": "Add", "Sub": "Sub"}[op]
            nodes.append(_Proto.node(onnx_op, [arg(i, node) for i in ins], [out]))
        elif op == "Sigmoid":
            nodes.append(_Proto.node("Sigmoid", [arg(ins[0], node)], [out]))
        elif op == "Identity":
            nodes.append(_Proto.node("Identity", [arg(ins[0], node)], [out]))
        elif op == "Mean":
            axes = [int(a) for a in np.atleast_1d(graph.weights[ins[1]])]
            if sorted(axes) != [1, 2]:
                raise ValueError(f"{out}: only spatial means are supported")
            keep = 1 if _bool(attr, "keep_dims") else 0
            if not keep:
                raise ValueError(f"{out}: only keep_dims means are supported")
            nodes.append(
                _Proto.node("ReduceMean", [arg(ins[0], node)], [out], axes=[2, 3], keepdims=1)
            )
        elif op == "ConcatV2":
            axis = int(graph.weights[ins[-1]])
            nchw = {3: 1, -1: 1, 1: 2, 2: 3}.get(axis)
            if nchw is None:
                raise ValueError(f"{out}: concat axis {axis} is not supported")
            nodes.append(_Proto.node("Concat", [arg(i, node) for i in ins[:-1]], [out], axis=nchw))
        elif op == "ResizeBilinear":
            if _bool(attr, "align_corners") or _bool(attr, "half_pixel_centers"):
                raise ValueError(f"{out}: only legacy ResizeBilinear sampling is supported")
            rh, rw = (int(v) for v in graph.weights[ins[1]])
            # ``sizes`` needs all four dimensions: batch and channels from the input.
            shape = f"{out}__shape"
            nodes.append(_Proto.node("Shape", [arg(ins[0], node)], [shape], end=2))
            sizes = f"{out}__sizes"
            hw = const(f"{out}__hw", np.array([rh, rw], dtype=np.int64))
            nodes.append(_Proto.node("Concat", [shape, hw], [sizes], axis=0))
            nodes.append(
                _Proto.node(
                    "Resize",
                    [arg(ins[0], node), "", "", sizes],
                    [out],
                    mode="linear",
                    coordinate_transformation_mode="asymmetric",
                )
            )
        else:
            raise ValueError(f"unsupported TF.js op {op} ({out}) for onnx")

    outputs = []
    for name in graph.outputs:
        nodes.append(_Proto.node("Transpose", [name], [f"{name}__nhwc"], perm=[0, 2, 3, 1]))
        outputs.append(_Proto.value_info(f"{name}__nhwc", None))
    h, w, c = input_shape
    inputs = [_Proto.value_info(src, [1, h, w, c])]
    return _Proto.model(nodes, inits, inputs, outputs)


def _activation(act: str, x: str, y: str, node: str, const: Any) -> bytes:
    if act == "Relu":
        return _Proto.node("Relu", [x], [y])
    if act == "Relu6":
        lo = const("__zero", np.array(0.0, dtype=np.float32))
        hi = const("__six", np.array(6.0, dtype=np.float32))
        return _Proto.node("Clip", [x, lo, hi], [y])
    raise ValueError(f"{node}: unsupported fused op {act}")


class OnnxTfjsGraph:
    """``run`` as :meth:`TfjsGraph.run` (HWC or NHWC in, HWC out), on onnxruntime, one
    thread; the input size is fixed when built."""

    def __init__(
        self, graph: TfjsGraph, input_shape: tuple[int, int, int], name: str = "tfjs"
    ) -> None:
        """``name``: the model's label in ``/metrics`` (inference time)."""
        self.name = name
        self.inputs = list(graph.inputs)
        self.outputs = list(graph.outputs)
        self.input_shape = input_shape
        self._session = onnx_session(to_onnx(graph, input_shape))

    def run(self, feeds: Mapping[str, Array]) -> dict[str, Array]:
        name = self.inputs[0]
        x = np.asarray(feeds[name], dtype=np.float32)
        if x.ndim == 3:
            x = x[None]
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"input must be {self.input_shape}, got {x.shape[1:]}")
        started = time.perf_counter()
        got = self._session.run([f"{o}__nhwc" for o in self.outputs], {name: x})
        inference_timing.record(self.name, time.perf_counter() - started)
        return {
            o: np.asarray(v[0], dtype=np.float32) for o, v in zip(self.outputs, got, strict=True)
        }


class _Proto:
    """Protobuf wire format for the parts of onnx.proto (proto2) used here: varints and
    length-delimited fields, repeated scalars unpacked (accepted by every parser)."""

    FLOAT, INT64 = 1, 7  # TensorProto.DataType
    ATTR_INT, ATTR_STRING, ATTR_INTS = 2, 3, 7  # AttributeProto.AttributeType

    @staticmethod
    def varint(n: int) -> bytes:
        n &= (1 << 64) - 1  # negative int64: two's complement, ten bytes
        out = bytearray()
        while True:
            b, n = n & 0x7F, n >> 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    @classmethod
    def int_(cls, field: int, value: int) -> bytes:
        return cls.varint(field << 3) + cls.varint(value)

    @classmethod
    def bytes_(cls, field: int, value: bytes) -> bytes:
        return cls.varint(field << 3 | 2) + cls.varint(len(value)) + value

    @classmethod
    def str_(cls, field: int, value: str) -> bytes:
        return cls.bytes_(field, value.encode())

    @classmethod
    def node(cls, op: str, inputs: list[str], outputs: list[str], **attrs: Any) -> bytes:
        """NodeProto: input 1, output 2, op_type 4, attribute 5 (name 1, i 3, s 4, ints 8,
        type 20)."""
        body = b"".join(cls.str_(1, i) for i in inputs) + b"".join(cls.str_(2, o) for o in outputs)
        body += cls.str_(4, op)
        for name, value in attrs.items():
            if isinstance(value, str):
                attr = cls.bytes_(4, value.encode()) + cls.int_(20, cls.ATTR_STRING)
            elif isinstance(value, int):
                attr = cls.int_(3, value) + cls.int_(20, cls.ATTR_INT)
            else:
                attr = b"".join(cls.int_(8, int(v)) for v in value) + cls.int_(20, cls.ATTR_INTS)
            body += cls.bytes_(5, cls.str_(1, name) + attr)
        return body

    @classmethod
    def tensor(cls, name: str, value: Array) -> bytes:
        """TensorProto: dims 1, data_type 2, name 8, raw_data 9 (little-endian)."""
        if value.dtype == np.float32:
            kind, raw = cls.FLOAT, value.astype("<f4").tobytes()
        elif value.dtype == np.int64:
            kind, raw = cls.INT64, value.astype("<i8").tobytes()
        else:
            raise ValueError(f"{name}: unsupported constant dtype {value.dtype}")
        dims = b"".join(cls.int_(1, int(d)) for d in value.shape)
        return dims + cls.int_(2, kind) + cls.str_(8, name) + cls.bytes_(9, raw)

    @classmethod
    def value_info(cls, name: str, shape: list[int] | None) -> bytes:
        """ValueInfoProto (name 1, type 2) of a float tensor: TypeProto.tensor_type 1
        (elem_type 1, shape 2: TensorShapeProto.dim 1, Dimension.dim_value 1)."""
        tensor = cls.int_(1, cls.FLOAT)
        if shape is not None:
            dims = b"".join(cls.bytes_(1, cls.int_(1, d)) for d in shape)
            tensor += cls.bytes_(2, dims)
        return cls.str_(1, name) + cls.bytes_(2, cls.bytes_(1, tensor))

    @classmethod
    def model(
        cls, nodes: list[bytes], inits: list[bytes], inputs: list[bytes], outputs: list[bytes]
    ) -> bytes:
        """ModelProto (ir_version 1, producer_name 2, graph 7, opset_import 8) around a
        GraphProto (node 1, name 2, initializer 5, input 11, output 12)."""
        graph = b"".join(cls.bytes_(1, n) for n in nodes) + cls.str_(2, "tfjs")
        graph += b"".join(cls.bytes_(5, t) for t in inits)
        graph += b"".join(cls.bytes_(11, v) for v in inputs)
        graph += b"".join(cls.bytes_(12, v) for v in outputs)
        opset = cls.str_(1, "") + cls.int_(2, OPSET)
        return (
            cls.int_(1, IR_VERSION)
            + cls.str_(2, "faceproof")
            + cls.bytes_(7, graph)
            + cls.bytes_(8, opset)
        )
