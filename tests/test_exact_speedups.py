"""The pipeline's speed-ups compute what the plain NumPy/OpenCV calls they replace compute.

Each faster path (composed mask resize, sort-based median, row gathers, bincount histogram,
strict base64 fast path) is checked against the straightforward call on varied inputs, so a
library change that broke the equivalence would show here rather than as drifting metrics.
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools

import cv2
import numpy as np
import pytest

from faceproof.errors import ApiError
from faceproof.face.record import PersonMask
from faceproof.icao.illumination import BINS, _hist
from faceproof.pipeline import decode
from faceproof.pipeline.decode import decode_base64
from faceproof.quality.order_stats import median, pixels

SIZES = [(640, 480), (480, 640), (1280, 720), (4032, 3024), (200, 150), (256, 256), (513, 511),
         (300, 1000), (64, 3000), (3, 700), (1, 1)]  # fmt: skip


def _prob(rng: np.random.Generator) -> np.ndarray:
    p = cv2.GaussianBlur(rng.random((256, 256)).astype(np.float32), (0, 0), 3)
    return ((p - p.min()) / (p.max() - p.min())).astype(np.float32)


@pytest.mark.parametrize("photo", SIZES)
def test_person_mask_resized_equals_upsample_then_area(photo: tuple[int, int]) -> None:
    rng = np.random.default_rng(photo[0] * 7 + photo[1])
    mask = PersonMask(_prob(rng), photo)
    k = min(1.0, 256 / max(photo))
    work = (max(1, round(photo[0] * k)), max(1, round(photo[1] * k)))
    full = np.clip(cv2.resize(mask.prob, photo, interpolation=cv2.INTER_LINEAR), 0, 1)
    assert np.array_equal(mask.full, full.astype(np.float32))
    assert mask.shape == mask.full.shape
    ref = cv2.resize(mask.full, work, interpolation=cv2.INTER_AREA)
    got = mask.resized(work)
    assert got.shape == ref.shape and got.dtype == np.float32
    assert float(np.abs(got - ref).max()) < 1e-5  # float rounding only
    for smaller in ((max(1, work[0] // 3), max(1, work[1] // 2)),):
        ref = cv2.resize(mask.full, smaller, interpolation=cv2.INTER_AREA)
        assert float(np.abs(mask.resized(smaller) - ref).max()) < 1e-5


def test_person_mask_larger_than_photo_falls_back_to_opencv() -> None:
    mask = PersonMask(_prob(np.random.default_rng(1)), (100, 80))
    ref = cv2.resize(mask.full, (120, 90), interpolation=cv2.INTER_AREA)
    assert np.array_equal(mask.resized((120, 90)), ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 1000, 30001, 30002])
def test_median_is_numpys(n: int, dtype: type) -> None:
    rng = np.random.default_rng(n)
    for x in (rng.normal(size=n), np.round(rng.normal(size=n) * 3), np.full(n, 0.1)):
        x = x.astype(dtype)
        want = np.median(x)
        got = median(x)
        assert got == want and np.asarray(got).dtype == np.asarray(want).dtype
    rows = rng.normal(size=(3, n)).astype(dtype)
    assert np.array_equal(median(rows), np.median(rows, axis=1))
    assert np.array_equal(median(rows.T, axis=0), np.median(rows.T, axis=0))
    # the columns of an (N, 3) table: a strided view along the axis (the skin reference's)
    assert np.array_equal(median(rows.T.copy().T, axis=-1), np.median(rows, axis=-1))
    assert np.array_equal(median(rows[:, ::-1], axis=1), np.median(rows[:, ::-1], axis=1))


def test_median_propagates_nan_like_numpy() -> None:
    x = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    with np.errstate(invalid="ignore"):
        want = np.median(x, axis=1)
    got = median(x)
    assert np.isnan(got[0]) and np.isnan(want[0]) and got[1] == want[1]


def test_pixels_is_boolean_indexing() -> None:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    for mask in (rng.random((37, 53)) < 0.4, np.zeros((37, 53), bool), np.ones((37, 53), bool)):
        assert np.array_equal(pixels(image, mask), image[mask])


def test_histogram_is_numpys() -> None:
    rng = np.random.default_rng(4)
    edges = np.arange(0, 257, 8, dtype=np.float32)
    for n in (0, 1, 50, 5000):
        v = np.concatenate(
            [rng.random(n).astype(np.float32) * 262 - 3, edges, np.nextafter(edges, 0)]
        )
        h, _ = np.histogram(v, bins=BINS, range=(0.0, 256.0))
        total = h.sum()
        assert np.array_equal(_hist(v), h / total if total else h.astype(np.float64))


def _lenient(text: str) -> bytes | None:
    """decode_base64 with its fast path disabled (the text made non-canonical)."""
    try:
        return decode_base64(" " + text, "/x")  # leading whitespace: never canonical
    except ApiError:
        return None


def test_base64_fast_path_agrees_with_the_lenient_path() -> None:
    alphabet = "AQ+/=-_"
    cases = ["".join(t) + pad for n in range(6) for t in itertools.product(alphabet, repeat=n)
             for pad in ("", "A", "QQ", "==", "Q==", "AAAA")]  # fmt: skip
    rng = np.random.default_rng(5)
    cases += [base64.b64encode(rng.bytes(int(k))).decode() for k in rng.integers(0, 300, 50)]
    for text in cases:
        try:
            fast: bytes | None = decode_base64(text, "/x")
        except ApiError:
            fast = None
        assert fast == _lenient(text), repr(text)
        try:
            strict = binascii.a2b_base64(text, strict_mode=True)
        except ValueError:
            continue
        if text and not text.endswith("==="):
            assert fast == strict


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_rgb_decode_in_one_copy_is_the_banded_copy(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An RGB image small enough is converted in one copy; the pixels are the banded path's."""
    from PIL import Image

    rng = np.random.default_rng(7)
    smooth = cv2.resize(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), (640, 480))
    buf = io.BytesIO()
    Image.fromarray(smooth).save(buf, format=fmt)
    whole = decode.decode_image(buf.getvalue(), field="/image").rgb
    monkeypatch.setattr(decode, "_BAND_PIXELS", 4096)  # 640 x 480 is now over the limit
    banded = decode.decode_image(buf.getvalue(), field="/image").rgb
    assert whole.dtype == np.uint8 and whole.flags.c_contiguous and whole.flags.writeable
    assert np.array_equal(whole, banded)
