"""The face record that flows through the pipeline, and the small model interfaces.

Like insightface's ``FaceAnalysis``: a detector creates one :class:`FaceRecord` per face and
each later stage (landmarks, pose, alignment, quality, embedding, liveness) adds its
attributes. Stages depend only on the Protocols below, so a stronger model can be swapped in
by configuration without touching the stages.

Coordinates are always pixels of the decoded, EXIF-upright RGB image, x to the right, y down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]


@dataclass
class Detection:
    """One face from the detector."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
    score: float
    # BlazeFace's 6 keypoints in pixels, rows: right eye (image left), left eye (image right),
    # nose tip, mouth centre, right ear tragion, left ear tragion — MediaPipe's order.
    keypoints: F32

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)


@dataclass
class Landmarks:
    """Dense landmarks of one face."""

    mesh: F32  # (468, 3): x, y in pixels, z in the mesh model's relative pixel-scale units
    mesh_score: float  # face-presence confidence of the mesh model, 0..1
    # Iris: (2, 5, 2) for [image-left eye, image-right eye] × [centre, 4 contour points] × (x, y);
    # None when the iris model was not run.
    iris: F32 | None = None
    # Eye contour from the iris model (2, 71, 2), same eye order; None when not run.
    eye_contour: F32 | None = None


@dataclass
class Pose:
    """Head pose in degrees (camera frame). yaw > 0: face turned to image right."""

    yaw: float
    pitch: float
    roll: float


@dataclass
class FaceRecord:
    """A face and everything measured about it so far."""

    detection: Detection
    landmarks: Landmarks | None = None
    pose: Pose | None = None
    # Five points for alignment (image-left eye centre, image-right eye centre, nose tip,
    # image-left mouth corner, image-right mouth corner), (5, 2) pixels.
    five_points: F32 | None = None
    inter_eye_distance: float | None = None
    embedding: F32 | None = None  # L2-normalised
    attrs: dict[str, object] = field(default_factory=dict)


class PersonMask:
    """The segmenter's person probability for one photo, kept at the model's resolution.

    ``full`` is the probability per photo pixel, (H, W) float32 in [0, 1]; it is made on
    first use, since only background replacement needs it. Measures that work on a smaller
    copy of the photo take :meth:`resized` instead, computed straight from the model output.
    """

    def __init__(self, prob: F32, size: tuple[int, int]) -> None:
        self.prob = prob  # the model's own (h, w) map; the photo was stretched onto it
        self.size = size  # photo (width, height)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the photo, like ``full.shape``."""
        return self.size[1], self.size[0]

    @cached_property
    def full(self) -> F32:
        """Bilinear upsampling to the photo, as MediaPipe's graph does."""
        # lazy: OpenCV (~0.4 s) only when a mask is resized; faceproof.client imports this module
        import cv2

        up = cv2.resize(self.prob, self.size, interpolation=cv2.INTER_LINEAR)
        return np.clip(up, 0.0, 1.0).astype(np.float32)

    def resized(self, size: tuple[int, int]) -> F32:
        """``cv2.resize(full, size, INTER_AREA)`` for a ``size`` (w, h) within the photo's,
        equal up to float rounding but without the photo-sized map."""
        # lazy: OpenCV (~0.4 s) only when a mask is resized; faceproof.client imports this module
        from faceproof.face.resample import upsample_then_area

        if size[0] > self.size[0] or size[1] > self.size[1]:
            # lazy: OpenCV (~0.4 s) only when a mask is resized (faceproof.client imports us)
            import cv2

            return np.asarray(cv2.resize(self.full, size, interpolation=cv2.INTER_AREA))
        return upsample_then_area(self.prob, self.size, size)


class FaceDetector(Protocol):
    def detect(self, rgb: U8) -> list[Detection]:
        """All faces above the detector's threshold, after non-maximum suppression."""
        ...


class LandmarkModel(Protocol):
    def landmarks(self, rgb: U8, detection: Detection) -> Landmarks:
        """Mesh (and iris where available) for one detected face."""
        ...


class Embedder(Protocol):
    model_id: str
    dimension: int

    def embed(self, aligned_rgb: U8) -> F32:
        """L2-normalised embedding of an aligned 112×112 RGB crop."""
        ...


class Segmenter(Protocol):
    def segment(self, rgb: U8) -> F32:
        """Person probability per pixel, (H, W) in [0, 1], same size as the input."""
        ...
