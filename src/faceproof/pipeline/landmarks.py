"""Landmark stage: face mesh (+ iris) per face, and the five points used for alignment.

Five points, in image terms (never the subject's left/right), rows:
image-left eye centre, image-right eye centre, nose tip, image-left mouth corner,
image-right mouth corner — the order of the ArcFace/insightface 112×112 template.

Eye centres are the iris centres when the iris model ran (sub-pixel, independent of lid
shape), else the mean of the mesh's 16-point eye outline.
"""

from __future__ import annotations

import numpy as np

from faceproof.face.record import F32, U8, FaceRecord, LandmarkModel
from faceproof.models.iris import IrisModel

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


class LandmarkStage:
    """Fills ``landmarks``, ``five_points`` and ``inter_eye_distance`` of a face record."""

    def __init__(self, mesh: LandmarkModel, iris: IrisModel | None = None) -> None:
        self.mesh = mesh
        self.iris = iris

    def run(self, rgb: U8, record: FaceRecord) -> FaceRecord:
        lm = self.mesh.landmarks(rgb, record.detection)
        if self.iris is not None and lm.iris is None:
            lm.iris, lm.eye_contour = self.iris.run(rgb, lm.mesh)
        record.landmarks = lm
        record.five_points = five_points_from(lm.mesh, lm.iris)
        eyes = record.five_points[:2]
        record.inter_eye_distance = float(np.linalg.norm(eyes[1] - eyes[0]))
        return record
