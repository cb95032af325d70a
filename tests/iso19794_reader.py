"""An independent ISO/IEC 19794-5:2005 Face Image Data reader, for tests only.

Written from the standard's record layout (docs/templates.md, "ISO_19794_5"), deliberately
without importing faceproof: it reads bytes with explicit offsets so a shared mistake in the
encoder's struct formats cannot hide here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class RecordError(ValueError):
    """The bytes are not a well-formed 19794-5 record."""


@dataclass
class ParsedPoint:
    type: int
    major: int
    minor: int
    x: int
    y: int
    reserved: int


@dataclass
class ParsedImage:
    block_length: int
    gender: int
    eye_colour: int
    hair_colour: int
    property_mask: int
    expression: int
    pose_raw: tuple[int, int, int]
    pose_uncertainty_raw: tuple[int, int, int]
    points: list[ParsedPoint]
    face_image_type: int
    image_data_type: int
    width: int
    height: int
    colour_space: int
    source_type: int
    device_type: int
    quality: int
    image: bytes

    @property
    def pose_degrees(self) -> tuple[float | None, ...]:
        """Decoded angles: 0 = unspecified, else (value − 91) × 2 degrees."""
        return tuple(None if v == 0 else (v - 91) * 2.0 for v in self.pose_raw)


@dataclass
class ParsedRecord:
    format_id: bytes
    version: bytes
    record_length: int
    images: list[ParsedImage] = field(default_factory=list)


def _u(data: bytes, at: int, n: int) -> int:
    if at + n > len(data):
        raise RecordError(f"read past end at offset {at}")
    value = 0
    for b in data[at : at + n]:
        value = (value << 8) | b
    return value


def parse(data: bytes) -> ParsedRecord:
    """Parse every field; raise RecordError on any length inconsistency."""
    if len(data) < 14:
        raise RecordError("short header")
    rec = ParsedRecord(format_id=data[0:4], version=data[4:8], record_length=_u(data, 8, 4))
    if rec.format_id != b"FAC\x00" or rec.version != b"010\x00":
        raise RecordError("bad identifier/version")
    if rec.record_length != len(data):
        raise RecordError("record length mismatch")
    count = _u(data, 12, 2)
    pos = 14
    for _ in range(count):
        start = pos
        block_length = _u(data, pos, 4)
        n_points = _u(data, pos + 4, 2)
        img = ParsedImage(
            block_length=block_length,
            gender=_u(data, pos + 6, 1),
            eye_colour=_u(data, pos + 7, 1),
            hair_colour=_u(data, pos + 8, 1),
            property_mask=_u(data, pos + 9, 3),
            expression=_u(data, pos + 12, 2),
            pose_raw=(_u(data, pos + 14, 1), _u(data, pos + 15, 1), _u(data, pos + 16, 1)),
            pose_uncertainty_raw=(
                _u(data, pos + 17, 1),
                _u(data, pos + 18, 1),
                _u(data, pos + 19, 1),
            ),
            points=[],
            face_image_type=0,
            image_data_type=0,
            width=0,
            height=0,
            colour_space=0,
            source_type=0,
            device_type=0,
            quality=0,
            image=b"",
        )
        pos += 20
        for _ in range(n_points):
            code = _u(data, pos + 1, 1)
            img.points.append(
                ParsedPoint(
                    type=_u(data, pos, 1),
                    major=code >> 4,
                    minor=code & 0x0F,
                    x=_u(data, pos + 2, 2),
                    y=_u(data, pos + 4, 2),
                    reserved=_u(data, pos + 6, 2),
                )
            )
            pos += 8
        img.face_image_type = _u(data, pos, 1)
        img.image_data_type = _u(data, pos + 1, 1)
        img.width = _u(data, pos + 2, 2)
        img.height = _u(data, pos + 4, 2)
        img.colour_space = _u(data, pos + 6, 1)
        img.source_type = _u(data, pos + 7, 1)
        img.device_type = _u(data, pos + 8, 2)
        img.quality = _u(data, pos + 10, 2)
        pos += 12
        end = start + block_length
        if end > len(data) or end <= pos:
            raise RecordError("facial record length inconsistent")
        img.image = data[pos:end]
        rec.images.append(img)
        pos = end
    if pos != len(data):
        raise RecordError("trailing bytes")
    return rec
