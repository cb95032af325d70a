"""Selfie segmenter: mask shape/range, person pixels high, portrait background low."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faceproof.config import ConfigError
from faceproof.face.record import U8
from faceproof.models.blazeface import FaceDetectorSet, most_prominent
from faceproof.models.segmenter import MODEL_FILE, SelfieSegmenter
from faceproof.models.store import require_models

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def segmenter(models_path: Path) -> SelfieSegmenter:
    try:
        require_models(models_path, [MODEL_FILE])
    except ConfigError as exc:
        pytest.skip(str(exc))
    return SelfieSegmenter(models_path)


def _load(path: Path) -> U8:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def _portraits(data_root: Path) -> list[Path]:
    deepface = sorted((data_root / "verify/extra/deepface_unit_dataset").glob("*/*.jpg"))
    return sorted((data_root / "misc/other_faces").iterdir()) + deepface[::8]


def test_mask_shape_and_range(segmenter: SelfieSegmenter, data_root: Path) -> None:
    rgb = _load(data_root / "misc/other_faces/dlib__Tom_Cruise_avp_2014_4.jpg")
    small = cv2.resize(rgb, (640, 480))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    for image in (rgb, small, grey):
        mask = segmenter.segment(image.astype(np.uint8))
        assert mask.shape == image.shape[:2] and mask.dtype == np.float32
        assert mask.min() >= 0.0 and mask.max() <= 1.0
        assert mask.max() > 0.9 and mask.min() < 0.1  # a real two-class answer


def test_person_high_and_portrait_background_low(
    segmenter: SelfieSegmenter, models_path: Path, data_root: Path
) -> None:
    detectors = FaceDetectorSet(models_path)
    files = _portraits(data_root)
    assert len(files) >= 10
    for f in files:
        rgb = _load(f)
        h, w = rgb.shape[:2]
        face, _ = most_prominent(detectors.detect(rgb, "document"), (w, h))
        assert face is not None, f.name
        mask = segmenter.segment(rgb)
        # The face box's central two thirds, extended down by half its height (chin, neck).
        x0, y0, x1, y1 = face.box
        inset = face.width / 6
        xa, xb = int(max(0, x0 + inset)), int(min(w, x1 - inset))
        ya, yb = int(max(0, y0)), int(min(h, y1 + face.height / 2))
        person = mask[ya:yb, xa:xb]
        assert (person > 0.5).mean() > 0.85, f.name
        # Top corners of a portrait are background (bottom ones often hold the shoulders).
        c = max(4, min(h, w) // 10)
        corners = np.concatenate([mask[:c, :c].ravel(), mask[:c, -c:].ravel()])
        assert (corners < 0.5).mean() > 0.9, f.name


@pytest.mark.parametrize(
    "name", ["skimage__brick.png", "skimage__grass.png", "facenet__pilatus800.jpg"]
)
def test_no_person_in_scenes_without_people(
    segmenter: SelfieSegmenter, data_root: Path, name: str
) -> None:
    mask = segmenter.segment(_load(data_root / "misc/no_face" / name))
    assert (mask > 0.5).mean() < 0.05
