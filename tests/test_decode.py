"""decode.py: base64 variants, formats, EXIF orientation, and every way an upload can be bad."""

from __future__ import annotations

import base64
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceproof.errors import ApiError, Problem, problem
from faceproof.pipeline import iso19794
from faceproof.pipeline.decode import decode_base64, decode_image, decode_template

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
EDGE = DATA / "misc" / "quality" / "edge_cases"
OTHER = DATA / "misc" / "other_faces"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data not present")


def _read(path: Path) -> bytes:
    if not path.is_file():
        pytest.skip(f"{path.name} not present")
    return path.read_bytes()


def _jpeg_of(rgb: np.ndarray, exif: Image.Exif | None = None) -> bytes:
    buf = io.BytesIO()
    kwargs = {"exif": exif.tobytes()} if exif is not None else {}
    Image.fromarray(rgb).save(buf, "JPEG", quality=95, **kwargs)
    return buf.getvalue()


def _errors(fn, *args) -> ApiError:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as info:
        fn(*args)
    return info.value


# ---------------------------------------------------------------- base64


PAYLOAD = bytes(range(256)) * 3 + b"\xfb\xff\xfe"  # contains bytes that need + / - _


@pytest.mark.parametrize(
    "encode",
    [
        lambda b: base64.b64encode(b).decode(),
        lambda b: base64.b64encode(b).decode().rstrip("="),
        lambda b: base64.urlsafe_b64encode(b).decode(),
        lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="),
        lambda b: base64.encodebytes(b).decode(),  # MIME: newline every 76 chars
        lambda b: base64.encodebytes(b).decode().replace("\n", "\r\n"),  # CRLF
        lambda b: "  " + base64.b64encode(b).decode() + "\n\t ",
        lambda b: "data:image/jpeg;base64," + base64.b64encode(b).decode(),
        lambda b: "DATA:image/png;base64," + base64.urlsafe_b64encode(b).decode().rstrip("="),
    ],
)
@pytest.mark.parametrize("length", [0, 1, 2, 3, 4, 5])
def test_base64_variants_round_trip(encode, length: int) -> None:  # type: ignore[no-untyped-def]
    payload = PAYLOAD[: len(PAYLOAD) - length]
    assert decode_base64(encode(payload), "/image") == payload


@pytest.mark.parametrize(
    "text",
    ["", "   ", "not base64!", "abc$def=", "A", "AAAAA", "=AAA", "AA=A", "AAAA===", "ÄÖÜ="],
)
def test_base64_garbage_is_invalid_format(text: str) -> None:
    err = _errors(decode_base64, text, "/image/template")
    assert err.kind.code == 504
    assert err.description == problem(Problem.BAD_BASE64, "/image/template").description


# ---------------------------------------------------------------- formats


@needs_data
def test_jpeg_decodes_to_rgb() -> None:
    raw = _read(OTHER / "dlib__Tom_Cruise_avp_2014_4.jpg")
    img = decode_image(raw)
    ref = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
    assert img.format == "JPEG" and img.rgb.dtype == np.uint8
    assert img.rgb.shape == (img.height, img.width, 3) == ref.shape
    assert np.array_equal(img.rgb, ref)
    assert (img.channels_in, img.bits_per_pixel, img.orientation_applied) == (3, 8, 1)


@needs_data
def test_greyscale_png_becomes_three_equal_channels() -> None:
    img = decode_image(_read(OTHER / "skimage__camera_grayscale.png"))
    assert img.format == "PNG" and img.channels_in == 1
    assert img.rgb.shape == (512, 512, 3)
    assert np.array_equal(img.rgb[:, :, 0], img.rgb[:, :, 1])
    assert np.array_equal(img.rgb[:, :, 0], img.rgb[:, :, 2])
    assert img.rgb.std() > 10  # a real picture, not a flat fill


@needs_data
def test_rgba_png_is_composited_on_white() -> None:
    raw = _read(EDGE / "face_recognition__32bit_rgba.png")
    img = decode_image(raw)
    rgba = np.asarray(Image.open(io.BytesIO(raw)).convert("RGBA")).astype(np.float64)
    a = rgba[:, :, 3:4] / 255.0
    expected = np.rint(rgba[:, :, :3] * a + 255.0 * (1 - a))
    assert img.channels_in == 4 and img.rgb.shape == (*rgba.shape[:2], 3)
    assert np.abs(img.rgb.astype(np.float64) - expected).max() <= 1


def test_transparent_pixels_become_white_and_opaque_keep_colour() -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2] = (10, 200, 30, 255)
    rgba[2:] = (10, 200, 30, 0)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    img = decode_image(buf.getvalue())
    assert (img.rgb[:2] == (10, 200, 30)).all() and (img.rgb[2:] == 255).all()


def test_palette_and_sixteen_bit_png() -> None:
    pal = Image.new("P", (8, 8))
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.putpixel((0, 0), 1)
    buf = io.BytesIO()
    pal.save(buf, "PNG")
    img = decode_image(buf.getvalue())
    assert tuple(img.rgb[0, 0]) == (0, 0, 255) and tuple(img.rgb[1, 1]) == (255, 0, 0)

    grey16 = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(grey16).save(buf, "PNG")
    img = decode_image(buf.getvalue())
    assert img.bits_in == 16 and img.bits_per_pixel == 8
    assert np.abs(img.rgb[:, :, 0].astype(int) - np.rint(grey16 / 257).astype(int)).max() <= 1


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    buf = io.BytesIO()
    cmyk.save(buf, "JPEG", quality=95)
    img = decode_image(buf.getvalue())
    assert img.channels_in == 4
    r, g, b = img.rgb[8, 8].astype(int)
    assert r > 200 and g < 60 and b < 60


@needs_data
@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_is_applied(orientation: int) -> None:
    raw = _read(OTHER / "dlib__Tom_Cruise_avp_2014_4.jpg")
    upright = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))[:200, :150]
    # Store the picture the way a camera in that orientation would, plus the tag saying so.
    stored = {
        2: np.fliplr(upright),
        3: np.rot90(upright, 2),
        4: np.flipud(upright),
        5: np.transpose(upright, (1, 0, 2)),
        6: np.rot90(upright, 1),
        7: np.rot90(np.transpose(upright, (1, 0, 2)), 2),
        8: np.rot90(upright, -1),
    }[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    img = decode_image(_jpeg_of(np.ascontiguousarray(stored), exif))
    assert img.orientation_applied == orientation
    assert img.rgb.shape == upright.shape
    # JPEG is lossy: compare against the upright original with a tolerance.
    assert np.abs(img.rgb.astype(int) - upright.astype(int)).mean() < 4


# ---------------------------------------------------------------- bad inputs


@needs_data
@pytest.mark.parametrize("keep", [0.98, 0.5, 0.05])
def test_truncated_jpeg_is_rejected(keep: float) -> None:
    raw = _read(OTHER / "dlib__Tom_Cruise_avp_2014_4.jpg")
    err = _errors(decode_image, raw[: int(len(raw) * keep)], "/image")
    assert err.kind.code == 504
    assert err.description.startswith("(/image) Could not decode image: ")


@needs_data
def test_truncated_png_is_rejected() -> None:
    raw = _read(OTHER / "skimage__astronaut.png")
    err = _errors(decode_image, raw[: len(raw) // 2], "/picID")
    assert err.description.startswith("(/picID) Could not decode image: ")


@pytest.mark.parametrize(
    "data",
    [
        os.urandom(4096),
        b"hello, this is plain text and not an image at all",
        b"",
        b"\xff\xd8\xff",  # JPEG magic and nothing else
        b"\x89PNG\r\n\x1a\n" + os.urandom(64),  # PNG magic, garbage after
        b"GIF89a" + os.urandom(64),  # a real format we do not accept
        b"BM" + os.urandom(64),
    ],
)
def test_non_images_are_invalid_format(data: bytes) -> None:
    err = _errors(decode_image, data, "/image")
    assert err.kind.code == 504 and err.kind.name == "ERROR_INVALID_FORMAT"
    assert err.description.startswith("(/image) Could not decode image: ")


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` (the IDAT is a few bytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "dims", [(50_000, 50_000), (10_000, 10_000), (8_000, 6_000), (1_000_000, 41)]
)
def test_decompression_bomb_is_refused_before_decoding(dims: tuple[int, int]) -> None:
    bomb = _png_declaring(*dims)
    assert len(bomb) < 200
    with _no_warnings():
        err = _errors(decode_image, bomb, "/image", 40_000_000)
    assert (err.kind.code, err.kind.name) == (900, "INVALID_IMAGE")
    # Pillow refuses the largest itself, before we read the size: "the image" then.
    size = f"{dims[0]}×{dims[1]}" if dims[0] * dims[1] < 2 * Image.MAX_IMAGE_PIXELS else None
    expected = problem(
        Problem.TOO_MANY_PIXELS, "/image", size=size or "the image", limit="40,000,000"
    )
    assert err.description == expected.description


def test_pixel_limit_is_the_callers() -> None:
    small = _jpeg_of(np.zeros((100, 100, 3), np.uint8))
    assert decode_image(small, "/image", 10_000).width == 100
    err = _errors(decode_image, small, "/image", 9_999)
    assert "exceed" in err.description


class _no_warnings:
    """Context manager failing the test if any warning (Pillow's bomb warning) escapes."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings(record=True)
        self._log = self._ctx.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(None, None, None)
        assert not self._log, [str(w.message) for w in self._log]


# ---------------------------------------------------------------- ISO records and templates


@needs_data
def test_iso_record_decodes_to_its_jpeg() -> None:
    raw = _read(OTHER / "dlib__Tom_Cruise_avp_2014_4.jpg")
    ref = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
    h, w = ref.shape[:2]
    record = iso19794.encode_record(raw, w, h)
    img = decode_image(record)
    assert img.format == "ISO_19794_5" and np.array_equal(img.rgb, ref)
    err = _errors(decode_image, record, "/image", 40_000_000, False)
    assert err.description.startswith("(/image) Could not decode image: ")
    err = _errors(decode_image, record[:-10], "/image")  # record length now wrong
    assert err.description.startswith("(/image) Could not decode image: ")


@needs_data
def test_decode_template_formats_and_messages() -> None:
    raw = _read(OTHER / "skimage__astronaut.png")
    b64 = base64.b64encode(raw).decode()
    assert decode_template(b64, "PNG", "/image").format == "PNG"
    # Declared JPEG but the bytes are a PNG: decoded by the magic, on purpose.
    assert decode_template(b64, "JPEG", "/imageToVerifyAgainst").format == "PNG"
    for nist in ("NIST_10", "NIST10"):
        err = _errors(decode_template, b64, nist, "/imageToVerifyAgainst")
        assert err.kind.code == 504
        assert err.description.startswith(
            "(/imageToVerifyAgainst/format) NIST 10 templates are not supported for matching"
        )
    err = _errors(decode_template, b64, "GIF", "/image")
    assert err.description.startswith("(/image/template) Unsupported template")
    err = _errors(decode_template, "###", "JPEG", "/image")
    assert err.description == problem(Problem.BAD_BASE64, "/image/template").description
    junk = base64.b64encode(b"definitely not an image").decode()
    err = _errors(decode_template, junk, "JPEG", "/image")
    assert err.description.startswith("(/image/template) Could not decode image: ")
    trunc = base64.b64encode(raw[: len(raw) // 3]).decode()
    err = _errors(decode_template, trunc, "PNG", "/image")
    assert err.description.startswith("(/image/template) Could not decode image: ")


# ---------------------------------------------------------------- templates.py round trip


@needs_data
def test_encoded_templates_decode_back() -> None:
    from faceproof.pipeline.templates import encode_templates

    rgb = decode_image(_read(OTHER / "dlib__Tom_Cruise_avp_2014_4.jpg")).rgb
    out = encode_templates(rgb, ["PNG", "JPEG", "ISO_19794_5", "PNG"])
    assert list(out) == ["PNG", "JPEG", "ISO_19794_5"]
    png = decode_template(out["PNG"], "PNG", "/image")
    assert np.array_equal(png.rgb, rgb)  # lossless
    for name in ("JPEG", "ISO_19794_5"):
        img = decode_template(out[name], name, "/image")
        assert img.format == name and img.rgb.shape == rgb.shape
        assert np.abs(img.rgb.astype(int) - rgb.astype(int)).mean() < 3
    assert base64.b64decode(out["JPEG"], validate=True)[:3] == b"\xff\xd8\xff"
    with pytest.raises(ValueError, match="NIST_10"):
        encode_templates(rgb, ["JPEG", "NIST_10"])
