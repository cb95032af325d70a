"""Equivalent rewrites of a pinned ``.tflite`` graph, applied in memory when it is loaded.

The file on disk stays byte-identical to the registry's (the model store checks its SHA-256);
a rewrite changes only how LiteRT executes the same function, and ``tests/test_embedder.py``
checks that outputs stay bit-identical.

MobileFaceNet as converted by TOCO spells every PReLU as five element-wise ops,
``relu(x) + c·(x − |x|)`` with ``c = α/2``: five passes over each activation tensor where
LiteRT's (and XNNPACK's) ``PRELU`` makes one. Fusing the 33 of them takes a quarter off the
embedder's inference (≈ 1.4 of 6 ms for the orig + mirror pair on one core). The result is
exact, not approximate: for x < 0, ``c·(x − |x|) = c·2x`` and ``2c·x`` are the same float
(scaling by two is exact), and for x ≥ 0 both are ``x``.

The same graph is exported with a fixed batch of 2, its final ``RESHAPE`` to a constant
``[2, 192]``: :func:`set_batch` gives it batch 1 (the input's leading dimension, the
reshape's batch inferred), so one face costs one face's inference instead of two. Every op
of the graph treats the samples of a batch independently, so a sample's output does not
depend on the batch it ran in (bit-identical on XNNPACK, ``tests/test_embedder.py``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Rewritten:
    content: bytes
    fused: int  # pattern instances replaced


def builtin_code(oc: Any) -> int:
    """An operator code's builtin op (the schema keeps codes < 127 in a deprecated field)."""
    return int(max(oc.builtinCode, oc.deprecatedBuiltinCode))


def _opcode(model: Any, op: Any) -> int:
    return builtin_code(model.operatorCodes[op.opcodeIndex])


def _no_activation(op: Any) -> bool:
    opts = op.builtinOptions
    return opts is None or getattr(opts, "fusedActivationFunction", 0) == 0


def fuse_decomposed_prelu(content: bytes) -> Rewritten:
    """Replace each ``ADD(RELU(x), MUL(c, SUB(x, ABS(x))))`` by ``PRELU(x, 2c)``.

    Only exact matches are touched: the four intermediate tensors must feed nothing else
    and not be graph outputs, no op may carry a fused activation, and ``c`` must be a
    constant float32 per-channel (or scalar) vector. A graph without the pattern comes back
    unchanged, byte for byte.
    """
    # lazy: the .tflite schema (LiteRT, ~0.5 s) only when a graph is rewritten at load
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    ops_enum = schema.BuiltinOperator
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
    fused = 0
    for graph in model.subgraphs:
        index = _GraphIndex(model, graph)
        replace: dict[int, Any] = {}  # ADD op index -> PRELU op
        dropped: set[int] = set()
        for i, add in enumerate(graph.operators):
            if _opcode(model, add) != ops_enum.ADD or not _no_activation(add):
                continue
            found = _match(model, graph, add, index.source, ops_enum)
            if found is None:
                continue
            x, alpha, ops = found
            buf = schema.BufferT()
            buf.data = np.ascontiguousarray(alpha, dtype=np.float32).view(np.uint8)
            model.buffers.append(buf)
            tensor = schema.TensorT()
            tensor.shape = np.array([alpha.size], dtype=np.int32)
            tensor.type = schema.TensorType.FLOAT32
            tensor.buffer = len(model.buffers) - 1
            tensor.name = b"faceproof/prelu_alpha_%d" % fused
            graph.tensors.append(tensor)
            prelu = schema.OperatorT()
            prelu.opcodeIndex = _prelu_code(model, schema)
            prelu.inputs = np.array([x, len(graph.tensors) - 1], dtype=np.int32)
            prelu.outputs = np.array(add.outputs, dtype=np.int32)
            replace[i] = prelu
            dropped.update(index.position[id(op)] for op in ops)
            fused += 1
        graph.operators = [
            replace.get(i, op) for i, op in enumerate(graph.operators) if i not in dropped
        ]
    if fused == 0:
        return Rewritten(content, 0)
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return Rewritten(bytes(builder.Output()), fused)


class _GraphIndex:
    """Who produces and who reads each tensor of one subgraph."""

    def __init__(self, model: Any, graph: Any) -> None:
        self.model, self.graph = model, graph
        self.producer: dict[int, int] = {}
        self.consumers: dict[int, list[int]] = defaultdict(list)
        self.position = {id(op): i for i, op in enumerate(graph.operators)}
        for i, op in enumerate(graph.operators):
            for t in op.outputs:
                self.producer[int(t)] = i
            for t in op.inputs:
                if t >= 0:
                    self.consumers[int(t)].append(i)
        self.outputs = {int(t) for t in graph.outputs}

    def source(self, t: int, code: int) -> Any:
        """The op of type ``code`` that produces ``t`` for a single reader, or None."""
        i = self.producer.get(t)
        if i is None or len(self.consumers[t]) != 1 or t in self.outputs:
            return None
        op = self.graph.operators[i]
        return op if _opcode(self.model, op) == code and _no_activation(op) else None


def _match(model: Any, graph: Any, add: Any, source: Any, ops: Any) -> Any:
    """(x, alpha, [relu, abs, sub, mul]) when ``add`` closes a decomposed PReLU."""
    if len(add.inputs) != 2:
        return None
    a, b = (int(t) for t in add.inputs)
    for relu_t, mul_t in ((a, b), (b, a)):
        relu, mul = source(relu_t, ops.RELU), source(mul_t, ops.MUL)
        if relu is None or mul is None or len(mul.inputs) != 2:
            continue
        x = int(relu.inputs[0])
        for c_t, sub_t in ((int(mul.inputs[0]), int(mul.inputs[1])),
                           (int(mul.inputs[1]), int(mul.inputs[0]))):  # fmt: skip
            sub = source(sub_t, ops.SUB)
            if sub is None or int(sub.inputs[0]) != x:
                continue
            ab = source(int(sub.inputs[1]), ops.ABS)
            if ab is None or int(ab.inputs[0]) != x:
                continue
            c = _constant(model, graph, c_t)
            channels = int(graph.tensors[x].shape[-1])
            if c is None or c.size not in (1, channels):
                continue
            alpha = np.broadcast_to(2.0 * c.reshape(-1), (channels,)).astype(np.float32)
            return x, alpha, [relu, ab, sub, mul]
    return None


def _constant(model: Any, graph: Any, t: int) -> np.ndarray | None:
    # lazy: the .tflite schema (LiteRT, ~0.5 s) only when a graph is rewritten at load
    from ai_edge_litert import schema_py_generated as schema

    tensor = graph.tensors[t]
    if tensor.type != schema.TensorType.FLOAT32 or tensor.buffer <= 0:
        return None
    data = model.buffers[tensor.buffer].data
    if data is None or len(data) == 0:
        return None
    return np.frombuffer(bytes(np.asarray(data, dtype=np.uint8)), dtype=np.float32)


def _prelu_code(model: Any, schema: Any) -> int:
    """Index of the PRELU operator code, added once."""
    prelu = schema.BuiltinOperator.PRELU
    for i, oc in enumerate(model.operatorCodes):
        if builtin_code(oc) == prelu and not oc.customCode:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = prelu
    code.deprecatedBuiltinCode = prelu
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def set_batch(content: bytes, batch: int) -> Rewritten:
    """The single-input graph ``content`` with batch ``batch``.

    The input's leading dimension becomes ``batch``; each ``RESHAPE`` whose constant target
    restates the old batch as its leading dimension, on an input with that same leading
    dimension, gets ``-1`` there (inferred: the batch passes through). A reshape that mixes
    the batch with other dimensions cannot be rewritten this way and raises ValueError, as
    does a graph with several inputs. LiteRT derives every other tensor's shape when it
    allocates. ``fused`` counts the reshapes rewritten; the same batch returns ``content``.
    """
    # lazy: the .tflite schema (LiteRT, ~0.5 s) only when a graph is rewritten at load
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    if batch < 1:
        raise ValueError("batch must be at least 1")
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
    if len(model.subgraphs) != 1 or len(model.subgraphs[0].inputs) != 1:
        raise ValueError("set_batch needs a graph with one subgraph and one input")
    graph = model.subgraphs[0]
    first = graph.tensors[int(graph.inputs[0])]
    old = int(first.shape[0])
    if old == batch:
        return Rewritten(content, 0)
    reshaped = 0
    for op in graph.operators:
        if _opcode(model, op) != schema.BuiltinOperator.RESHAPE:
            continue
        source = graph.tensors[int(op.inputs[0])]
        target = _int32_constant(model, graph, int(op.inputs[1])) if len(op.inputs) > 1 else None
        options = op.builtinOptions
        new_shape = getattr(options, "newShape", None)
        stated = [np.asarray(v, dtype=np.int64) for v in (target, new_shape) if v is not None]
        if not stated or int(source.shape[0]) != old:
            raise ValueError("a RESHAPE without a constant target, or on a non-batch tensor")
        if any(len(v) == 0 or int(v[0]) != old for v in stated):
            raise ValueError("a RESHAPE does not keep the batch as its leading dimension")
        if target is not None:
            shape = target.copy()
            shape[0] = -1
            buf = schema.BufferT()
            buf.data = shape.astype(np.int32).view(np.uint8)
            model.buffers.append(buf)  # a fresh buffer: the old one may be shared
            graph.tensors[int(op.inputs[1])].buffer = len(model.buffers) - 1
        if new_shape is not None:
            shape = np.asarray(new_shape, dtype=np.int32).copy()
            shape[0] = -1
            options.newShape = shape
        reshaped += 1
    for tensor in graph.tensors:  # activations: what LiteRT would derive anyway
        shape = tensor.shape
        if shape is None or not len(shape) or int(shape[0]) != old or _has_data(model, tensor):
            continue
        tensor.shape = np.array([batch, *shape[1:]], dtype=np.int32)
        sig = tensor.shapeSignature
        if sig is not None and len(sig) and int(sig[0]) == old:
            tensor.shapeSignature = np.array([batch, *sig[1:]], dtype=np.int32)
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return Rewritten(bytes(builder.Output()), reshaped)


def _int32_constant(model: Any, graph: Any, t: int) -> np.ndarray | None:
    # lazy: the .tflite schema (LiteRT, ~0.5 s) only when a graph is rewritten at load
    from ai_edge_litert import schema_py_generated as schema

    tensor = graph.tensors[t]
    if tensor.type != schema.TensorType.INT32 or not _has_data(model, tensor):
        return None
    return np.frombuffer(bytes(np.asarray(model.buffers[tensor.buffer].data, np.uint8)), np.int32)


def _has_data(model: Any, tensor: Any) -> bool:
    if tensor.buffer <= 0:
        return False
    data = model.buffers[tensor.buffer].data
    return data is not None and len(data) > 0
