"""MediaPipe face mesh (468 points) on LiteRT, with MediaPipe's region-of-interest rules.

The mesh model sees a 192×192 crop of a rotated square around the face and returns points in
that crop. How the square is chosen matters as much as the model, so the published graph
rules are followed (``face_detection_front_detection_to_roi`` / ``..._landmarks_to_roi``):

* from a detection: centre of the detection box, side ``1.5 × max(width, height)``, rotated
  so the line from the image-left eye keypoint to the image-right one is horizontal;
* from a previous mesh (:meth:`FaceMeshModel.refine_from_mesh`): the same ``1.5 ×`` rule on
  the mesh's own extent, rotated by the line between the outer eye corners (33 → 263).

The input is the crop as RGB scaled to [0, 1]; borders are replicated like MediaPipe's
cropping calculator. The face flag output is a logit, turned into a probability by a sigmoid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from faceproof.face.record import F32, U8, Detection, Landmarks
from faceproof.models.runtime import TFLiteModel

MODEL_FILE = "face_landmark.tflite"
NUM_POINTS = 468
DETECTION_SCALE = 1.5
MESH_SCALE = 1.5
# Outer eye corners: image-left eye (subject's right) and image-right eye.
OUTER_EYE_CORNERS = (33, 263)

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Roi:
    """A rotated square in image pixels: centre, side and the angle of its x-axis.

    ``angle`` is in radians, measured in image coordinates (y down), so a positive angle
    turns the square's x-axis towards the image bottom (clockwise as displayed).
    """

    cx: float
    cy: float
    size: float
    angle: float

    def to_image(self, n: int) -> F64:
        """2×3 affine map from continuous coordinates of an ``n``-pixel crop to the image."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = self.size / n
        a = np.array([[c * k, -s * k], [s * k, c * k]])
        t = np.array([self.cx, self.cy]) - a @ np.array([n / 2, n / 2])
        return np.hstack([a, t[:, None]])

    def crop(self, rgb: U8, n: int) -> U8:
        """The ROI resampled to ``n``×``n`` pixels (bilinear, replicated borders)."""
        m = self.to_image(n)
        # cv2 samples integer pixel centres; continuous coordinate = index + 0.5 on both sides.
        m_idx = m.copy()
        m_idx[:, 2] += m[:, :2] @ np.array([0.5, 0.5]) - 0.5
        out = cv2.warpAffine(
            rgb,
            m_idx,
            (n, n),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return np.asarray(out, dtype=np.uint8)

    def project(self, points: NDArray[np.float32], n: int) -> F32:
        """Map (k, 2) or (k, 3) crop coordinates to image pixels; z scales like x and y."""
        m = self.to_image(n)
        out = points.astype(np.float64).copy()
        out[:, :2] = points[:, :2] @ m[:, :2].T + m[:, 2]
        if points.shape[1] > 2:
            out[:, 2] = points[:, 2] * (self.size / n)
        return out.astype(np.float32)


def rotated_extent_roi(points: F32, start: int, end: int, scale: float) -> Roi:
    """ROI around ``points`` (k, ≥2): angle of ``start``→``end``, extent in the rotated frame.

    MediaPipe measures the landmark box axis-aligned; measuring it in the rotated frame gives
    the same square for an upright face and a tighter, centred one for a tilted head.
    """
    xy = points[:, :2].astype(np.float64)
    d = xy[end] - xy[start]
    angle = math.atan2(d[1], d[0])
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, s], [-s, c]])  # image -> ROI frame
    local = xy @ rot.T
    lo, hi = local.min(axis=0), local.max(axis=0)
    centre = rot.T @ ((lo + hi) / 2)
    size = float(max(hi - lo)) * scale
    return Roi(float(centre[0]), float(centre[1]), size, angle)


def detection_roi(detection: Detection, scale: float = DETECTION_SCALE) -> Roi:
    """MediaPipe's face ROI from a detection: box centre, eye-line rotation, square ×1.5."""
    kp = detection.keypoints
    angle = math.atan2(float(kp[1, 1] - kp[0, 1]), float(kp[1, 0] - kp[0, 0]))
    cx, cy = detection.center
    size = max(detection.width, detection.height) * scale
    return Roi(float(cx), float(cy), float(size), angle)


def _rgb(image: U8) -> U8:
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


class FaceMeshModel:
    """468-point face mesh; implements :class:`~faceproof.face.record.LandmarkModel`.

    ``refine`` runs the second pass (:meth:`refine_from_mesh`) after the detection pass: the
    mesh-based ROI is better centred and rotated than the detector's coarse keypoints allow.
    """

    def __init__(self, models_path: Path | str, *, refine: bool = True, num_threads: int = 1):
        self._model = TFLiteModel(Path(models_path) / MODEL_FILE, num_threads=num_threads)
        self.input_size = self._model.square_image_input()
        sizes = self._model.output_sizes()
        self._mesh_name = next(k for k, v in sizes.items() if v == NUM_POINTS * 3)
        self._flag_name = next(k for k, v in sizes.items() if v == 1)
        self.refine = refine

    def run_roi(self, rgb: U8, roi: Roi) -> Landmarks:
        """Mesh for one ROI, in image pixels."""
        n = self.input_size
        crop = self._crop(_rgb(rgb), roi)
        out = self._model.run(crop)
        pts = out[self._mesh_name].reshape(NUM_POINTS, 3)
        logit = float(out[self._flag_name].reshape(-1)[0])
        score = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))
        return Landmarks(mesh=roi.project(pts, n), mesh_score=score)

    def _crop(self, rgb: U8, roi: Roi) -> F32:
        crop = roi.crop(rgb, self.input_size)
        return (crop.astype(np.float32) / 255.0)[None]

    def landmarks(self, rgb: U8, detection: Detection) -> Landmarks:
        """Mesh for a detected face (one or two passes, see ``refine``)."""
        first = self.run_roi(rgb, detection_roi(detection))
        return self.refine_from_mesh(rgb, first) if self.refine else first

    def refine_from_mesh(self, rgb: U8, previous: Landmarks) -> Landmarks:
        """Second pass with MediaPipe's tracking ROI computed from ``previous``'s mesh."""
        roi = rotated_extent_roi(previous.mesh, *OUTER_EYE_CORNERS, scale=MESH_SCALE)
        return self.run_roi(rgb, roi)
