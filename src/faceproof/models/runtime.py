"""A thin LiteRT (TFLite) runner: model bytes loaded once, one interpreter per thread.

LiteRT interpreters are not thread-safe (``invoke`` mutates shared tensor buffers), while the
server runs requests on a thread pool. Each thread therefore lazily builds its own
interpreter from the same in-memory model bytes; XNNPACK is LiteRT's default CPU delegate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from faceproof.config import ConfigError


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and dtype of one model input or output."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]


class TFLiteModel:
    """Run a ``.tflite`` model by tensor name on the CPU.

    ``input_shapes`` resizes inputs (e.g. a batch dimension) before tensors are allocated;
    ``rewrite`` turns the file's bytes into an equivalent graph that runs faster
    (:mod:`faceproof.models.graph_rewrite`), in memory only.
    """

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
        self._local = threading.local()
        interp = self._interpreter()  # fail fast on a corrupt model, and learn the specs
        self.inputs = [
            TensorSpec(d["name"], tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]))
            for d in interp.get_input_details()
        ]
        self.outputs = [
            TensorSpec(d["name"], tuple(int(s) for s in d["shape"]), np.dtype(d["dtype"]))
            for d in interp.get_output_details()
        ]

    def _interpreter(self) -> Any:
        interp = getattr(self._local, "interp", None)
        if interp is None:
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
            self._local.interp = interp
            self._local.in_idx = {d["name"]: d["index"] for d in interp.get_input_details()}
            self._local.out_idx = {d["name"]: d["index"] for d in interp.get_output_details()}
        return interp

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
        interp = self._interpreter()
        if isinstance(feeds, np.ndarray):
            feeds = {self.inputs[0].name: feeds}
        in_idx: dict[str, int] = self._local.in_idx
        dtypes = {spec.name: spec.dtype for spec in self.inputs}
        for name, value in feeds.items():
            interp.set_tensor(in_idx[name], np.ascontiguousarray(value, dtype=dtypes[name]))
        interp.invoke()
        return {name: interp.get_tensor(idx) for name, idx in self._local.out_idx.items()}
