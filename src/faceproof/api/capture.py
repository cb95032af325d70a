"""Opening an SDK capture: envelope → validated payload → decoded frames.

Shared by /process, /secure/face/as and /verifyWithPictureId so the three answer envelope and
frame problems identically (601 / 604 / 507 / 504 / 901).
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from fastapi import UploadFile

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


async def read_upload(file: UploadFile, limit: int) -> bytes:
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(Err.PAYLOAD_TOO_LARGE)
    return data


def open_capture(services: Services, token: bytes, *, check_size: bool = True) -> Capture:
    payload = services.opener.open(token)
    if not payload.frames:
        raise ApiError(Err.NO_TEMPLATES_SPECIFIED)
    frames: list[DecodedImage] = []
    for i, frame in enumerate(payload.frames):
        try:
            raw = base64.b64decode(frame.jpeg, validate=False)
        except (binascii.Error, ValueError):
            raise ApiError(
                Err.INVALID_FORMAT, f"(/file/frames/{i}) Could not decode image."
            ) from None
        frames.append(
            decode_image(
                raw,
                field=f"/file/frames/{i}",
                max_pixels=services.settings.max_image_pixels,
                allow_iso=False,
            )
        )
    main = frames[0]
    if check_size and (main.width, main.height) not in CAPTURE_SIZES:
        raise ApiError(Err.WRONG_RESOLUTION)
    return Capture(payload, frames)


async def open_capture_async(
    services: Services, token: bytes, *, check_size: bool = True
) -> Capture:
    return await anyio.to_thread.run_sync(
        lambda: open_capture(services, token, check_size=check_size)
    )
