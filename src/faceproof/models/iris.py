"""MediaPipe iris landmarks on LiteRT: 71 eye-contour/brow points and 5 iris points per eye.

Each eye is cropped like MediaPipe's ``iris_landmark_landmarks_to_roi`` graph: a square
centred between the two eye corners of the face mesh, rotated along the corner line, side
2.3 × the corner distance (MediaPipe uses the axis-aligned extent; the distance is the same
for an upright face and stays right for a tilted one), resampled to 64×64 and scaled to [0, 1].

The model is trained on the eye that appears on the image left (MediaPipe's "left eye",
corners 33 → 133); the other eye (362 → 263) is mirrored before the model and its points
mirrored back, exactly as MediaPipe's ``IS_RIGHT_EYE`` flip does.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from faceproof.face.record import F32, U8
from faceproof.models.facemesh import Roi
from faceproof.models.runtime import TFLiteModel

MODEL_FILE = "iris_landmark.tflite"
EYE_SCALE = 2.3
NUM_CONTOUR = 71
NUM_IRIS = 5
# Mesh eye corners, each pair ordered image-left to image-right: image-left eye, image-right eye.
EYE_CORNERS = ((33, 133), (362, 263))
# The first 16 contour points outline the eyelids: lower lid 0..8 (outer corner 0, inner
# corner 8), upper lid 9..15.
EYELID_POLYGON = (0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 14, 13, 12, 11, 10, 9)


def eye_roi(mesh: F32, corners: tuple[int, int], scale: float = EYE_SCALE) -> Roi:
    """Square ROI around one eye from its two mesh corners."""
    pts = mesh[list(corners), :2]
    d = pts[1] - pts[0]
    centre = pts.mean(axis=0)
    size = float(np.hypot(d[0], d[1])) * scale
    return Roi(float(centre[0]), float(centre[1]), size, math.atan2(float(d[1]), float(d[0])))


class IrisModel:
    """Iris and eye contour for both eyes, in image pixels."""

    def __init__(self, models_path: Path | str, *, num_threads: int = 1) -> None:
        self._model = TFLiteModel(Path(models_path) / MODEL_FILE, num_threads=num_threads)
        self.input_size = self._model.square_image_input()
        sizes = self._model.output_sizes()
        self._contour_name = next(k for k, v in sizes.items() if v == NUM_CONTOUR * 3)
        self._iris_name = next(k for k, v in sizes.items() if v == NUM_IRIS * 3)

    def eye(self, rgb: U8, roi: Roi, mirrored: bool) -> tuple[F32, F32]:
        """(71, 3) contour and (5, 3) iris points of the eye in ``roi``, image pixels."""
        n = self.input_size
        crop = roi.crop(rgb, n)
        if mirrored:
            crop = crop[:, ::-1]
        out = self._model.run((crop.astype(np.float32) / 255.0)[None])
        contour = out[self._contour_name].reshape(NUM_CONTOUR, 3).copy()
        iris = out[self._iris_name].reshape(NUM_IRIS, 3).copy()
        if mirrored:
            contour[:, 0] = n - contour[:, 0]
            iris[:, 0] = n - iris[:, 0]
        return roi.project(contour, n), roi.project(iris, n)

    def run(self, rgb: U8, mesh: F32) -> tuple[F32, F32]:
        """Both eyes from a face mesh: iris (2, 5, 2) and eye contour (2, 71, 2).

        Eye order is [image-left, image-right]; iris rows are [centre, 4 boundary points].
        """
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[:, :, None], 3, axis=2)
        rgb = rgb[:, :, :3]
        contours, irises = [], []
        for i, corners in enumerate(EYE_CORNERS):
            contour, iris = self.eye(rgb, eye_roi(mesh, corners), mirrored=i == 1)
            contours.append(contour[:, :2])
            irises.append(iris[:, :2])
        return np.stack(irises).astype(np.float32), np.stack(contours).astype(np.float32)
