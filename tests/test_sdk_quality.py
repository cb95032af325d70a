"""The SDK's on-device pose and eye openness agree with the server's on real faces: the same
face mesh (the server's model on real photos) through sdk/src/quality.js (Node) and through
the server's PnP head pose and mesh-lid eye aspect ratio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from faceproof.face.pose import estimate_pose
from faceproof.models.blazeface import BlazeFaceDetector
from faceproof.models.facemesh import FaceMeshModel
from faceproof.pipeline.decode import decode_image
from faceproof.quality import mesh_regions as mr
from faceproof.quality.eyes_open import aspect_ratio
from sdk_node import needs_node, run_support

pytestmark = needs_node


def test_sdk_pose_and_eyes_match_the_server(models_path: Path, data_root: Path) -> None:
    det = BlazeFaceDetector(models_path, "short")
    mesh_model = FaceMeshModel(models_path)
    paths = sorted((data_root / "verify" / "lfw").glob("B*/*_0001.jpg"))[:12]
    meshes, poses, ears = [], [], []
    for path in paths:
        rgb = decode_image(path.read_bytes(), "image").rgb
        faces = det.detect(rgb)
        if not faces:
            continue
        mesh = mesh_model.landmarks(rgb, faces[0]).mesh
        meshes.append(mesh.ravel().tolist())
        poses.append(estimate_pose(mesh, (rgb.shape[1], rgb.shape[0])))
        lids = []
        for corners, lower, upper in (
            (mr.EYE_CORNERS_L, mr.LOWER_LID_L, mr.UPPER_LID_L),
            (mr.EYE_CORNERS_R, mr.LOWER_LID_R, mr.UPPER_LID_R),
        ):
            m = mesh[:, :2].astype(np.float64)
            lids.append(aspect_ratio((m[list(corners)], m[list(lower)], m[list(upper)])))
        ears.append(float(np.mean(lids)))
    assert len(meshes) >= 10
    got = json.loads(run_support("pose.mjs", {"meshes": meshes}))
    yaw = np.array([g["yaw"] - p.yaw for g, p in zip(got, poses, strict=True)])
    pitch = np.array([g["pitch"] - p.pitch for g, p in zip(got, poses, strict=True)])
    roll = np.array([g["roll"] - p.roll for g, p in zip(got, poses, strict=True)])
    # The SDK's geometric estimate follows the server's PnP pose: same signs, measured
    # max |Δ| 3.4° yaw, 7.6° pitch, 2.5° roll on these photos.
    assert np.abs(yaw).max() < 6 and np.abs(pitch).max() < 10 and np.abs(roll).max() < 6, (
        yaw,
        pitch,
        roll,
    )
    spread = np.ptp([p.yaw for p in poses])
    assert spread > 5  # the photos do vary in pose, so agreement is not trivial
    # Eye aspect ratio: the same formula on the same lids.
    assert np.allclose([g["ear"] for g in got], ears, atol=1e-4)
