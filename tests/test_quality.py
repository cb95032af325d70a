"""Capture quality (``data.quality``): curve, combination and the measures on real photos.

Model-dependent tests run the real pipeline (BlazeFace → face mesh + iris → pose, selfie
segmentation) on images from ../shared/data and compare groups by their medians. Image
manipulations (blur, darkening) are applied in memory and the whole pipeline is re-run on the
result; nothing is written to disk.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from faceproof.face.record import FaceRecord
from faceproof.quality import QualitySession, assess_quality
from faceproof.quality import mesh_regions as mr
from faceproof.quality.report import combine
from faceproof.quality.scale import Sigmoid, sigmoid_map
from faceproof.quality.sharpness import reblur_ratio

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "data"
PIPELINE_MODELS = (
    "face_detection_short_range.tflite",
    "face_detection_full_range.tflite",
    "face_landmark.tflite",
    "iris_landmark.tflite",
    "selfie_segmentation.tflite",
)


# -- shared helpers (test_icao.py imports these) ----------------------------------------------
def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def images(folder: str, pattern: str = "*", step: int = 1) -> list[Path]:
    paths = sorted(p for p in (DATA / folder).glob(pattern) if p.suffix.lower() in {".jpg", ".png"})
    return paths[::step]


def portraits() -> list[Path]:
    """Unoccluded single-face portraits of several people."""
    return images("verify/extra/deepface_unit_dataset", "*/*.jpg", step=5) + images(
        "misc/other_faces"
    )


@dataclass
class Analysed:
    rgb: np.ndarray
    record: FaceRecord
    multiple: bool
    mask: np.ndarray

    def session(self) -> QualitySession:
        return QualitySession(self.rgb, self.record, self.mask)


class Pipeline:
    """The engine's stage order for third-party images: full-range detector (short-range
    fallback), most prominent face, mesh + iris, pose, person mask."""

    def __init__(self, models: Path) -> None:
        from faceproof.models.blazeface import BlazeFaceDetector
        from faceproof.models.facemesh import FaceMeshModel
        from faceproof.models.iris import IrisModel
        from faceproof.models.segmenter import SelfieSegmenter
        from faceproof.pipeline.landmarks import LandmarkStage

        self.full = BlazeFaceDetector(models, "full")
        self.short = BlazeFaceDetector(models, "short")
        self.stage = LandmarkStage(FaceMeshModel(models), IrisModel(models))
        self.segmenter = SelfieSegmenter(models)

    def analyse(self, rgb: np.ndarray) -> Analysed | None:
        from faceproof.face.pose import estimate_pose
        from faceproof.models.blazeface import most_prominent

        faces = self.full.detect(rgb) or self.short.detect(rgb)
        main, multiple = most_prominent(faces, (rgb.shape[1], rgb.shape[0]))
        if main is None:
            return None
        record = self.stage.run(rgb, FaceRecord(detection=main))
        assert record.landmarks is not None
        record.pose = estimate_pose(record.landmarks.mesh, (rgb.shape[0], rgb.shape[1]))
        return Analysed(rgb, record, multiple, self.segmenter.segment(rgb))

    def analyse_all(self, paths: Iterable[Path]) -> list[Analysed]:
        out = []
        for p in paths:
            a = self.analyse(load_rgb(p))
            if a is not None:
                out.append(a)
        return out


@pytest.fixture(scope="session")
def pipeline(models_path: Path, data_root: Path) -> Pipeline:
    missing = [f for f in PIPELINE_MODELS if not (models_path / f).is_file()]
    if missing:
        pytest.skip(f"model files missing: {missing}")
    return Pipeline(models_path)


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


# -- no models ---------------------------------------------------------------------------------
def test_sigmoid_is_50_at_x0_monotone_and_invertible() -> None:
    assert sigmoid_map(3.0, 3.0, 1.0) == pytest.approx(50.0)
    xs = np.linspace(-5, 10, 31)
    ys = [sigmoid_map(float(x), 2.0, 1.5) for x in xs]
    assert all(b > a for a, b in itertools.pairwise(ys))
    assert sigmoid_map(4.0, 2.0, 1.0, invert=True) == pytest.approx(100 - sigmoid_map(4.0, 2, 1))
    assert sigmoid_map(float("nan"), 0.0, 1.0) == 0.0
    with pytest.raises(ValueError):
        sigmoid_map(1.0, 0.0, 0.0)


def test_zero_anchored_sigmoid_reads_zero_for_none() -> None:
    curve = Sigmoid(0.25, 0.07, zero_at_zero=True)
    assert curve(0.0) == 0.0
    assert 0 < curve(0.1) < curve(0.25) < curve(0.5) <= 100
    assert curve(0.25) < 50  # the rescale lowers the curve a little, never raises it


def test_geometric_combination_is_dragged_down_by_one_bad_component() -> None:
    good = {"sharpness": 90.0, "exposure": 90.0, "face_size": 90.0, "head_pose": 90.0}
    assert combine(good) == pytest.approx(90.0)
    one_bad = good | {"exposure": 5.0}
    assert combine(one_bad) < 50
    assert combine(good | {"sharpness": 0.0}) == 0.0


def test_reblur_ratio_falls_with_blur_and_ignores_contrast() -> None:
    rng = np.random.default_rng(7)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (128, 128)).astype(np.float32), (0, 0), 0.7)
    mask = np.ones(texture.shape, dtype=bool)
    sharp = reblur_ratio(texture, mask)
    soft = reblur_ratio(cv2.GaussianBlur(texture, (0, 0), 2.5), mask)
    assert soft < 0.5 * sharp
    assert reblur_ratio(texture * 0.3, mask) == pytest.approx(sharp, rel=1e-3)
    assert reblur_ratio(np.zeros((32, 32), np.float32), np.ones((32, 32), bool)) == 0.0


def test_mesh_regions_are_valid_and_paired() -> None:
    for name, region in mr.REGIONS.items():
        assert region.indices, name
        assert all(0 <= i < 468 for i in region.indices), name
        assert len(set(region.indices)) == len(region.indices), name
    for left in [n for n in mr.REGIONS if n.endswith("_l")]:
        right = left[:-2] + "_r"
        assert len(mr.REGIONS[left].indices) == len(mr.REGIONS[right].indices)
        shared = set(mr.REGIONS[left].indices) & set(mr.REGIONS[right].indices)
        assert shared <= set(mr.MIDLINE_UP), left  # only the face halves share the midline


# -- with models -------------------------------------------------------------------------------
@pytest.mark.models
def test_mesh_regions_sit_where_their_names_say(pipeline: Pipeline) -> None:
    """Image-left regions left of image-right ones, top above the eyes, bottom below the
    mouth, nose between eyes and mouth: on every frontal portrait."""
    faces = [
        a
        for a in pipeline.analyse_all(portraits())
        if a.record.pose is not None and abs(a.record.pose.yaw) < 20
    ]
    assert len(faces) >= 8
    for a in faces:
        s = a.session()

        def centre(name: str, s: QualitySession = s) -> np.ndarray:
            ys, xs = np.nonzero(s.region(name))
            return np.array([xs.mean(), ys.mean()])

        for part in ("eye", "side", "periocular", "cheek", "brow", "half"):
            assert centre(f"{part}_l")[0] < centre(f"{part}_r")[0], part
        assert centre("side_l")[0] < centre("eye_l")[0] < centre("nose")[0]
        assert centre("nose")[0] < centre("eye_r")[0] < centre("side_r")[0]
        eyes_y = (centre("eye_l")[1] + centre("eye_r")[1]) / 2
        assert centre("top")[1] < eyes_y < centre("nose")[1] < centre("lips")[1]
        assert centre("lips")[1] < centre("bottom")[1]


@pytest.mark.models
def test_frontal_portraits_score_open_eyes_good_pose_and_quality(pipeline: Pipeline) -> None:
    faces = pipeline.analyse_all(portraits())
    reports = [assess_quality(a.session()) for a in faces]
    assert len(reports) >= 8
    metrics = [r.eyes_open_metric for r in reports]
    assert sum(r.eyes_status == "OPEN" for r in reports) >= 0.9 * len(reports)
    assert 35 <= median(metrics) <= 80  # a normally open eye reads ~40–80
    assert median(r.quality_metric for r in reports) > 70
    assert sum(r.qc_passed for r in reports) >= 0.8 * len(reports)
    for r in reports:
        assert list(r.to_json()) == [
            "eyes_status",
            "eyes_open_metric",
            "head_pose_check",
            "quality_metric",
            "qc_passed",
        ]
        assert 0 <= r.quality_metric <= 100 and 0 <= r.eyes_open_metric <= 100


@pytest.mark.models
def test_blink_in_a_live_video_reads_closed(pipeline: Pipeline, data_root: Path) -> None:
    """No still image in the data has closed eyes; the live selfie video has blinks. The
    metric must dip below the CLOSED cut on some frames while staying OPEN on most."""
    from faceproof.quality.eyes_open import EyesOpen

    cap = cv2.VideoCapture(str(data_root / "video" / "apfol__real2__live.webm"))
    metrics = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        from faceproof.models.blazeface import most_prominent

        main, _ = most_prominent(pipeline.short.detect(rgb), (rgb.shape[1], rgb.shape[0]))
        if main is None:
            continue
        record = pipeline.stage.run(rgb, FaceRecord(detection=main))
        metrics.append(EyesOpen().measure(QualitySession(rgb, record)).score)
    cap.release()
    if not metrics:
        pytest.skip("video could not be decoded here")
    assert len(metrics) > 100
    closed = [m for m in metrics if m < 10]
    assert 1 <= len(closed) <= 0.1 * len(metrics)  # blinks are brief
    assert median(metrics) > 30


@pytest.mark.models
def test_blur_lowers_quality(pipeline: Pipeline) -> None:
    before, after = [], []
    for a in pipeline.analyse_all(portraits()):
        sigma = a.record.inter_eye_distance / 20  # type: ignore[operator]
        b = pipeline.analyse(cv2.GaussianBlur(a.rgb, (0, 0), sigma))
        if b is None:
            continue
        q0, q1 = assess_quality(a.session()), assess_quality(b.session())
        before.append(q0.quality_metric)
        after.append(q1.quality_metric)
        assert q1.components["sharpness"].raw < q0.components["sharpness"].raw
    assert len(before) >= 8
    assert median(after) < median(before) - 30


@pytest.mark.models
def test_darkening_and_blowing_out_lower_quality(pipeline: Pipeline) -> None:
    base, dark, bright = [], [], []
    for a in pipeline.analyse_all(portraits()):
        d = pipeline.analyse((a.rgb.astype(np.float32) * 0.25).astype(np.uint8))
        b = pipeline.analyse(np.clip(a.rgb.astype(np.float32) * 2.5, 0, 255).astype(np.uint8))
        if d is None or b is None:
            continue
        base.append(assess_quality(a.session()).quality_metric)
        dark.append(assess_quality(d.session()).quality_metric)
        bright.append(assess_quality(b.session()).quality_metric)
    assert len(base) >= 8
    assert median(dark) < median(base) - 20
    assert median(bright) < median(base) - 40


@pytest.mark.models
def test_quality_rises_along_the_resolution_ladder(pipeline: Pipeline) -> None:
    ladder = {p.stem.split("-")[-1]: p for p in images("misc/quality/resolution_ladder", "*-*")}
    if not {"240p", "480p", "720p"} <= set(ladder):
        pytest.skip("resolution ladder incomplete")
    q = {}
    for key in ("240p", "480p", "720p"):
        a = pipeline.analyse(load_rgb(ladder[key]))
        assert a is not None
        q[key] = assess_quality(a.session())
    assert q["240p"].quality_metric < q["480p"].quality_metric <= q["720p"].quality_metric + 1
    size = [q[k].components["face_size"].raw for k in ("240p", "480p", "720p")]
    assert size == sorted(size)
