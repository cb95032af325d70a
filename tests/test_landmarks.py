"""Face mesh, iris, five points and head pose on real photos (and pose maths on synthetic data).

Expectations come from facts outside the models under test: the detector's own keypoints
(an independent network), face anatomy (eyes above nose above mouth, iris ≈ 0.19 × the
inter-eye distance across) and exact image transforms (mirror, rotation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceproof.face.pose import (
    CANONICAL_POINTS,
    POSE_INDICES,
    estimate_pose,
    pose_from_rotation,
)
from faceproof.face.record import Detection, FaceRecord, Pose

pytestmark = pytest.mark.models

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
NEEDED = ("face_detection_short_range.tflite", "face_landmark.tflite", "iris_landmark.tflite")


@dataclass
class Face:
    name: str
    rgb: np.ndarray
    record: FaceRecord

    @property
    def nose_offset(self) -> float:
        """Detector's nose keypoint offset from the eye midpoint, in eye distances (+ = right)."""
        kp = self.record.detection.keypoints
        return float((kp[2, 0] - (kp[0, 0] + kp[1, 0]) / 2) / np.linalg.norm(kp[1] - kp[0]))


class Pipeline:
    def __init__(self, models: Path) -> None:
        from faceproof.models.blazeface import FaceDetectorSet
        from faceproof.models.facemesh import FaceMeshModel
        from faceproof.models.iris import IrisModel
        from faceproof.pipeline.landmarks import LandmarkStage

        self.detector = FaceDetectorSet(models)
        self.mesh = FaceMeshModel(models)
        self.mesh_one_pass = FaceMeshModel(models, refine=False)
        self.iris = IrisModel(models)
        self.stage = LandmarkStage(self.mesh, self.iris)

    def detect(self, rgb: np.ndarray) -> Detection | None:
        from faceproof.models.blazeface import most_prominent

        det, _ = most_prominent(self.detector.detect(rgb, "document"), (rgb.shape[1], rgb.shape[0]))
        return det

    def face(self, rgb: np.ndarray, name: str = "") -> Face | None:
        det = self.detect(rgb)
        if det is None:
            return None
        return Face(name, rgb, self.stage.run(rgb, FaceRecord(detection=det)))

    def pose(self, rgb: np.ndarray) -> Pose:
        face = self.face(rgb)
        assert face is not None and face.record.landmarks is not None
        return estimate_pose(face.record.landmarks.mesh, (rgb.shape[1], rgb.shape[0]))


def _read(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return np.ascontiguousarray(bgr[:, :, ::-1])


@pytest.fixture(scope="module")
def pipeline(models_path: Path) -> Pipeline:
    missing = [f for f in NEEDED if not (models_path / f).is_file()]
    if missing:
        pytest.skip(f"model files missing in {models_path}: {', '.join(missing)}")
    return Pipeline(models_path)


@pytest.fixture(scope="module")
def faces(pipeline: Pipeline) -> list[Face]:
    """Single-face portraits: deepface's unit set (61 photos) and two other portraits."""
    if not DATA.is_dir():
        pytest.skip("../shared/data is not present on this machine")
    paths = sorted((DATA / "verify" / "extra" / "deepface_unit_dataset").glob("id*/*.jpg"))
    paths += [
        DATA / "misc" / "other_faces" / "skimage__astronaut.png",
        DATA / "misc" / "other_faces" / "dlib__Tom_Cruise_avp_2014_4.jpg",
    ]
    out = []
    for p in paths:
        face = pipeline.face(_read(p), p.name)
        assert face is not None, f"no face detected in {p}"
        out.append(face)
    assert len(out) >= 50
    return out


def test_mesh_covers_the_detected_face(faces: list[Face]) -> None:
    for f in faces:
        lm, det = f.record.landmarks, f.record.detection
        assert lm is not None
        x0, y0, x1, y1 = det.box
        m = lm.mesh
        inside = np.mean((m[:, 0] >= x0) & (m[:, 0] <= x1) & (m[:, 1] >= y0) & (m[:, 1] <= y1))
        assert inside >= 0.95, f"{f.name}: only {inside:.1%} of mesh points in the box"
        assert lm.mesh.shape == (468, 3) and lm.mesh.dtype == np.float32
        assert lm.mesh_score > 0.9, f.name


def test_five_points_follow_face_anatomy(faces: list[Face]) -> None:
    checked = 0
    for f in faces:
        fp, ied = f.record.five_points, f.record.inter_eye_distance
        assert fp is not None and fp.shape == (5, 2) and ied is not None
        assert ied == pytest.approx(float(np.linalg.norm(fp[1] - fp[0])))
        assert fp[0, 0] < fp[1, 0] and fp[3, 0] < fp[4, 0], f"{f.name}: left/right swapped"
        assert fp[:2, 1].mean() < fp[2, 1] < fp[3:, 1].mean(), f"{f.name}: eyes/nose/mouth order"
        # The detector's eye keypoints sit on the pupils only for a face that is not turned.
        if abs(f.nose_offset) <= 0.25:
            err = np.linalg.norm(fp[:2] - f.record.detection.keypoints[:2], axis=1).max() / ied
            assert err < 0.15, f"{f.name}: eye centres {err:.2f} IED from detector keypoints"
            checked += 1
    assert checked >= 40


def test_iris_lies_in_the_eye_and_has_human_size(faces: list[Face]) -> None:
    from faceproof.models.iris import EYELID_POLYGON

    for f in faces:
        lm, ied = f.record.landmarks, f.record.inter_eye_distance
        assert lm is not None and lm.iris is not None and lm.eye_contour is not None and ied
        assert lm.iris.shape == (2, 5, 2) and lm.eye_contour.shape == (2, 71, 2)
        for e in range(2):
            lid = lm.eye_contour[e][list(EYELID_POLYGON)].reshape(-1, 1, 2).astype(np.float32)
            centre = (float(lm.iris[e, 0, 0]), float(lm.iris[e, 0, 1]))
            assert cv2.pointPolygonTest(lid, centre, False) > 0, f"{f.name}: iris {e} outside"
            # Adult iris ≈ 11.7 mm across, pupils ≈ 63 mm apart: about 0.19 IED.
            diameter = 2 * np.linalg.norm(lm.iris[e, 1:] - lm.iris[e, 0], axis=1).mean()
            assert 0.12 < diameter / ied < 0.27, f"{f.name}: iris {diameter / ied:.2f} IED"


def test_iris_is_mirror_consistent(pipeline: Pipeline, faces: list[Face]) -> None:
    """The model sees the right eye mirrored: a mirrored photo must give mirrored irises."""
    for f in faces[::6]:
        w = f.rgb.shape[1]
        mirrored = pipeline.face(np.ascontiguousarray(f.rgb[:, ::-1]))
        assert mirrored is not None and mirrored.record.landmarks is not None
        a = f.record.landmarks.iris if f.record.landmarks else None
        b = mirrored.record.landmarks.iris
        assert a is not None and b is not None and f.record.inter_eye_distance
        back = b[::-1, 0].copy()
        back[:, 0] = w - back[:, 0]
        err = np.linalg.norm(back - a[:, 0], axis=1).max() / f.record.inter_eye_distance
        assert err < 0.05, f"{f.name}: mirrored iris off by {err:.3f} IED"


def test_face_flag_rejects_non_faces(pipeline: Pipeline) -> None:
    from faceproof.models.facemesh import Roi

    paths = sorted((DATA / "misc" / "no_face").glob("skimage__*.png"))
    if not paths:
        pytest.skip("../shared/data/misc/no_face is not present")
    for p in paths:
        rgb = _read(p)
        h, w = rgb.shape[:2]
        lm = pipeline.mesh_one_pass.run_roi(rgb, Roi(w / 2, h / 2, 0.6 * min(h, w), 0.0))
        assert lm.mesh_score < 0.1, f"{p.name}: face score {lm.mesh_score:.3f}"


def test_second_pass_steadies_the_mesh(pipeline: Pipeline, faces: list[Face]) -> None:
    """Jittered detections: the mesh-based second ROI should vary less than the first."""
    rng = np.random.default_rng(7)
    spread_one, spread_two = [], []
    for f in faces[::5]:
        det, ied = f.record.detection, f.record.inter_eye_distance
        assert ied
        one, two = [], []
        for _ in range(4):
            s = (det.width * 0.08 * rng.standard_normal(2)).astype(np.float32)
            moved = Detection(
                box=(det.box[0] + s[0], det.box[1] + s[1], det.box[2] + s[0], det.box[3] + s[1]),
                score=det.score,
                keypoints=det.keypoints + s,
            )
            first = pipeline.mesh_one_pass.landmarks(f.rgb, moved)
            one.append(first.mesh[:, :2])
            two.append(pipeline.mesh_one_pass.refine_from_mesh(f.rgb, first).mesh[:, :2])
        spread_one.append(np.std(one, axis=0).mean() / ied)
        spread_two.append(np.std(two, axis=0).mean() / ied)
    assert np.mean(spread_two) < np.mean(spread_one)


# --- pose ------------------------------------------------------------------------------------


def _project(r: np.ndarray, width: int = 640, height: int = 480) -> np.ndarray:
    """A (468, 3) mesh whose pose points are the canonical face seen by a 640×480 camera."""
    t = np.array([0.0, 0.0, 60.0])
    cam = CANONICAL_POINTS @ r.T + t
    f = float(width)
    xy = cam[:, :2] / cam[:, 2:3] * f + np.array([width / 2, height / 2])
    mesh = np.repeat(xy.mean(axis=0, keepdims=True), 468, axis=0)
    mesh[POSE_INDICES] = xy
    return np.hstack([mesh, np.zeros((468, 1))]).astype(np.float32)


def _axis_rotation(axis: int, degrees: float) -> np.ndarray:
    r, _ = cv2.Rodrigues(np.eye(3)[axis] * math.radians(degrees))
    return np.asarray(r)


def _image_cues(mesh: np.ndarray) -> tuple[float, float, float]:
    """Nose-tip offsets (x right, y up) from the eye/mouth centre, and eye-line slope."""
    idx = {i: k for k, i in enumerate(POSE_INDICES)}
    pts = mesh[POSE_INDICES, :2]
    centre = pts[[idx[33], idx[263], idx[61], idx[291]]].mean(axis=0)
    nose = pts[idx[1]]
    eye_l, eye_r = pts[idx[33]], pts[idx[263]]
    slope = (eye_r[1] - eye_l[1]) / (eye_r[0] - eye_l[0])
    return float(nose[0] - centre[0]), float(centre[1] - nose[1]), float(slope)


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("degrees", [-25.0, -10.0, 10.0, 25.0])
def test_pose_conventions_on_a_projected_canonical_face(axis: int, degrees: float) -> None:
    """Signs are checked against what the image shows, magnitudes against the true angle."""
    frontal = _image_cues(_project(np.eye(3)))
    mesh = _project(_axis_rotation(axis, degrees))
    pose = estimate_pose(mesh, (640, 480))
    cues = _image_cues(mesh)
    if axis == 1:  # about the vertical axis: yaw, sign from the nose's horizontal offset
        assert np.sign(pose.yaw) == np.sign(cues[0] - frontal[0])
        assert abs(pose.yaw) == pytest.approx(abs(degrees), abs=1.0)
        assert abs(pose.pitch) < 1 and abs(pose.roll) < 1
    elif axis == 0:  # about the horizontal axis: pitch, nose up in the image = looking up
        assert np.sign(pose.pitch) == np.sign(cues[1] - frontal[1])
        assert abs(pose.pitch) == pytest.approx(abs(degrees), abs=1.0)
        assert abs(pose.yaw) < 1 and abs(pose.roll) < 1
    else:  # about the optical axis: roll, eye line falling to the right = clockwise
        assert np.sign(pose.roll) == np.sign(cues[2])
        assert abs(pose.roll) == pytest.approx(abs(degrees), abs=1.0)
        assert abs(pose.yaw) < 1 and abs(pose.pitch) < 1


def test_pose_from_rotation_of_identity_is_zero() -> None:
    p = pose_from_rotation(np.eye(3))
    assert (p.yaw, p.pitch, p.roll) == pytest.approx((0.0, 0.0, 0.0), abs=1e-9)


def test_frontal_faces_have_small_pose(faces: list[Face]) -> None:
    frontal = [f for f in faces if abs(f.nose_offset) <= 0.15]
    assert len(frontal) >= 40
    for f in frontal:
        assert f.record.landmarks is not None
        p = estimate_pose(f.record.landmarks.mesh, (f.rgb.shape[1], f.rgb.shape[0]))
        assert abs(p.yaw) < 20 and abs(p.pitch) < 20, f"{f.name}: {p}"


def test_yaw_sign_agrees_with_the_detector(faces: list[Face]) -> None:
    turned = [f for f in faces if abs(f.nose_offset) >= 0.1]
    assert len(turned) >= 3
    for f in turned:
        assert f.record.landmarks is not None
        p = estimate_pose(f.record.landmarks.mesh, (f.rgb.shape[1], f.rgb.shape[0]))
        assert np.sign(p.yaw) == np.sign(f.nose_offset), f"{f.name}: {p}, {f.nose_offset:.2f}"


def test_yaw_flips_with_a_mirrored_image(pipeline: Pipeline, faces: list[Face]) -> None:
    checked = 0
    for f in faces:
        assert f.record.landmarks is not None
        p = estimate_pose(f.record.landmarks.mesh, (f.rgb.shape[1], f.rgb.shape[0]))
        if abs(p.yaw) < 5:
            continue
        m = pipeline.pose(np.ascontiguousarray(f.rgb[:, ::-1]))
        assert np.sign(m.yaw) == -np.sign(p.yaw), f"{f.name}: {p} vs mirrored {m}"
        assert abs(m.yaw + p.yaw) < 5 and abs(m.roll + p.roll) < 5 and abs(m.pitch - p.pitch) < 5
        checked += 1
    assert checked >= 5


def test_roll_follows_a_clockwise_rotation(pipeline: Pipeline, faces: list[Face]) -> None:
    for f in faces[::8]:
        h, w = f.rgb.shape[:2]
        base = pipeline.pose(f.rgb)
        # cv2 angles are counter-clockwise as displayed: -15 turns the picture clockwise.
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), -15.0, 1.0)
        turned = cv2.warpAffine(f.rgb, rot, (w, h), borderMode=cv2.BORDER_REPLICATE)
        p = pipeline.pose(turned)
        assert p.roll - base.roll == pytest.approx(15.0, abs=5.0), f"{f.name}: {base} -> {p}"
        assert abs(p.yaw - base.yaw) < 5 and abs(p.pitch - base.pitch) < 5, f.name
