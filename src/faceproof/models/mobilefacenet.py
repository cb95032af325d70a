"""MobileFaceNet face embeddings (192-D) on LiteRT.

Input: aligned 112×112 RGB crops (ArcFace five-point template), scaled ``(x − 127.5) / 128``.
The pinned file has a fixed batch of 2 (its graph reshapes to a constant ``[2, 192]``); it is
loaded rewritten to batch 1 (:func:`~faceproof.models.graph_rewrite.set_batch`: the same
outputs, bit for bit), so a plain embedding costs one face's inference and a flip-averaged one
(:meth:`MobileFaceNetEmbedder.embed_flip`, the crop and its mirror) two. Its decomposed PReLUs
run fused (:func:`~faceproof.models.graph_rewrite.fuse_decomposed_prelu`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from faceproof.config import ConfigError
from faceproof.face.record import F32, U8
from faceproof.models.graph_rewrite import fuse_decomposed_prelu, set_batch
from faceproof.models.runtime import TFLiteModel

MODEL_FILE = "MobileFaceNet.tflite"
MODEL_ID = "mobilefacenet-expo-1.0.24"
CROP_SIZE = 112
#: Samples per inference once loaded (the file says 2); see the module docstring.
BATCH = 1

EmbeddingMethod = Literal["plain", "flip"]
#: ``plain``: the crop's own embedding; ``flip``: normalise(crop + mirrored crop).
EMBEDDING_METHODS: tuple[EmbeddingMethod, ...] = ("plain", "flip")
#: What the server embeds with (the shipped calibrations are fitted on it). Plain since
#: 2026-12-01: half the CPU of flip averaging, whose gain on LFW is within the evaluation's
#: uncertainty (docs/matching.md, "Plain or flip-averaged embeddings").
DEFAULT_EMBEDDING: EmbeddingMethod = "plain"


def embedding_method(name: str) -> EmbeddingMethod:
    """``name`` as an embedding method; ValueError if it is none of EMBEDDING_METHODS."""
    for method in EMBEDDING_METHODS:
        if name == method:
            return method
    raise ValueError(f"unknown embedding method {name!r}")


def require_server_embedding(model: Mapping[str, Any], what: str, remedy: str) -> None:
    """Refuse at start-up a calibration (its ``model`` block) whose scores are not the
    server's: thresholds fitted on another embedding method would not mean their FAR.
    Files from before the ``embedding`` field existed were all fitted on flip-averaged
    embeddings; a ``reference_embedding`` other than ``embedding`` marks a measurement of
    mixed old/new pairs (``calibrate --reference-embedding``), never a calibration."""
    method = model.get("embedding", "flip")
    mixed = model.get("reference_embedding", method) != method
    if method != DEFAULT_EMBEDDING or mixed:
        raise ConfigError(
            f"{what} calibration was fitted on {method} embeddings, the server embeds "
            f"{DEFAULT_EMBEDDING}: {remedy}"
        )


def _l2(v: F32) -> F32:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return (v / np.maximum(n, 1e-12)).astype(np.float32)


class MobileFaceNetEmbedder:
    """Implements :class:`~faceproof.face.record.Embedder`; outputs are L2-normalised."""

    model_id: str = MODEL_ID

    def __init__(self, models_path: Path | str, *, num_threads: int = 1) -> None:
        self._model = TFLiteModel(
            Path(models_path) / MODEL_FILE,
            num_threads=num_threads,
            rewrite=lambda content: (
                set_batch(fuse_decomposed_prelu(content).content, BATCH).content
            ),
        )
        shape = self._model.input().shape
        if len(shape) != 4 or shape[1:] != (CROP_SIZE, CROP_SIZE, 3):
            raise ValueError(f"{MODEL_FILE}: unexpected input shape {shape}")
        self.batch = int(shape[0])
        self.dimension: int = int(self._model.output(0).shape[-1])

    @staticmethod
    def preprocess(crop: U8) -> F32:
        if crop.shape != (CROP_SIZE, CROP_SIZE, 3):
            raise ValueError(f"expected a {CROP_SIZE}x{CROP_SIZE} RGB crop, got {crop.shape}")
        return ((crop.astype(np.float32) - 127.5) / 128.0).astype(np.float32)

    def _raw(self, x: F32) -> F32:
        """Unnormalised embeddings of a (k, 112, 112, 3) float batch, ``batch`` per inference."""
        name = self._model.output(0).name
        parts = []
        for i in range(0, len(x), self.batch):
            chunk = x[i : i + self.batch]
            k = len(chunk)
            if k < self.batch:  # pad with copies; the model treats samples independently
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], self.batch - k, axis=0)])
            parts.append(np.asarray(self._model.run(chunk)[name][:k], dtype=np.float32))
        return np.concatenate(parts)

    def embed(self, aligned_rgb: U8) -> F32:
        """L2-normalised embedding of one aligned crop."""
        return _l2(self._raw(self.preprocess(aligned_rgb)[None])[0])

    def embed_batch(self, crops: Sequence[U8]) -> F32:
        """(n, dimension) L2-normalised embeddings, run ``batch`` crops per inference."""
        if not crops:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return _l2(self._raw(np.stack([self.preprocess(c) for c in crops])))

    def embed_flip(self, aligned_rgb: U8) -> F32:
        """Flip-averaged embedding: normalise(embed(crop) + embed(mirrored crop)).

        Averaging with the mirror cancels part of the pose and lighting asymmetry that the
        network would otherwise encode as identity; it costs one inference with batch 2.
        """
        return self.embed_faces([aligned_rgb], "flip")[0]

    def embed_faces(self, crops: Sequence[U8], method: EmbeddingMethod) -> F32:
        """(n, dimension) embeddings of aligned crops by ``method``, L2-normalised: one
        inference per crop for ``plain``, two (the crop and its mirror) for ``flip``."""
        if method == "plain":
            return self.embed_batch(crops)
        if method != "flip":
            raise ValueError(f"unknown embedding method {method!r}")
        if not crops:
            return np.zeros((0, self.dimension), dtype=np.float32)
        x = np.stack([self.preprocess(c) for c in crops])
        # Each crop beside its mirror (width is axis 2): e0, m0, e1, m1, ...
        pairs = np.stack([x, x[:, :, ::-1]], axis=1).reshape(-1, *x.shape[1:])
        e = _l2(self._raw(pairs))
        return _l2(e[0::2] + e[1::2])
