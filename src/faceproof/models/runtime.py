"""A thin LiteRT (TFLite) runner: model bytes loaded once, a pool of interpreters.

LiteRT interpreters are not thread-safe (``invoke`` mutates shared tensor buffers), while the
server runs requests on a thread pool. A call therefore borrows an interpreter for itself
from a per-model pool (built lazily from the same in-memory model bytes) and gives it back.
The pool holds at most ``TFLiteModel.max_instances`` interpreters per model (a call waits
for a free one beyond that), not one per thread ever seen: the server's threads come and go
with load, and per-thread interpreters (each with its own XNNPACK weight packing and tensor
arenas, about 100 MB for the whole model set) were rebuilt for every new thread, which grew
a worker by hundreds of megabytes under steady load. A worker is one core's worth of work,
so two instances keep it busy while a third request waits. XNNPACK is LiteRT's default CPU
delegate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from faceproof import inference_timing
from faceproof.config import ConfigError


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and dtype of one model input or output."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]


@dataclass
class _Interp:
    """One interpreter and its tensor indices by name."""

    interp: Any
    in_idx: dict[str, int]
    out_idx: dict[str, int]


class TFLiteModel:
    """Run a ``.tflite`` model by tensor name on the CPU.

    ``max_instances`` (class-wide, ``FACEPROOF_MODEL_INSTANCES`` in the server) bounds the
    interpreters per model, hence the memory the models take under concurrent load.

    ``input_shapes`` resizes inputs (e.g. a batch dimension) before tensors are allocated;
    ``rewrite`` turns the file's bytes into an equivalent graph that runs faster
    (:mod:`faceproof.models.graph_rewrite`), in memory only.
    """

    max_instances: int = 2

    def __init__(
        self,
        path: Path | str,
        *,
        num_threads: int = 1,
        input_shapes: Mapping[str, Sequence[int]] | None = None,
        rewrite: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.path = Path(path)
        try:
            self._content = self.path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read model file {self.path}: {exc.strerror}") from None
        if rewrite is not None:
            try:
                self._content = rewrite(self._content)
            except Exception as exc:  # a malformed flatbuffer: the same refusal as below
                raise ConfigError(f"cannot load model {self.path}: {exc}") from None
        self.num_threads = num_threads
        self._input_shapes = {k: tuple(int(d) for d in v) for k, v in (input_shapes or {}).items()}
        self._pool: list[_Interp] = []
        self._built = 1
        self._lock = threading.Condition()
        built = self._build()  # fail fast on a corrupt model, and learn the specs
        self._pool.append(built)
        interp = built.interp
        self.inputs = [
            TensorSpec(d["name"], tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]))
            for d in interp.get_input_details()
        ]
        self.outputs = [
            TensorSpec(d["name"], tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]))
            for d in interp.get_output_details()
        ]

    def _build(self) -> _Interp:
        # lazy: LiteRT (~0.5 s) loads with the first model, not at import
        from ai_edge_litert.interpreter import Interpreter

        try:
            interp = Interpreter(model_content=self._content, num_threads=self.num_threads)
            if self._input_shapes:
                for d in interp.get_input_details():
                    if d["name"] in self._input_shapes:
                        interp.resize_tensor_input(d["index"], self._input_shapes[d["name"]])
            interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(f"cannot load model {self.path}: {exc}") from None
        return _Interp(
            interp,
            {d["name"]: d["index"] for d in interp.get_input_details()},
            {d["name"]: d["index"] for d in interp.get_output_details()},
        )

    @contextmanager
    def _borrow(self) -> Iterator[_Interp]:
        """An interpreter for this call alone: an idle one, a new one while fewer than
        ``max_instances`` exist, else the next one given back. Calls never nest, so the
        wait cannot deadlock."""
        with self._lock:
            while not self._pool and self._built >= max(1, self.max_instances):
                self._lock.wait()
            if self._pool:
                item: _Interp | None = self._pool.pop()
            else:
                item = None
                self._built += 1
        if item is None:
            try:
                item = self._build()
            except BaseException:
                with self._lock:
                    self._built -= 1
                    self._lock.notify()
                raise
        try:
            yield item
        finally:
            with self._lock:
                self._pool.append(item)
                self._lock.notify()

    @property
    def instances(self) -> int:
        """Interpreters built so far (tests)."""
        with self._lock:
            return self._built

    def input(self, i: int = 0) -> TensorSpec:
        return self.inputs[i]

    def square_image_input(self) -> int:
        """Side of the (1, S, S, 3) image input; ValueError for any other layout."""
        shape = self.input().shape
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
            raise ValueError(f"{self.path.name}: unexpected input shape {shape}")
        return int(shape[1])

    def output_sizes(self) -> dict[str, int]:
        """Element count of each output, to find outputs by what they hold."""
        return {o.name: int(np.prod(o.shape)) for o in self.outputs}

    def output(self, name_or_index: str | int) -> TensorSpec:
        if isinstance(name_or_index, int):
            return self.outputs[name_or_index]
        return next(o for o in self.outputs if o.name == name_or_index)

    def run(self, feeds: Mapping[str, NDArray[Any]] | NDArray[Any]) -> dict[str, NDArray[Any]]:
        """Invoke the model; a bare array feeds the first input. Returns outputs by name.

        Returned arrays are copies, safe to keep after the next call.
        """
        if isinstance(feeds, np.ndarray):
            feeds = {self.inputs[0].name: feeds}
        dtypes = {spec.name: spec.dtype for spec in self.inputs}
        with self._borrow() as item:
            for name, value in feeds.items():
                item.interp.set_tensor(
                    item.in_idx[name], np.ascontiguousarray(value, dtype=dtypes[name])
                )
            started = time.perf_counter()
            item.interp.invoke()
            inference_timing.record(self.path.stem, time.perf_counter() - started)
            return {name: item.interp.get_tensor(idx) for name, idx in item.out_idx.items()}


def onnx_session(model: Path | bytes) -> Any:
    """An onnxruntime session pinned to one thread (intra- and inter-op), CPU only, from a
    model file or model bytes built in memory (:mod:`faceproof.models.tfjs_onnx`).

    The server parallelises across requests; a per-request thread pool would only add CPU
    (spinning threads) to every request without making the server faster under load.
    """
    # lazy: onnxruntime (~0.6 s) loads with the first session, not at import
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
