"""iso19794.py against the independent reader in tests/iso19794_reader.py."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceproof.pipeline import iso19794
from faceproof.pipeline.iso19794 import (
    Expression,
    FeaturePoint,
    IsoFields,
    Properties,
    SourceType,
    encode_pose_angle,
    encode_record,
    extract_image,
    extract_jpeg,
    five_point_features,
)
from faceproof.pipeline.templates import encode_iso, encode_jpeg
from iso19794_reader import RecordError, parse

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PORTRAIT = DATA / "misc" / "other_faces" / "dlib__Tom_Cruise_avp_2014_4.jpg"


@pytest.fixture(scope="module")
def jpeg() -> tuple[bytes, int, int]:
    if not PORTRAIT.is_file():
        pytest.skip("../shared/data not present")
    raw = PORTRAIT.read_bytes()
    w, h = Image.open(io.BytesIO(raw)).size
    return raw, w, h


def test_full_round_trip_every_field(jpeg: tuple[bytes, int, int]) -> None:
    raw, w, h = jpeg
    points = [
        FeaturePoint(12, 2, 230, 310),
        FeaturePoint(12, 1, 330, 305),
        FeaturePoint(9, 3, 281, 380),
        FeaturePoint(8, 4, 245, 440),
        FeaturePoint(8, 3, 318, 438),
    ]
    props = Properties.GLASSES | Properties.BEARD | Properties.MOUTH_OPEN
    rec = encode_record(
        raw,
        w,
        h,
        gender=1,
        eye_colour=3,
        hair_colour=2,
        feature_points=points,
        pose=(10.0, -6.0, 3.9),
        expression=Expression.NEUTRAL,
        properties=props,
        image_type="FULL_FRONTAL",
        source_type=SourceType.VIDEO_FRAME_DIGITAL,
        device_type=0x1234,
        quality=77,
    )
    p = parse(rec)
    assert (p.format_id, p.version, p.record_length) == (b"FAC\x00", b"010\x00", len(rec))
    assert len(p.images) == 1
    img = p.images[0]
    assert img.block_length == 20 + 8 * 5 + 12 + len(raw)
    assert (img.gender, img.eye_colour, img.hair_colour) == (1, 3, 2)
    assert img.property_mask == int(props) | 0x000001  # "features specified" bit set
    assert img.expression == 1
    assert img.pose_degrees == (10.0, -6.0, 4.0)  # 2° steps
    assert img.pose_uncertainty_raw == (0, 0, 0)
    assert [(q.type, q.major, q.minor, q.x, q.y, q.reserved) for q in img.points] == [
        (1, q.major, q.minor, q.x, q.y, 0) for q in points
    ]
    assert (img.face_image_type, img.image_data_type) == (1, 0)
    assert (img.width, img.height, img.colour_space) == (w, h, 1)
    assert (img.source_type, img.device_type, img.quality) == (6, 0x1234, 77)
    assert img.image == raw
    assert Image.open(io.BytesIO(img.image)).size == (w, h)
    assert extract_jpeg(rec) == raw


def test_defaults_mean_unspecified(jpeg: tuple[bytes, int, int]) -> None:
    raw, w, h = jpeg
    img = parse(encode_record(raw, w, h)).images[0]
    assert (img.gender, img.eye_colour, img.hair_colour, img.property_mask) == (0, 0, 0, 0)
    assert img.pose_raw == (0, 0, 0) and img.points == [] and img.face_image_type == 0
    # An explicit "no properties" is a claim, so the specified bit is set alone.
    img = parse(encode_record(raw, w, h, properties=Properties.NONE)).images[0]
    assert img.property_mask == 0x000001


@pytest.mark.parametrize(
    ("degrees", "code"),
    [
        (None, 0),
        (0.0, 91),
        (-180.0, 1),
        (179.0, 181),
        (180.0, 1),
        (540.0, 1),
        (-2.0, 90),
        (90.0, 136),
    ],
)
def test_pose_angle_codes(degrees: float | None, code: int) -> None:
    assert encode_pose_angle(degrees) == code


def test_token_record_from_templates_encoder() -> None:
    rgb = np.full((320, 240, 3), 200, np.uint8)
    fields = IsoFields(
        image_type="TOKEN_FRONTAL",
        feature_points=five_point_features(
            [[89, 144], [149, 144], [119, 180], [95, 220], [300, 220]], 240, 320
        ),
        pose=(0.0, 0.0, 0.0),
    )
    p = parse(encode_iso(rgb, fields))
    img = p.images[0]
    assert img.face_image_type == 2 and (img.width, img.height) == (240, 320)
    # The out-of-frame mouth corner is dropped, not clamped; eyes use subject-side codes.
    assert [(q.major, q.minor, q.x, q.y) for q in img.points] == [
        (12, 2, 89, 144),
        (12, 1, 149, 144),
        (9, 3, 119, 180),
        (8, 4, 95, 220),
    ]
    assert img.pose_raw == (91, 91, 91)
    assert np.asarray(Image.open(io.BytesIO(img.image))).shape == (320, 240, 3)


def _corrupt(rec: bytes, at: int, fmt: str, value: int) -> bytes:
    out = bytearray(rec)
    struct.pack_into(fmt, out, at, value)
    return bytes(out)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: _corrupt(r, 8, ">I", len(r) + 1),  # record length too long
        lambda r: _corrupt(r, 8, ">I", len(r) - 1),  # record length too short
        lambda r: _corrupt(r, 12, ">H", 0),  # no images
        lambda r: _corrupt(r, 12, ">H", 2),  # claims a second image that is not there
        lambda r: _corrupt(r, 14, ">I", 10),  # facial record shorter than its fixed parts
        lambda r: _corrupt(r, 14, ">I", len(r)),  # facial record overruns the data
        lambda r: _corrupt(r, 18, ">H", 60000),  # feature point count overruns
        lambda r: r[:-1],  # truncated image data
        lambda r: r + b"\x00",  # trailing byte
        lambda r: b"FAC\x00020\x00" + r[8:],  # other version
        lambda r: b"FIR\x00" + r[4:],  # other identifier
        lambda r: r[:10],  # shorter than the header
    ],
)
def test_corrupt_lengths_are_rejected(jpeg: tuple[bytes, int, int], mutate) -> None:  # type: ignore[no-untyped-def]
    raw, w, h = jpeg
    rec = encode_record(raw, w, h, feature_points=[FeaturePoint(9, 3, 10, 10)])
    bad = mutate(rec)
    with pytest.raises(ValueError):
        extract_jpeg(bad)
    with pytest.raises(RecordError):
        parse(bad)  # the independent reader agrees the record is malformed


def test_jpeg2000_payload_is_extracted_but_not_as_jpeg(jpeg: tuple[bytes, int, int]) -> None:
    raw, w, h = jpeg
    rec = bytearray(encode_record(raw, w, h))
    rec[14 + 20 + 1] = iso19794.IMAGE_DATA_JPEG2000  # image data type byte
    rec[14 + 20 + 12 :] = b"\xff\x4f\xff\x51" + bytes(rec[14 + 20 + 12 + 4 :])
    assert extract_image(bytes(rec))[:4] == b"\xff\x4f\xff\x51"
    with pytest.raises(ValueError):
        extract_jpeg(bytes(rec))


def test_encoder_refuses_invalid_input() -> None:
    jpg = encode_jpeg(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError):
        encode_record(b"\x89PNG\r\n\x1a\n", 8, 8)
    with pytest.raises(ValueError):
        encode_record(jpg, 70000, 8)
    with pytest.raises(ValueError):
        encode_record(jpg, 8, 8, feature_points=[FeaturePoint(12, 1, 8, 0)])  # x == width
    with pytest.raises(ValueError):
        encode_record(jpg, 8, 8, feature_points=[FeaturePoint(16, 1, 1, 1)])
    with pytest.raises(ValueError):
        encode_record(jpg, 8, 8, image_type="PASSPORT")  # type: ignore[arg-type]
