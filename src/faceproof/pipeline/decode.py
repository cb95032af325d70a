"""Turn untrusted request bytes into an upright 8-bit RGB array, or a documented error.

Everything a client sends passes through here first, so the checks are ordered from cheap to
expensive: base64 alphabet, magic bytes, the declared dimensions (read from the header before
any pixel is decoded, so a decompression bomb costs nothing), then the full decode with
truncation treated as an error. Messages carry field names only, never caller data.

Memory is bounded twice: by pixels (``FACEPROOF_MAX_IMAGE_PIXELS``, from the header) and by
bytes of working memory (:class:`DecodeBudget`, ``FACEPROOF_DECODE_MEMORY_MB`` per process):
a decode needs about 7 bytes per pixel (Pillow's raster plus our RGB array; 13 for a
progressive JPEG, whose decoder holds every DCT coefficient) and waits for its share of the
budget before Pillow allocates anything.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import (  # the plugins we allow, registered explicitly (Image.open(formats=...))
    Image,
    ImageFile,
    Jpeg2KImagePlugin,  # noqa: F401
    JpegImagePlugin,  # noqa: F401
    PngImagePlugin,  # noqa: F401
    features,
)

from faceproof.errors import ApiError, Problem, problem
from faceproof.face.record import U8
from faceproof.pipeline import iso19794

ImageFormat = Literal["JPEG", "PNG", "ISO_19794_5"]

#: Library default of ``FACEPROOF_MAX_IMAGE_PIXELS`` (the API passes the setting).
DEFAULT_MAX_PIXELS = 40_000_000
#: Library default of ``FACEPROOF_DECODE_MEMORY_MB``: one decode at the default pixel
#: limit fits, a progressive JPEG (13 bytes per pixel) included; two do not.
DEFAULT_DECODE_MEMORY_BYTES = 640 * 1024 * 1024

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

    def __init__(
        self, reason: str, *, too_large: bool = False, size: tuple[int, int] | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large
        self.size = size  # (width, height) when the header declared them

    def api_error(self, field: str, max_pixels: int | None) -> ApiError:
        """The one answer for this failure (faceproof.errors.Problem), about ``field``."""
        if self.too_large:
            limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
            size = f"{self.size[0]}×{self.size[1]}" if self.size else "the image"
            return problem(Problem.TOO_MANY_PIXELS, field, size=size, limit=f"{limit:,}")
        return problem(Problem.UNDECODABLE, field, reason=self.reason)


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
    return problem(Problem.BAD_BASE64, field)


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
    max_pixels: int | None = None,
    allow_iso: bool = True,
) -> DecodedImage:
    """Decode JPEG, PNG or an ISO/IEC 19794-5 record into upright 8-bit RGB.

    Every failure is ``ERROR_INVALID_FORMAT`` (Problem.UNDECODABLE: "(/image) Could not
    decode image: <why>. …"), except an image over ``max_pixels`` (a decompression bomb, or
    just too big to process): that is a valid image we refuse, so it gets the reference's
    ``INVALID_IMAGE`` (900, Problem.TOO_MANY_PIXELS), on every endpoint. ``max_pixels``: the
    deployment's ``FACEPROOF_MAX_IMAGE_PIXELS`` (the library default when None). Working
    memory is bounded too: see :class:`DecodeBudget`.
    """
    try:
        return _decode(data, max_pixels, allow_iso)
    except _DecodeFailure as exc:
        raise exc.api_error(field, max_pixels) from None


def decode_template(
    template_b64: str, fmt: str, field_prefix: str, max_pixels: int | None = None
) -> DecodedImage:
    """Decode a match endpoint's ``{template, format}`` pair (reference: "Match endpoints").

    ``field_prefix`` is the JSON pointer of the object, e.g. ``/image`` or
    ``/imageToVerifyAgainst``. The declared format must be one we support, but the bytes are
    decoded by their magic: a PNG labelled JPEG is still a valid picture of a face and
    rejecting it would only punish a labelling slip (documented in docs/templates.md).
    """
    name = (fmt or "").strip().upper() if isinstance(fmt, str) else ""
    if name in _NIST_NAMES:
        raise problem(Problem.NIST_FORMAT, f"{field_prefix}/format")
    if name not in TEMPLATE_FORMATS:
        raise problem(Problem.UNSUPPORTED_FORMAT, f"{field_prefix}/template")
    field = f"{field_prefix}/template"
    return decode_image(decode_base64(template_b64, field), field, max_pixels, allow_iso=True)


def _decode(data: bytes, max_pixels: int | None, allow_iso: bool) -> DecodedImage:
    payload, fmt = _payload(data, allow_iso)
    return _decode_pillow(payload, fmt, DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels)


def _payload(data: bytes, allow_iso: bool) -> tuple[bytes, ImageFormat]:
    """The bytes Pillow decodes (the image inside an ISO/IEC 19794-5 record) and the format."""
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
    return payload, fmt


def _is_jpeg2000(data: bytes) -> bool:
    return bool(features.check("jpg_2000")) and (
        data.startswith(_J2K_CODESTREAM_MAGIC) or data.startswith(_JP2_MAGIC)
    )


def probe_image(
    data: bytes, max_pixels: int | None = None, allow_iso: bool = True, field: str = "/image"
) -> ImageInfo:
    """Format and upright size of ``data`` from its header alone: no pixel is decoded.

    Raises the same errors as :func:`decode_image` would for a header that does not parse or
    declares more than ``max_pixels``; a body that is truncated is only found by decoding.
    """
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    try:
        payload, fmt = _payload(data, allow_iso)
        with _open_header(payload, limit) as im:
            return _info(im, fmt, decoded=False)
    except _DecodeFailure as exc:
        raise exc.api_error(field, limit) from None


@dataclass(frozen=True)
class ImageInfo:
    """What the header says: container format, upright size, EXIF orientation."""

    format: ImageFormat
    width: int
    height: int
    orientation: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _open_header(payload: bytes, max_pixels: int) -> Image.Image:
    """Pillow's lazy open (header only), with the pixel limit checked before any decode."""
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
    width, height = im.size
    if width <= 0 or height <= 0:
        im.close()
        raise _DecodeFailure("empty image")
    if width * height > max_pixels:
        im.close()
        raise _DecodeFailure("image too large", too_large=True, size=(width, height))
    return im


def _info(im: Image.Image, fmt: ImageFormat, decoded: bool) -> ImageInfo:
    """The header's facts. A PNG may carry its EXIF after the pixels: before the decode only
    an eXIf chunk already seen counts (Pillow's ``getexif`` would decode the image to look)."""
    if fmt == "PNG" and not decoded and "exif" not in im.info:
        return ImageInfo(fmt, im.size[0], im.size[1], 1)
    try:
        orientation = int(im.getexif().get(0x0112, 1) or 1)
    except (OSError, ValueError, SyntaxError, TypeError):
        orientation = 1
    if orientation not in range(1, 9):
        orientation = 1
    width, height = im.size
    if orientation >= 5:  # 5..8 swap the axes
        width, height = height, width
    return ImageInfo(fmt, width, height, orientation)


def _decode_pillow(payload: bytes, fmt: ImageFormat, max_pixels: int) -> DecodedImage:
    with _open_header(payload, max_pixels) as im:
        need = working_bytes(im.mode, im.size[0] * im.size[1], _decoder_bytes_per_pixel(im))
        with DECODE_BUDGET.reserve(need):
            try:
                im.load()
                info = _info(im, fmt, decoded=True)
                channels_in, bits_in = _stored_layout(im)
                rgb = _to_rgb8(im)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
                raise _DecodeFailure("truncated or corrupt image data") from None
            finally:
                im.close()  # frees the decoded raster before the copy below
            rgb = _upright(rgb, info.orientation)
    h, w = rgb.shape[:2]
    return DecodedImage(
        rgb=rgb,
        width=w,
        height=h,
        channels_in=channels_in,
        bits_per_pixel=8,
        format=fmt,
        orientation_applied=info.orientation,
        bits_in=bits_in,
    )


def _upright(rgb: U8, orientation: int) -> U8:
    """EXIF orientation applied to the RGB array: one copy at most (never Pillow's 4 B/px)."""
    turned = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }.get(orientation)
    return rgb if turned is None else np.ascontiguousarray(turned(rgb))


# -- working memory --------------------------------------------------------------------------

_BAND_PIXELS = 1 << 18  # conversions run on bands of a quarter megapixel


def _raster_bytes_per_pixel(mode: str) -> int:
    """Bytes per pixel of Pillow's decoded raster for ``mode``."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def _decoder_bytes_per_pixel(im: Image.Image) -> int:
    """What the codec itself holds while decoding, per pixel, on top of Pillow's raster: a
    progressive JPEG keeps all DCT coefficients (2 bytes each, up to 3 per pixel at 4:4:4),
    OpenJPEG works on 32-bit components."""
    if im.format in ("JPEG", "MPO") and (im.info.get("progressive") or im.info.get("progression")):
        return 6
    if im.format == "JPEG2000":
        return 12
    return 0


def working_bytes(mode: str, pixels: int, decoder_per_pixel: int = 0) -> int:
    """Peak bytes a decode of ``pixels`` in ``mode`` needs: Pillow's raster, the codec's own
    buffers, our RGB array and one band of conversion temporaries (float64 worst case), or
    the RGB array and its upright copy, whichever is more."""
    band = min(pixels, _BAND_PIXELS) * 64
    per_pixel = _raster_bytes_per_pixel(mode) + decoder_per_pixel + 3
    return max(pixels * per_pixel + band, pixels * 6)


class DecodeBudget:
    """A process-wide budget of decode working memory (a semaphore weighted in bytes).

    Each decode reserves :func:`working_bytes` before Pillow allocates anything and gives it
    back when its raster is freed, so concurrent requests can never hold more than
    ``capacity`` bytes of decoders at once: a burst of decompression bombs queues instead of
    taking the worker to gigabytes. A decode larger than the whole budget is refused.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._used = 0
        self._cond = threading.Condition()

    def resize(self, capacity: int) -> None:
        with self._cond:
            self.capacity = capacity
            self._cond.notify_all()

    @property
    def in_use(self) -> int:
        return self._used

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        if nbytes > self.capacity:
            raise _DecodeFailure("image too large", too_large=True)
        with self._cond:
            while self._used + nbytes > self.capacity:
                self._cond.wait()
            self._used += nbytes
        try:
            yield
        finally:
            with self._cond:
                self._used -= nbytes
                self._cond.notify_all()


DECODE_BUDGET = DecodeBudget(DEFAULT_DECODE_MEMORY_BYTES)


def configure_decode_memory(nbytes: int) -> None:
    """Sets this process's decode budget (``FACEPROOF_DECODE_MEMORY_MB``; tests)."""
    DECODE_BUDGET.resize(max(1, int(nbytes)))


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
    """8-bit RGB; alpha composited on white (a cut-out portrait reads as a white background).

    Converted a band of rows (a quarter megapixel) at a time into one preallocated array, so
    the temporaries (Pillow's converted band, integer compositing, float grey levels) stay a
    few megabytes whatever the image size: no float or RGBA copy of the whole image.
    """
    width, height = im.size
    mode = im.mode
    if mode == "RGB" and width * height * 6 <= _BAND_PIXELS * 64:
        # The common case (a camera JPEG): one conversion of the whole image when its
        # temporaries (Pillow's encoded chunks and their join, 6 B/px) fit in the band
        # allowance that working_bytes reserves. The same bytes as the banded copy.
        return np.array(im, dtype=np.uint8)
    out: U8 = np.empty((height, width, 3), np.uint8)
    rows = max(1, _BAND_PIXELS // max(1, width))
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        extrema = im.getextrema()
        peak = float(extrema[1]) if isinstance(extrema, tuple) else 0.0  # type: ignore[arg-type]
        scale = mode != "F" and peak > 255  # 16-bit range onto 8-bit
        for y0 in range(0, height, rows):
            band = im.crop((0, y0, width, min(height, y0 + rows)))
            grey = np.asarray(band, dtype=np.float64)
            if scale:
                grey = grey / 257.0
            g8 = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
            out[y0 : y0 + g8.shape[0]] = g8[:, :, None]
        return out
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in im.info
    )
    for y0 in range(0, height, rows):
        band = im.crop((0, y0, width, min(height, y0 + rows)))
        if has_alpha:
            rgba = np.asarray(band.convert("RGBA"), dtype=np.uint32)
            alpha = rgba[:, :, 3:4]
            # round(c·a/255 + 255·(1 − a/255)), exactly, in integers (no tie can occur).
            mixed = (rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255
            out[y0 : y0 + rgba.shape[0]] = mixed
        else:
            if band.mode != "RGB":
                band = band.convert("RGB")
            out[y0 : y0 + band.size[1]] = np.asarray(band, dtype=np.uint8)
    return out
