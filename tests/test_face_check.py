"""The animal check on doubtful face detections: dogs go, people (masked or odd) stay."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faceproof.face.record import Detection
from faceproof.models.blazeface import FaceDetectorSet
from faceproof.models.centernet import ANIMALS, CenterNetObjects, ObjectBox
from faceproof.pipeline.face_check import (
    ANIMAL_MIN,
    CONFIDENT,
    check_faces,
    doubt_matters,
    drop_animal_faces,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _det(box: tuple[float, float, float, float], score: float) -> Detection:
    return Detection(box, score, np.zeros((6, 2), np.float32))


class _Objects:
    """A stand-in object model that counts its calls."""

    def __init__(self, found: list[ObjectBox]) -> None:
        self.found, self.calls = found, 0

    def detect(self, rgb: np.ndarray) -> list[ObjectBox]:
        self.calls += 1
        return self.found


# --- the rule ---------------------------------------------------------------------------


def test_confident_faces_never_run_the_object_model() -> None:
    objs = _Objects([ObjectBox("dog", 0.99, (0, 0, 100, 100))])
    rgb = np.zeros((100, 100, 3), np.uint8)
    face = _det((10, 10, 60, 60), CONFIDENT + 0.01)
    assert drop_animal_faces(rgb, [face], objs, ANIMALS) == [face]
    assert objs.calls == 0


def test_corroborated_faces_are_not_doubtful() -> None:
    """A face the other BlazeFace model is sure of is not checked."""
    objs = _Objects([ObjectBox("dog", 0.99, (0, 0, 100, 100))])
    rgb = np.zeros((100, 100, 3), np.uint8)
    face = _det((10, 10, 60, 60), 0.6)
    sure = _det((12, 11, 61, 58), 0.9)
    assert drop_animal_faces(rgb, [face], objs, ANIMALS, corroborate=lambda: [sure]) == [face]
    assert objs.calls == 0
    assert drop_animal_faces(rgb, [face], objs, ANIMALS, corroborate=lambda: []) == []


@pytest.mark.parametrize(
    ("objects", "dropped"),
    [
        ([ObjectBox("dog", ANIMAL_MIN + 0.01, (0, 0, 100, 100))], True),
        ([ObjectBox("dog", ANIMAL_MIN - 0.01, (0, 0, 100, 100))], False),
        ([ObjectBox("cat", 0.9, (0, 0, 100, 100)), ObjectBox("person", 0.95, (0, 0, 90, 90))],
         False),  # a person is there too, and surer
        ([ObjectBox("dog", 0.9, (70, 70, 100, 100))], False),  # the dog is elsewhere
        ([ObjectBox("teddy bear", 0.9, (0, 0, 100, 100))], False),  # not a COCO animal
    ],
)  # fmt: skip
def test_animal_rule(objects: list[ObjectBox], dropped: bool) -> None:
    rgb = np.zeros((100, 100, 3), np.uint8)
    face = _det((10, 10, 60, 60), 0.6)
    verdicts = check_faces(rgb, [face], _Objects(objects), ANIMALS)
    assert [v.is_animal for v in verdicts] == [dropped]


# --- real images ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(models_path: Path) -> tuple[FaceDetectorSet, CenterNetObjects]:
    if not (models_path / "centernet.json").is_file():
        pytest.skip("model files missing")
    if not DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return FaceDetectorSet(models_path), CenterNetObjects(models_path)


def _rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return np.ascontiguousarray(bgr[:, :, ::-1])


@pytest.mark.models
def test_object_model_sees_dogs_and_a_person(
    models: tuple[FaceDetectorSet, CenterNetObjects],
) -> None:
    _, objects = models
    dogs = objects.detect(_rgb(DATA / "misc/no_face/dlib__dogs.jpg"))
    assert sum(o.label == "dog" and o.score >= 0.4 for o in dogs) == 4  # the four photos
    for o in dogs[:4]:  # one per quadrant of the 2×2 collage
        x0, y0, x1, y1 = o.box
        assert x1 - x0 > 250 and y1 - y0 > 250
    people = objects.detect(_rgb(DATA / "misc/other_faces/skimage__astronaut.png"))
    assert people[0].label == "person" and people[0].score > 0.5


@pytest.mark.models
def test_dog_faces_are_dropped_by_the_check_not_by_blazeface(
    models: tuple[FaceDetectorSet, CenterNetObjects],
) -> None:
    detectors, objects = models
    rgb = _rgb(DATA / "misc/no_face/dlib__dogs.jpg")
    raw = detectors.detect(rgb, "selfie")
    assert raw  # BlazeFace alone reports a face here: the check does the work
    verdicts = check_faces(rgb, raw, objects, ANIMALS, lambda: detectors.detect_all(rgb))
    assert verdicts and all(v.is_animal for v in verdicts)


@pytest.mark.models
@pytest.mark.parametrize(
    "name",
    [
        "verify/lfw/Jeff_Feldman/Jeff_Feldman_0001.jpg",  # called a dog at 0.37, kept
        "misc/occlusion/face_mask/82.jpg",
        "misc/occlusion/face_mask/0_2_9.jpg",
        "misc/occlusion/face_mask/with_mask273.jpg",
        "misc/occlusion/face_mask/0_0_12.jpg",
        "misc/occlusion/sunglasses_and_mask/rmfd_4.jpg",
    ],
)
def test_doubtful_human_faces_are_kept(
    models: tuple[FaceDetectorSet, CenterNetObjects], name: str
) -> None:
    detectors, objects = models
    rgb = _rgb(DATA / name)
    for mode in ("selfie", "document"):
        raw = detectors.detect(rgb, mode)
        verdicts = check_faces(rgb, raw, objects, ANIMALS, lambda: detectors.detect_all(rgb))
        assert verdicts, "not a doubtful detection: the case tests nothing"
        kept = drop_animal_faces(rgb, raw, objects, ANIMALS, lambda: detectors.detect_all(rgb))
        assert raw and kept == raw, (mode, [(v.animal, v.person) for v in verdicts])


# --- when the check can matter -----------------------------------------------------------


@pytest.mark.parametrize(
    ("faces", "matters"),
    [
        # A doubtful main face: dropping it changes the main face.
        ([_det((100, 100, 300, 300), 0.6)], True),
        # Confident main, doubtful background face wide enough to count as a second face.
        ([_det((100, 100, 300, 300), 0.9), _det((400, 50, 460, 110), 0.6)], True),
        # Confident main, doubtful face under 20 % of its width: never a second face.
        ([_det((100, 100, 300, 300), 0.9), _det((400, 50, 430, 80), 0.6)], False),
        # A confident second face already makes the flag true either way.
        (
            [
                _det((100, 100, 300, 300), 0.9),
                _det((350, 100, 450, 200), 0.95),
                _det((500, 50, 560, 110), 0.6),
            ],
            False,
        ),
        # No doubtful face at all, and no face.
        ([_det((100, 100, 300, 300), 0.9)], False),
        ([], False),
    ],
)
def test_doubt_matters_only_when_the_answer_could_change(
    faces: list[Detection], matters: bool
) -> None:
    assert doubt_matters(faces, (640, 480)) is matters


def test_skipping_the_check_never_changes_the_answer() -> None:
    """Whatever the object model would say about the doubtful faces (each dropped or kept),
    when ``doubt_matters`` is false the main face and the flag stay as they are."""
    import itertools

    from faceproof.models.blazeface import most_prominent

    rng = np.random.default_rng(7)
    for _ in range(300):
        faces = []
        for _ in range(int(rng.integers(1, 5))):
            x, y, w = rng.uniform(0, 500), rng.uniform(0, 350), rng.uniform(10, 200)
            faces.append(_det((x, y, x + w, y + w), float(rng.uniform(0.5, 1.0))))
        if doubt_matters(faces, (640, 480)):
            continue
        doubtful = [d for d in faces if d.score < CONFIDENT]
        main, multiple = most_prominent(faces, (640, 480))
        for k in range(len(doubtful) + 1):
            for gone in itertools.combinations(doubtful, k):
                kept = [d for d in faces if all(d is not g for g in gone)]
                got_main, got_multiple = most_prominent(kept, (640, 480))
                assert got_main is main and got_multiple == multiple
