"""Landmark stage: face mesh (+ iris) per face, and the five points used for alignment.

Five points, in image terms (never the subject's left/right), rows:
image-left eye centre, image-right eye centre, nose tip, image-left mouth corner,
image-right mouth corner — the order of the ArcFace/insightface 112×112 template.

Eye centres are the iris centres when the iris model ran (sub-pixel, independent of lid
shape), else the mean of the mesh's 16-point eye outline.

Frames of one video (a challenge capture's screen-light frames) can be *tracked*: the mesh of
the next frame from the previous frame's mesh, as MediaPipe's face-mesh graph does between
detections, one mesh pass and no detector (:meth:`LandmarkStage.track`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from faceproof.face.record import F32, U8, Detection, FaceRecord, LandmarkModel, Landmarks
from faceproof.models.iris import IrisModel

#: The mesh model's face-presence probability a tracked frame needs (MediaPipe's default
#: ``min_tracking_confidence``); below it the face is lost and the caller detects again.
MIN_TRACKING_SCORE = 0.5

# Mesh eye outlines (16 points each): image-left eye (subject's right), image-right eye.
EYE_OUTLINES: tuple[tuple[int, ...], tuple[int, ...]] = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
)
NOSE_TIP = 1
MOUTH_CORNERS = (61, 291)  # image-left, image-right


def five_points_from(mesh: F32, iris: F32 | None = None) -> F32:
    """(5, 2) alignment points from a (468, ≥2) mesh and optional (2, 5, 2) iris points."""
    if iris is not None:
        eyes = iris[:, 0, :2]
    else:
        eyes = np.stack([mesh[list(idx), :2].mean(axis=0) for idx in EYE_OUTLINES])
    rest = mesh[[NOSE_TIP, *MOUTH_CORNERS], :2]
    return np.vstack([eyes, rest]).astype(np.float32)


class TrackingModel(Protocol):
    """A landmark model that can take its region from a previous mesh
    (:meth:`faceproof.models.facemesh.FaceMeshModel.refine_from_mesh`)."""

    def refine_from_mesh(self, rgb: U8, previous: Landmarks) -> Landmarks: ...


def follow(detection: Detection, before: F32, after: F32) -> Detection:
    """The detection moved as the mesh moved from ``before`` to ``after``: scaled by the
    ratio of the meshes' spreads about their centroids and shifted with the centroid (a
    tracked frame keeps the detector's box convention, which oval and background use)."""
    a, b = before[:, :2].astype(np.float64), after[:, :2].astype(np.float64)
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    s = float(np.sqrt(((b - cb) ** 2).sum() / max(((a - ca) ** 2).sum(), 1e-9)))
    x0, y0, x1, y1 = detection.box
    (nx0, ny0), (nx1, ny1) = cb + s * (np.array([[x0, y0], [x1, y1]]) - ca)
    kp = (cb + s * (detection.keypoints[:, :2].astype(np.float64) - ca)).astype(np.float32)
    return Detection((float(nx0), float(ny0), float(nx1), float(ny1)), detection.score, kp)


class LandmarkStage:
    """Fills ``landmarks``, ``five_points`` and ``inter_eye_distance`` of a face record."""

    def __init__(self, mesh: LandmarkModel, iris: IrisModel | None = None) -> None:
        self.mesh = mesh
        self.iris = iris

    def run(self, rgb: U8, record: FaceRecord, *, iris: bool = True) -> FaceRecord:
        """The mesh (and, with ``iris``, the iris model's eye centres) of a detected face."""
        lm = self.mesh.landmarks(rgb, record.detection)
        if iris and self.iris is not None and lm.iris is None:
            lm.iris, lm.eye_contour = self.iris.run(rgb, lm.mesh)
        return _filled(record, lm)

    def track(
        self, rgb: U8, previous: FaceRecord, min_score: float = MIN_TRACKING_SCORE
    ) -> FaceRecord | None:
        """The face of the next frame of a video from ``previous``'s mesh: one mesh pass in
        the region MediaPipe's tracking rule draws around the previous mesh, no detector, no
        iris (eye centres from the mesh). None when the mesh model says the face is gone
        (score below ``min_score``) or cannot track: the caller runs the detector."""
        model = self.mesh
        if previous.landmarks is None or not hasattr(model, "refine_from_mesh"):
            return None
        tracker: TrackingModel = model  # type: ignore[assignment]
        lm = tracker.refine_from_mesh(rgb, previous.landmarks)
        if not lm.mesh_score >= min_score:
            return None
        moved = follow(previous.detection, previous.landmarks.mesh, lm.mesh)
        return _filled(FaceRecord(detection=moved), lm)


def _filled(record: FaceRecord, lm: Landmarks) -> FaceRecord:
    record.landmarks = lm
    record.five_points = five_points_from(lm.mesh, lm.iris)
    eyes = record.five_points[:2]
    record.inter_eye_distance = float(np.linalg.norm(eyes[1] - eyes[0]))
    return record
