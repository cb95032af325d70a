"""Opening an SDK capture: envelope → validated payload → frames, decoded only when needed.

Shared by /process, /secure/face/as and /verifyWithPictureId so the three answer envelope and
frame problems identically (601 / 604 / 507 / 901).

An envelope may hold 16 frames and anyone can seal one (the public key is public), so frames
are judged by their headers first: every frame must parse and, for the API, be a capture of
480×640 or 640×480 (901) before a single pixel is decoded. The main frame is then decoded;
the others (challenge frames) only when the liveness check asks for their pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from faceproof.api.deps import Services
from faceproof.attempt_context import check_device
from faceproof.crypto.envelope import CapturePayload
from faceproof.errors import ApiError, Err
from faceproof.face.record import U8
from faceproof.pipeline.decode import DecodedImage, ImageInfo, decode_image, probe_image

# The reference accepts 480x640 captures only; we accept either orientation of that size.
CAPTURE_SIZES = {(480, 640), (640, 480)}


def _unusable() -> ApiError:
    return ApiError(Err.NO_TEMPLATES_SPECIFIED, "(/file) the capture holds no usable frame")


@dataclass
class CaptureFrame:
    """One frame: its upright size from the header, its pixels decoded on first use."""

    data: bytes = field(repr=False)
    info: ImageInfo
    max_pixels: int
    _image: DecodedImage | None = field(default=None, repr=False)

    @property
    def width(self) -> int:
        return self.info.width

    @property
    def height(self) -> int:
        return self.info.height

    @property
    def image(self) -> DecodedImage:
        """The decoded frame (507 when its body does not decode)."""
        if self._image is None:
            try:
                image = decode_image(
                    self.data, field="/file", max_pixels=self.max_pixels, allow_iso=False
                )
            except ApiError:
                raise _unusable() from None
            if (image.width, image.height) != (self.width, self.height):
                raise _unusable()  # e.g. a PNG whose EXIF came after its pixels
            self._image = image
        return self._image

    @property
    def rgb(self) -> U8:
        return self.image.rgb


@dataclass
class Capture:
    payload: CapturePayload
    frames: list[CaptureFrame]  # in payload order; frames[0] is the main frame

    @property
    def main(self) -> DecodedImage:
        return self.frames[0].image


def open_capture(services: Services, token: bytes, *, check_size: bool = True) -> Capture:
    """Decrypts the capture and checks every frame's header; decodes the main frame.

    A capture without a frame, or with a frame that does not parse or exceeds
    ``FACEPROOF_MAX_IMAGE_PIXELS``, is 507; with ``check_size``, a frame that is not
    480×640 or 640×480 is 901 (checked from the headers, before any decoding).
    """
    payload = services.opener.open(token)
    check_device(payload.device)  # abuse limit per device (api/abuse.py): 429 when over
    if not payload.frames:
        raise ApiError(Err.NO_TEMPLATES_SPECIFIED, "(/file) the capture holds no frame")
    max_pixels = services.settings.max_image_pixels
    frames: list[CaptureFrame] = []
    for frame in payload.frames:
        try:
            info = probe_image(frame.data, max_pixels=max_pixels, allow_iso=False)
        except ApiError:
            raise _unusable() from None
        if check_size and (info.width, info.height) not in CAPTURE_SIZES:
            raise ApiError(Err.WRONG_RESOLUTION)
        frames.append(CaptureFrame(frame.data, info, max_pixels))
    capture = Capture(payload, frames)
    capture.main  # noqa: B018 - the main frame is always needed: decode (and check) it now
    return capture
