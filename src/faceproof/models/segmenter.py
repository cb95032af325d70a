"""MediaPipe Selfie Segmentation (general, 256×256) on LiteRT: person probability per pixel.

Pre- and post-processing follow MediaPipe's selfie-segmentation graph: the whole image is
resized to the square input without keeping the aspect ratio (that is how the model was
trained, so a letterbox would shrink the person and waste input pixels), RGB scaled to
[0, 1]; the model ends in a sigmoid, and the mask is resized back bilinearly
(:class:`~faceproof.face.record.PersonMask` keeps the model's map and resizes on demand).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from faceproof.face.record import F32, U8, PersonMask
from faceproof.face.resample import shrink
from faceproof.models.runtime import TFLiteModel

MODEL_FILE = "selfie_segmentation.tflite"


class SelfieSegmenter:
    """Implements :class:`faceproof.face.record.Segmenter`."""

    def __init__(self, models_path: Path | str, *, num_threads: int = 1) -> None:
        self._model = TFLiteModel(Path(models_path) / MODEL_FILE, num_threads=num_threads)
        _, self.height, self.width, channels = self._model.input().shape
        if channels != 3 or self._model.output(0).shape[1:3] != (self.height, self.width):
            raise ValueError(f"{MODEL_FILE}: unexpected tensor shapes")

    def segment(self, rgb: U8) -> F32:
        """Person probability per pixel, (H, W) float32 in [0, 1], same size as ``rgb``."""
        return self.person(rgb).full

    def person(self, rgb: U8) -> PersonMask:
        """The model's person probability for ``rgb``, resized to the photo on demand."""
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[:, :, None], 3, axis=2)
        elif rgb.shape[2] == 4:
            rgb = rgb[:, :, :3]
        h, w = rgb.shape[:2]
        small = shrink(rgb, (self.width, self.height))
        tensor = small.astype(np.float32)[None] / 255.0
        mask = self._model.run(tensor)[self._model.output(0).name][0, :, :, 0]
        return PersonMask(np.ascontiguousarray(mask, dtype=np.float32), (w, h))
