"""Capture frames the server will accept: 640×480 or 480×640, upright (EXIF applied).

The server refuses any other frame size with 901 ERROR_WRONG_RESOLUTION
(:mod:`faceproof.api.capture`), so a client sealing image files checks them first and says
so, or letterboxes them on request (``fit``) the way a camera frame would hold the photo.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

from faceproof.crypto.envelope import to_jpeg
from faceproof.errors import ApiError
from faceproof.pipeline.decode import probe_image

#: (width, height) of a frame the server accepts (the reference's 480×640, either way up).
CAPTURE_SIZES = ((640, 480), (480, 640))


class FrameSizeError(ValueError):
    """An image that the server would refuse as a capture frame (901)."""


def upright_size(jpeg: bytes) -> tuple[int, int]:
    """Width and height as the server sees them: after the EXIF orientation."""
    try:
        info = probe_image(jpeg, allow_iso=False)
    except ApiError as exc:
        raise ValueError(f"not a usable image: {exc.description}") from None
    return info.width, info.height


def capture_frame(image: bytes | Path, *, fit: bool = False, name: str = "image") -> bytes:
    """JPEG bytes of a capture frame; with ``fit``, letterboxed to 640×480 or 480×640.

    Without ``fit`` an image of another size raises :class:`FrameSizeError` naming it.
    Letterboxing keeps the whole photo (no crop): scaled to fit, centred on black.
    """
    jpeg = to_jpeg(image)
    size = upright_size(jpeg)
    if size in CAPTURE_SIZES:
        return jpeg
    if not fit:
        raise FrameSizeError(
            f"{name} is {size[0]}×{size[1]}; the server accepts capture frames of 640×480 or "
            "480×640 only (901 ERROR_WRONG_RESOLUTION); letterbox it with --fit (Python: fit=True)"
        )

    with Image.open(io.BytesIO(jpeg)) as im:
        upright = ImageOps.exif_transpose(im).convert("RGB")
    target = (640, 480) if upright.width >= upright.height else (480, 640)
    framed = ImageOps.pad(upright, target, method=Image.Resampling.LANCZOS, color=(0, 0, 0))
    out = io.BytesIO()  # in memory only: biometric images never touch the disk
    framed.save(out, format="JPEG", quality=95)
    return out.getvalue()
