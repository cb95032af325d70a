"""BlazeFace detector: anchor grid, decoding/letterbox mapping, and real-photo behaviour."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceproof.face.record import U8, Detection
from faceproof.models.blazeface import (
    BlazeFaceDetector,
    FaceDetectorSet,
    most_prominent,
    ssd_anchor_centres,
)
from faceproof.models.centernet import ANIMALS, CenterNetObjects
from faceproof.pipeline.face_check import drop_animal_faces


def _load(path: Path) -> U8:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _det(x0: float, y0: float, w: float, h: float, score: float = 0.9) -> Detection:
    return Detection((x0, y0, x0 + w, y0 + h), score, np.zeros((6, 2), np.float32))


# --- pure logic -------------------------------------------------------------------------


def test_anchor_grids_match_mediapipe_parameters() -> None:
    short = ssd_anchor_centres(128, (8, 16, 16, 16), 2)
    assert short.shape == (896, 2)
    # stride 8: 16x16 cells x 2 anchors, then stride 16: 8x8 cells x 6 anchors
    assert np.allclose(short[0], [0.5 / 16, 0.5 / 16]) and np.allclose(short[1], short[0])
    assert np.allclose(short[2], [1.5 / 16, 0.5 / 16])
    assert np.allclose(short[512], [0.5 / 8, 0.5 / 8]) and np.allclose(short[517], short[512])
    assert np.allclose(short[518], [1.5 / 8, 0.5 / 8])
    assert np.allclose(short[-1], [7.5 / 8, 7.5 / 8])
    full = ssd_anchor_centres(192, (4,), 1)
    assert full.shape == (2304, 2)
    assert np.allclose(full[0], [0.5 / 48, 0.5 / 48])
    assert np.allclose(full[48], [0.5 / 48, 1.5 / 48])


def test_most_prominent_prefers_large_central_faces() -> None:
    size = (1000, 800)
    centre_small = _det(450, 350, 100, 100)
    corner_bigger = _det(0, 0, 120, 120)  # 1.44x the area but at the corner
    main, multiple = most_prominent([corner_bigger, centre_small], size)
    assert main is centre_small and multiple
    corner_huge = _det(0, 0, 200, 200)  # 4x the area wins despite the corner
    assert most_prominent([centre_small, corner_huge], size)[0] is corner_huge
    tiny = _det(900, 700, 15, 15)  # 15 % of the main face's width: background noise
    assert most_prominent([centre_small, tiny], size) == (centre_small, False)
    assert most_prominent([centre_small, _det(900, 700, 30, 30)], size)[1] is True
    assert most_prominent([], size) == (None, False)


# --- with the models and real photographs ----------------------------------------------


@pytest.fixture(scope="module")
def detectors(models_path: Path) -> FaceDetectorSet:
    return FaceDetectorSet(models_path)


@pytest.fixture(scope="module")
def objects(models_path: Path) -> CenterNetObjects:
    if not (models_path / "centernet.json").is_file():
        pytest.skip("centernet model not fetched")
    return CenterNetObjects(models_path)


def _deepface_sample(data_root: Path) -> list[Path]:
    files = sorted((data_root / "verify/extra/deepface_unit_dataset").glob("*/*.jpg"))
    return files[::6][:10]


@pytest.mark.models
@pytest.mark.parametrize("mode", ["selfie", "document"])
def test_exactly_one_face_on_single_portraits(
    detectors: FaceDetectorSet, data_root: Path, mode: str
) -> None:
    files = _deepface_sample(data_root) + sorted((data_root / "misc/other_faces").iterdir())
    assert len(files) >= 13
    for f in files:
        rgb = _load(f)
        dets = detectors.detect(rgb, mode)  # type: ignore[arg-type]
        assert len(dets) == 1, (f.name, [d.score for d in dets])
        d = dets[0]
        h, w = rgb.shape[:2]
        assert 0.03 * min(h, w) < d.width < 1.2 * max(h, w), f.name
        assert 0.6 < d.height / d.width < 1.6, f.name  # letterboxing keeps faces unsquashed
        assert most_prominent(dets, (w, h))[1] is False


@pytest.mark.models
def test_keypoints_are_in_mediapipe_order(detectors: FaceDetectorSet, data_root: Path) -> None:
    for f in _deepface_sample(data_root):
        d = detectors.detect(_load(f), "document")[0]
        kp = d.keypoints
        assert kp.shape == (6, 2)
        right_eye, left_eye, nose, mouth, right_ear, left_ear = kp
        assert right_eye[0] < nose[0] < left_eye[0], f.name  # right eye on the image left
        assert mouth[1] > nose[1] > min(right_eye[1], left_eye[1]), f.name
        assert right_ear[0] < right_eye[0] and left_ear[0] > left_eye[0], f.name
        x0, y0, x1, y1 = d.box
        assert x0 < nose[0] < x1 and y0 < nose[1] < y1, f.name


@pytest.mark.models
@pytest.mark.parametrize("range_", ["short", "full"])
def test_boxes_map_back_through_the_letterbox(
    models_path: Path, data_root: Path, range_: str
) -> None:
    """Cropping the photo to another aspect ratio (same longest side, so the same scale in
    the letterbox but a different padding) must only translate the box and keypoints."""
    det = BlazeFaceDetector(models_path, range_)  # type: ignore[arg-type]
    rgb = _load(data_root / "misc/other_faces/skimage__astronaut.png")  # 512 x 512
    base = det.detect(rgb)[0]
    for dx, dy, crop in ((60, 0, rgb[:, 60:452]), (0, 40, rgb[40:, :])):
        moved = det.detect(np.ascontiguousarray(crop))[0]
        tol = 0.08 * base.width  # the anchor grid makes boxes jitter a few px with phase
        shift = np.array([dx, dy], np.float32)
        assert np.allclose(np.array(moved.box) + np.tile(shift, 2), base.box, atol=tol)
        kp_err = np.abs(moved.keypoints + shift - base.keypoints)
        assert (kp_err[:4] <= tol).all()  # eyes, nose, mouth
        assert (kp_err[4:] <= 2 * tol).all()  # ear tragions are the least stable points


@pytest.mark.models
def test_group_photos_have_several_faces(detectors: FaceDetectorSet, data_root: Path) -> None:
    files = sorted((data_root / "misc/multi_face").glob("*.jpg"))
    assert len(files) == 5
    for f in files:
        rgb = _load(f)
        for mode in ("selfie", "document"):
            dets = detectors.detect(rgb, mode)
            assert len(dets) >= 2, (f.name, mode)
            main, multiple = most_prominent(dets, (rgb.shape[1], rgb.shape[0]))
            assert multiple, (f.name, mode)
            assert main is not None and main.width >= 0.8 * max(d.width for d in dets), f.name


@pytest.mark.models
def test_dlib_annotated_faces_are_found_with_good_boxes(
    detectors: FaceDetectorSet, data_root: Path
) -> None:
    """PASCAL VOC group photos with dlib's boxes: small faces (37-109 px), document mode."""
    folder = data_root / "misc/multi_face/dlib_examples_faces"
    n_gt = matched = n_det = unmatched = 0
    for xml in ("training.xml", "testing.xml"):
        for image in ET.parse(folder / xml).getroot().iter("image"):
            gt = [
                (
                    float(b.get("left", 0)),
                    float(b.get("top", 0)),
                    float(b.get("left", 0)) + float(b.get("width", 0)),
                    float(b.get("top", 0)) + float(b.get("height", 0)),
                )
                for b in image.iter("box")
            ]
            dets = detectors.detect(_load(folder / str(image.get("file"))), "document")
            n_gt += len(gt)
            n_det += len(dets)
            matched += sum(max((_iou(g, d.box) for d in dets), default=0) >= 0.5 for g in gt)
            unmatched += sum(max(_iou(g, d.box) for g in gt) < 0.3 for d in dets)
    assert n_gt == 43
    assert matched >= 0.9 * n_gt, (matched, n_gt)  # measured 42/43
    assert unmatched <= 0.1 * n_det, (unmatched, n_det)  # measured 0


def _no_face_cases() -> list[object]:
    names = [
        "dlib__dogs.jpg",
        "dlib__video_frame_000100.jpg",
        "facenet__pilatus800.jpg",
        "skimage__brick.png",
        "skimage__chelsea.png",
        "skimage__clock_motion.png",
        "skimage__coffee.png",
        "skimage__coins.png",
        "skimage__grass.png",
        "skimage__gravel.png",
        "skimage__horse.png",
        "skimage__hubble_deep_field.jpg",
        "skimage__moon.png",
        "skimage__motorcycle_left.png",
        "skimage__page.png",
        "skimage__retina.jpg",
        "skimage__rocket.jpg",
        "skimage__text.png",
    ]
    cases: list[object] = []
    for name in names:
        for mode in ("full-range model", "selfie", "document"):
            cases.append(pytest.param(name, mode, id=f"{name}-{mode}"))
    return cases


@pytest.mark.models
@pytest.mark.parametrize(("name", "mode"), _no_face_cases())
def test_no_face_images(
    detectors: FaceDetectorSet,
    objects: CenterNetObjects,
    data_root: Path,
    name: str,
    mode: str,
) -> None:
    """No face reported, with the animal check as the engine runs it (``find_faces``)."""
    rgb = _load(data_root / "misc/no_face" / name)
    if mode == "full-range model":
        dets = detectors.full.detect(rgb)
    else:
        raw = detectors.detect(rgb, mode)  # type: ignore[arg-type]
        dets = drop_animal_faces(
            rgb, raw, objects, ANIMALS, corroborate=lambda: detectors.detect_all(rgb)
        )
    assert dets == [], [(round(d.score, 2), [round(v) for v in d.box]) for d in dets]


@pytest.mark.models
def test_greyscale_and_rgba_inputs(detectors: FaceDetectorSet, data_root: Path) -> None:
    rgb = _load(data_root / "misc/other_faces/skimage__astronaut.png")
    grey = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]).astype(np.uint8)
    assert len(detectors.short.detect(grey)) == 1
    assert len(detectors.short.detect(rgba)) == 1
    assert detectors.short.detect(np.zeros((0, 10, 3), np.uint8)) == []


@pytest.mark.models
def test_threads_get_the_same_answers(models_path: Path, data_root: Path) -> None:
    """Interpreters are per thread; concurrent calls must not corrupt each other."""
    det = BlazeFaceDetector(models_path, "full")
    images = [_load(f) for f in _deepface_sample(data_root)[:4]]
    expected = [det.detect(im) for im in images]
    results: dict[int, list[list[Detection]]] = {}

    def work(i: int) -> None:
        results[i] = [det.detect(images[(i + k) % 4]) for k in range(8)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, got in results.items():
        for k, dets in enumerate(got):
            want = expected[(i + k) % 4]
            assert [d.box for d in dets] == [d.box for d in want]


@pytest.mark.models
def test_seen_detections_are_reused_not_recomputed(
    detectors: FaceDetectorSet, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``detect_all`` after ``detect`` with the same ``seen`` runs only the model not yet run,
    and returns what fresh runs return."""
    rgb = _load(data_root / "misc/other_faces/skimage__astronaut.png")

    def key(dets: list[Detection]) -> list[tuple[float, ...]]:
        return [(*d.box, d.score) for d in dets]

    fresh = key(detectors.detect_all(rgb))
    calls: list[str] = []
    for name in ("short", "full"):
        model = getattr(detectors, name)
        original = model.detect
        monkeypatch.setattr(
            model, "detect", lambda im, n=name, f=original: calls.append(n) or f(im)
        )
    seen: dict[str, list[Detection]] = {}
    assert key(detectors.detect(rgb, "document", seen)) == key(detectors.detect(rgb, "document"))
    assert calls == ["full", "full"]  # document mode: the full-range model found the face
    calls.clear()
    assert key(detectors.detect_all(rgb, seen)) == fresh
    assert calls == ["short"]
    calls.clear()
    detectors.detect(rgb, "selfie", seen)
    assert calls == []
