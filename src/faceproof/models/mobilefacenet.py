"""MobileFaceNet face embeddings (192-D) on LiteRT.

Input: aligned 112×112 RGB crops (ArcFace five-point template), scaled ``(x − 127.5) / 128``.
The pinned model has a fixed batch of 2 (its graph reshapes to a constant shape, so the batch
cannot be resized), so crops are run in pairs, a lone crop padded with a copy; test-time flip
averaging (:meth:`MobileFaceNetEmbedder.embed_flip`) therefore costs the same one inference as
a plain embedding. Its decomposed PReLUs run fused (:mod:`faceproof.models.graph_rewrite`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from faceproof.face.record import F32, U8
from faceproof.models.graph_rewrite import fuse_decomposed_prelu
from faceproof.models.runtime import TFLiteModel

MODEL_FILE = "MobileFaceNet.tflite"
MODEL_ID = "mobilefacenet-expo-1.0.24"
CROP_SIZE = 112


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
            rewrite=lambda content: fuse_decomposed_prelu(content).content,
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
        x = self.preprocess(aligned_rgb)
        e = _l2(self._raw(np.stack([x, x[:, ::-1]])))
        return _l2(e.sum(axis=0))
