"""ISO/IEC 19794-5:2005 Face Image Data records (the ``ISO_19794_5`` template).

This is the record that e-passports carry in DG2 (inside a CBEFF wrapper we do not add), so a
reader that understands passports can read our templates. Layout and code values are in
docs/templates.md with our reading of the standard; all integers are big-endian.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import Literal

FORMAT_IDENTIFIER = b"FAC\x00"
VERSION = b"010\x00"
GENERAL_HEADER_LEN = 14  # identifier 4, version 4, record length 4, number of images 2
FACIAL_INFO_LEN = 20
FEATURE_POINT_LEN = 8
IMAGE_INFO_LEN = 12

FaceImageType = Literal["BASIC", "FULL_FRONTAL", "TOKEN_FRONTAL"]
FACE_IMAGE_TYPES: dict[str, int] = {"BASIC": 0, "FULL_FRONTAL": 1, "TOKEN_FRONTAL": 2}
IMAGE_DATA_JPEG = 0
IMAGE_DATA_JPEG2000 = 1


class ColourSpace(IntEnum):
    UNSPECIFIED = 0
    RGB24 = 1
    YUV422 = 2
    GREY8 = 3
    OTHER = 4


class SourceType(IntEnum):
    UNSPECIFIED = 0
    STATIC_PHOTO_UNKNOWN = 1
    STATIC_PHOTO_DIGITAL_CAMERA = 2
    STATIC_PHOTO_SCANNER = 3
    VIDEO_FRAME_UNKNOWN = 4
    VIDEO_FRAME_ANALOGUE = 5
    VIDEO_FRAME_DIGITAL = 6
    UNKNOWN = 7


class Expression(IntEnum):
    UNSPECIFIED = 0
    NEUTRAL = 1
    SMILE_CLOSED_JAW = 2
    SMILE_OPEN_JAW = 3
    RAISED_EYEBROWS = 4
    EYES_LOOKING_AWAY = 5
    SQUINTING = 6
    FROWNING = 7


class Properties(IntFlag):
    """Property mask bits (3 bytes). SPECIFIED says the other bits carry information."""

    NONE = 0
    SPECIFIED = 0x000001
    GLASSES = 0x000002
    MOUSTACHE = 0x000004
    BEARD = 0x000008
    TEETH_VISIBLE = 0x000010
    BLINK = 0x000020
    MOUTH_OPEN = 0x000040
    LEFT_EYE_PATCH = 0x000080
    RIGHT_EYE_PATCH = 0x000100
    DARK_GLASSES = 0x000200
    DISTORTING_MEDICAL_CONDITION = 0x000400


# MPEG-4 feature point codes (major, minor) used by 19794-5. "Left"/"right" are the
# subject's, so the subject's left eye is on the image's right.
EYE_CENTRE_LEFT = (12, 1)
EYE_CENTRE_RIGHT = (12, 2)
NOSE_TIP = (9, 3)
MOUTH_CORNER_LEFT = (8, 3)
MOUTH_CORNER_RIGHT = (8, 4)
FEATURE_TYPE_MPEG4 = 1


@dataclass(frozen=True)
class FeaturePoint:
    """One feature point, pixel coordinates in the stored image."""

    major: int
    minor: int
    x: int
    y: int
    type: int = FEATURE_TYPE_MPEG4


@dataclass(frozen=True)
class IsoFields:
    """Everything of a record except the image itself, for callers that pass it along."""

    gender: int = 0
    eye_colour: int = 0
    hair_colour: int = 0
    feature_points: Sequence[FeaturePoint] = field(default_factory=tuple)
    pose: tuple[float, float, float] | None = None
    expression: int = Expression.UNSPECIFIED
    properties: Properties | None = None
    image_type: FaceImageType = "BASIC"
    colour_space: int = ColourSpace.RGB24
    source_type: int = SourceType.UNSPECIFIED
    device_type: int = 0
    quality: int = 0


def five_point_features(
    points: Sequence[Sequence[float]], width: int, height: int
) -> list[FeaturePoint]:
    """Feature points from the pipeline's five points (record.py order), in image pixels.

    Points are rounded; any that fall outside the image are left out rather than clamped, so
    a stored point is never a made-up position.
    """
    codes = (EYE_CENTRE_RIGHT, EYE_CENTRE_LEFT, NOSE_TIP, MOUTH_CORNER_RIGHT, MOUTH_CORNER_LEFT)
    out: list[FeaturePoint] = []
    for (major, minor), (x, y) in zip(codes, points, strict=True):
        xi, yi = round(float(x)), round(float(y))
        if 0 <= xi < width and 0 <= yi < height:
            out.append(FeaturePoint(major, minor, xi, yi))
    return out


def encode_pose_angle(degrees: float | None) -> int:
    """One pose angle byte: 0 = unspecified, else 1..181 in 2° steps with 91 = 0°.

    Our reading of clause 5.5.7 (-180° → 1, 0° → 91, +180° → 181); see docs/templates.md.
    """
    if degrees is None:
        return 0
    wrapped = ((float(degrees) + 180.0) % 360.0) - 180.0  # into [-180, 180)
    return max(1, min(181, round(wrapped / 2.0) + 91))


def encode_record(
    jpeg: bytes,
    width: int,
    height: int,
    *,
    gender: int = 0,
    eye_colour: int = 0,
    hair_colour: int = 0,
    feature_points: Sequence[FeaturePoint] = (),
    pose: tuple[float, float, float] | None = None,
    expression: int = Expression.UNSPECIFIED,
    properties: Properties | None = None,
    image_type: FaceImageType = "BASIC",
    colour_space: int = ColourSpace.RGB24,
    source_type: int = SourceType.UNSPECIFIED,
    device_type: int = 0,
    quality: int = 0,
) -> bytes:
    """A one-image 19794-5:2005 record around ``jpeg``.

    ``properties=None`` writes an all-zero mask (nothing claimed); any value, even
    ``Properties.NONE``, sets SPECIFIED, i.e. asserts the absent bits are absent. Pose angle
    uncertainty is always written as unspecified (we have no calibrated uncertainty).
    """
    if not jpeg.startswith(b"\xff\xd8"):
        raise ValueError("image data must be a JPEG")
    if image_type not in FACE_IMAGE_TYPES:
        raise ValueError(f"unknown face image type {image_type!r}")
    _check_u(width, 16, "width")
    _check_u(height, 16, "height")
    for name, value, bits in (
        ("gender", gender, 8),
        ("eye_colour", eye_colour, 8),
        ("hair_colour", hair_colour, 8),
        ("expression", int(expression), 16),
        ("colour_space", int(colour_space), 8),
        ("source_type", int(source_type), 8),
        ("device_type", device_type, 16),
        ("quality", quality, 16),
    ):
        _check_u(value, bits, name)
    mask = 0 if properties is None else int(properties | Properties.SPECIFIED)
    _check_u(mask, 24, "properties")
    if len(feature_points) > 0xFFFF:
        raise ValueError("too many feature points")
    yaw, pitch, roll = pose if pose is not None else (None, None, None)

    points = b"".join(_encode_point(p, width, height) for p in feature_points)
    info = struct.pack(
        ">HBBB3sH3B3B",
        len(feature_points),
        gender,
        eye_colour,
        hair_colour,
        mask.to_bytes(3, "big"),
        int(expression),
        encode_pose_angle(yaw),
        encode_pose_angle(pitch),
        encode_pose_angle(roll),
        0,
        0,
        0,
    )
    image_info = struct.pack(
        ">BBHHBBHH",
        FACE_IMAGE_TYPES[image_type],
        IMAGE_DATA_JPEG,
        width,
        height,
        int(colour_space),
        int(source_type),
        device_type,
        quality,
    )
    facial_len = FACIAL_INFO_LEN + len(points) + IMAGE_INFO_LEN + len(jpeg)
    record_len = GENERAL_HEADER_LEN + facial_len
    if record_len > 0xFFFFFFFF:
        raise ValueError("record too large")
    header = FORMAT_IDENTIFIER + VERSION + struct.pack(">IH", record_len, 1)
    return b"".join((header, struct.pack(">I", facial_len), info, points, image_info, jpeg))


def _encode_point(p: FeaturePoint, width: int, height: int) -> bytes:
    if not (0 <= p.major <= 15 and 0 <= p.minor <= 15):
        raise ValueError("feature point codes are 4-bit major.minor")
    _check_u(p.type, 8, "feature point type")
    if not (0 <= p.x < width and 0 <= p.y < height):
        raise ValueError("feature point outside the image")
    return struct.pack(">BBHHH", p.type, (p.major << 4) | p.minor, p.x, p.y, 0)


def _check_u(value: int, bits: int, name: str) -> None:
    if not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise ValueError(f"{name} must be an unsigned {bits}-bit integer")


def extract_image(record: bytes) -> bytes:
    """The first facial image's data (JPEG or JPEG 2000) after validating every length.

    Raises ValueError on anything inconsistent: wrong identifier or version, a record length
    that disagrees with the data, a facial record that overruns it, or zero images.
    """
    data = bytes(record)
    if len(data) < GENERAL_HEADER_LEN:
        raise ValueError("record shorter than its header")
    if data[:4] != FORMAT_IDENTIFIER:
        raise ValueError("not a 19794-5 face record")
    if data[4:8] != VERSION:
        raise ValueError("unsupported 19794-5 version")
    record_len, n_images = struct.unpack_from(">IH", data, 8)
    if record_len != len(data):
        raise ValueError("record length does not match the data")
    if n_images < 1:
        raise ValueError("record holds no facial image")
    offset = GENERAL_HEADER_LEN
    first: bytes | None = None
    for _ in range(n_images):
        image, offset = _facial_record(data, offset)
        first = image if first is None else first
    if offset != len(data):
        raise ValueError("trailing bytes after the last facial record")
    assert first is not None
    return first


def _facial_record(data: bytes, offset: int) -> tuple[bytes, int]:
    if offset + FACIAL_INFO_LEN > len(data):
        raise ValueError("facial information block truncated")
    (facial_len,) = struct.unpack_from(">I", data, offset)
    (n_points,) = struct.unpack_from(">H", data, offset + 4)
    end = offset + facial_len
    fixed = FACIAL_INFO_LEN + FEATURE_POINT_LEN * n_points + IMAGE_INFO_LEN
    if facial_len <= fixed or end > len(data):
        raise ValueError("facial record length inconsistent")
    image_info = offset + FACIAL_INFO_LEN + FEATURE_POINT_LEN * n_points
    image_type, data_type = data[image_info], data[image_info + 1]
    if image_type not in FACE_IMAGE_TYPES.values():
        raise ValueError("unknown face image type")
    if data_type not in (IMAGE_DATA_JPEG, IMAGE_DATA_JPEG2000):
        raise ValueError("unknown image data type")
    return data[offset + fixed : end], end


def extract_jpeg(record: bytes) -> bytes:
    """The first image of a record, which must be JPEG (see :func:`extract_image`)."""
    image = extract_image(record)
    if not image.startswith(b"\xff\xd8\xff"):
        raise ValueError("image data is not a JPEG")
    return image
