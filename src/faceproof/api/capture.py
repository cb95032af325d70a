"""Opening an SDK capture: envelope → validated payload → decoded frames.

Shared by /process, /secure/face/as and /verifyWithPictureId so the three answer envelope and
frame problems identically (601 / 604 / 507 / 901).
"""

from __future__ import annotations

from dataclasses import dataclass

from faceproof.api.deps import Services
from faceproof.crypto.envelope import CapturePayload
from faceproof.errors import ApiError, Err
from faceproof.pipeline.decode import DecodedImage, decode_image

# The reference accepts 480x640 captures only; we accept either orientation of that size.
CAPTURE_SIZES = {(480, 640), (640, 480)}


@dataclass
class Capture:
    payload: CapturePayload
    frames: list[DecodedImage]  # decoded, in payload order; frames[0] is the main frame

    @property
    def main(self) -> DecodedImage:
        return self.frames[0]


def open_capture(services: Services, token: bytes, *, check_size: bool = True) -> Capture:
    """Decrypts and decodes a capture; a capture without a decodable frame is 507."""
    payload = services.opener.open(token)
    if not payload.frames:
        raise ApiError(Err.NO_TEMPLATES_SPECIFIED, "(/file) the capture holds no frame")
    frames: list[DecodedImage] = []
    for frame in payload.frames:
        try:
            frames.append(
                decode_image(
                    frame.data,
                    field="/file",
                    max_pixels=services.settings.max_image_pixels,
                    allow_iso=False,
                )
            )
        except ApiError:
            raise ApiError(
                Err.NO_TEMPLATES_SPECIFIED, "(/file) the capture holds no usable frame"
            ) from None
    main = frames[0]
    if check_size and (main.width, main.height) not in CAPTURE_SIZES:
        raise ApiError(Err.WRONG_RESOLUTION)
    return Capture(payload, frames)
