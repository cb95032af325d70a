"""Turn untrusted request bytes into an upright 8-bit RGB array, or a documented error.

Everything a client sends passes through here first, so the checks are ordered from cheap to
expensive: base64 alphabet, magic bytes, the declared dimensions (read from the header before
any pixel is decoded, so a decompression bomb costs nothing), then the full decode with
truncation treated as an error. Messages carry field names only, never caller data.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import (  # the plugins we allow, registered explicitly (Image.open(formats=...))
    Image,
    ImageFile,
    ImageOps,
    Jpeg2KImagePlugin,  # noqa: F401
    JpegImagePlugin,  # noqa: F401
    PngImagePlugin,  # noqa: F401
    features,
)

from faceproof.errors import ApiError, Err
from faceproof.pipeline import iso19794
from faceproof.pipeline.record import U8

ImageFormat = Literal["JPEG", "PNG", "ISO_19794_5"]

# A truncated upload must be an error, not a half-grey picture: Pillow's global switch stays
# off in this process (it is off by default; we pin it because a stray import could flip it).
ImageFile.LOAD_TRUNCATED_IMAGES = False

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_J2K_CODESTREAM_MAGIC = b"\xff\x4f\xff\x51"
_JP2_MAGIC = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_DATA_URI = re.compile(r"^\s*data:[^,]{0,100};base64,", re.IGNORECASE)
_B64_CHARS = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_WHITESPACE = re.compile(r"\s+")
# Only these Pillow decoders ever see client bytes (the JPEG one also opens phones'
# multi-picture MPO files; JPEG 2000 only occurs inside ISO/IEC 19794-5 records).
_PILLOW_FORMATS = ("JPEG", "PNG", "JPEG2000")

# Template formats accepted by the match endpoints (reference: image.format).
TEMPLATE_FORMATS: tuple[ImageFormat, ...] = ("JPEG", "PNG", "ISO_19794_5")
_NIST_NAMES = {"NIST_10", "NIST10", "NIST-10", "NIST 10"}


@dataclass(frozen=True)
class DecodedImage:
    """A decoded image and what the response reports about it.

    ``rgb`` is always upright (EXIF orientation applied) 8-bit RGB; ``channels_in`` and
    ``bits_in`` describe the file as stored, ``bits_per_pixel`` the array we hand on (the
    reference's ``bits_per_pixel`` is per channel).
    """

    rgb: U8
    width: int
    height: int
    channels_in: int
    bits_per_pixel: int
    format: ImageFormat
    orientation_applied: int
    bits_in: int = 8


class _DecodeFailure(Exception):
    """Internal: why decoding failed, in a few words (rendered per endpoint by the caller)."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


def decode_base64(text: str, field: str) -> bytes:
    """Decode base64 as clients actually send it.

    Accepts the standard and URL-safe alphabets (the SDK's ``Base64.URL_SAFE``), missing
    padding (``NO_PADDING``), line breaks (``DEFAULT``/``CRLF``) and a ``data:`` URI prefix.
    """
    if not isinstance(text, str):
        raise _b64_error(field)
    if text and len(text) % 4 == 0 and not text.endswith("==="):
        # Fast path for canonical standard base64 (what most clients send): the strict C
        # decoder accepts a subset of what the lenient path below accepts, with the same
        # bytes, and saves its regex passes over a large image.
        try:
            return binascii.a2b_base64(text, strict_mode=True)
        except ValueError:  # binascii.Error, or a non-ASCII character
            pass  # not canonical: the lenient path decides
    body = _DATA_URI.sub("", text, count=1)
    body = _WHITESPACE.sub("", body)
    body = body.replace("-", "+").replace("_", "/")
    if not body or not _B64_CHARS.fullmatch(body):
        raise _b64_error(field)
    stripped = body.rstrip("=")
    if len(stripped) % 4 == 1:  # no byte count encodes to 4n+1 characters
        raise _b64_error(field)
    padded = stripped + "=" * (-len(stripped) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise _b64_error(field) from None


def _b64_error(field: str) -> ApiError:
    return ApiError(Err.INVALID_FORMAT, f"({field}) unable to decode template: invalid base64")


def sniff_format(data: bytes) -> ImageFormat | None:
    """The container format from the magic bytes, or None when it is none we accept."""
    if data.startswith(_JPEG_MAGIC):
        return "JPEG"
    if data.startswith(_PNG_MAGIC):
        return "PNG"
    if data.startswith(iso19794.FORMAT_IDENTIFIER):
        return "ISO_19794_5"
    return None


def decode_image(
    data: bytes,
    field: str = "/image",
    max_pixels: int = 40_000_000,
    allow_iso: bool = True,
) -> DecodedImage:
    """Decode JPEG, PNG or an ISO/IEC 19794-5 record into upright 8-bit RGB.

    Every failure is ``ERROR_INVALID_FORMAT`` with the reference's "(/image) Could not decode
    image." wording (the field name substituted), except an image over ``max_pixels`` (a
    decompression bomb, or just too big to process): that is a valid image we refuse, so it
    gets the reference's ``INVALID_IMAGE`` (900) with its own message.
    """
    try:
        return _decode(data, max_pixels, allow_iso)
    except _DecodeFailure as exc:
        if exc.too_large:
            raise ApiError(
                Err.INVALID_IMAGE_900, f"({field}) Image dimensions exceed the supported maximum."
            ) from None
        raise ApiError(Err.INVALID_FORMAT, f"({field}) Could not decode image.") from None


def decode_template(
    template_b64: str, fmt: str, field_prefix: str, max_pixels: int = 40_000_000
) -> DecodedImage:
    """Decode a match endpoint's ``{template, format}`` pair (reference: "Match endpoints").

    ``field_prefix`` is the JSON pointer of the object, e.g. ``/image`` or
    ``/imageToVerifyAgainst``. The declared format must be one we support, but the bytes are
    decoded by their magic: a PNG labelled JPEG is still a valid picture of a face and
    rejecting it would only punish a labelling slip (documented in docs/templates.md).
    """
    name = (fmt or "").strip().upper() if isinstance(fmt, str) else ""
    if name in _NIST_NAMES:
        raise ApiError(
            Err.INVALID_FORMAT,
            f"({field_prefix}/format) NIST 10 templates are not supported for matching",
        )
    if name not in TEMPLATE_FORMATS:
        raise ApiError(Err.INVALID_FORMAT, f"({field_prefix}/template) Unsupported template")
    field = f"{field_prefix}/template"
    data = decode_base64(template_b64, field)
    try:
        return _decode(data, max_pixels, allow_iso=True)
    except _DecodeFailure as exc:
        raise ApiError(
            Err.INVALID_FORMAT, f"({field}) unable to decode template: {exc.reason}"
        ) from None


def _decode(data: bytes, max_pixels: int, allow_iso: bool) -> DecodedImage:
    fmt = sniff_format(data)
    if fmt is None or (fmt == "ISO_19794_5" and not allow_iso):
        raise _DecodeFailure("not a JPEG, PNG or ISO/IEC 19794-5 image")
    payload = data
    if fmt == "ISO_19794_5":
        try:
            payload = iso19794.extract_image(data)
        except ValueError:
            raise _DecodeFailure("invalid ISO/IEC 19794-5 record") from None
        if not (payload.startswith(_JPEG_MAGIC) or _is_jpeg2000(payload)):
            raise _DecodeFailure("unsupported image data in ISO/IEC 19794-5 record")
    return _decode_pillow(payload, fmt, max_pixels)


def _is_jpeg2000(data: bytes) -> bool:
    return bool(features.check("jpg_2000")) and (
        data.startswith(_J2K_CODESTREAM_MAGIC) or data.startswith(_JP2_MAGIC)
    )


def _decode_pillow(payload: bytes, fmt: ImageFormat, max_pixels: int) -> DecodedImage:
    try:
        with warnings.catch_warnings():
            # Our own limit below replaces Pillow's bomb warning; its hard error (at twice its
            # own limit) is still caught and reported as ours.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(payload), formats=_PILLOW_FORMATS)
    except Image.DecompressionBombError:
        raise _DecodeFailure("image too large", too_large=True) from None
    except (OSError, ValueError, SyntaxError):
        raise _DecodeFailure("corrupt image header") from None
    with im:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise _DecodeFailure("empty image")
        if width * height > max_pixels:
            raise _DecodeFailure("image too large", too_large=True)
        try:
            im.load()
            orientation = int(im.getexif().get(0x0112, 1) or 1)
            # exif_transpose returns a full copy even when there is nothing to turn.
            upright = (ImageOps.exif_transpose(im) or im) if orientation in range(2, 9) else im
            channels_in, bits_in = _stored_layout(upright)
            rgb = _to_rgb8(upright)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            raise _DecodeFailure("truncated or corrupt image data") from None
    if orientation not in range(1, 9):
        orientation = 1
    h, w = rgb.shape[:2]
    return DecodedImage(
        rgb=rgb,
        width=w,
        height=h,
        channels_in=channels_in,
        bits_per_pixel=8,
        format=fmt,
        orientation_applied=orientation,
        bits_in=bits_in,
    )


def _stored_layout(im: Image.Image) -> tuple[int, int]:
    """(channels, bits per channel) of the image as stored in the file."""
    mode = im.mode
    if mode == "P":
        return (4 if "transparency" in im.info else 3), 8
    if mode == "PA":
        return 4, 8
    if mode == "1":
        return 1, 1
    if mode.startswith("I;16") or mode == "I":
        return 1, 16
    if mode == "F":
        return 1, 32
    return len(im.getbands()), 8


def _to_rgb8(im: Image.Image) -> U8:
    """8-bit RGB; alpha composited on white (a cut-out portrait reads as a white background)."""
    mode = im.mode
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        grey = np.asarray(im, dtype=np.float64)
        peak = float(grey.max()) if grey.size else 0.0
        if mode != "F" and peak > 255:
            grey = grey / 257.0  # 16-bit range onto 8-bit
        g8 = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(g8[:, :, None], 3, axis=2))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in im.info
    )
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[:, :, 3:4] / 255.0
        out = rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)
        return np.ascontiguousarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))
    if mode != "RGB":
        im = im.convert("RGB")  # (convert would copy an RGB image for nothing)
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
