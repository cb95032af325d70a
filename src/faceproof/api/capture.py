"""Opening an SDK capture: envelope → validated payload → frames, decoded only when needed.

Shared by /process, /secure/face/as and /verifyWithPictureId so the three answer envelope and
frame problems identically (601 / 604 / 507 / 901 / 900, faceproof.errors.Problem).

An envelope may hold 16 frames and anyone can seal one (the public key is public), so frames
are judged by their headers first: every frame must parse and, for the API, be a capture of
480×640 or 640×480 (901) before a single pixel is decoded. The main frame is then decoded;
the others (challenge frames) only when the liveness check asks for their pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.datastructures import UploadFile

from faceproof.api.deps import Services
from faceproof.attempt_context import check_device
from faceproof.crypto.envelope import CapturePayload
from faceproof.errors import ApiError, Err, Problem, problem
from faceproof.face.record import U8, FaceRecord
from faceproof.pipeline.decode import DecodedImage, ImageInfo, decode_image, probe_image
from faceproof.pipeline.outputs import jpeg_b64

# The reference accepts 480x640 captures only; we accept either orientation of that size.
CAPTURE_SIZES = {(480, 640), (640, 480)}


FIELD = "/file"


def _unusable() -> ApiError:
    return problem(Problem.CAPTURE_UNUSABLE, FIELD)


def read_upload(services: Services, file: UploadFile) -> bytes:
    """The uploaded capture's bytes, at most ``FACEPROOF_MAX_UPLOAD_BYTES`` (else 413)."""
    limit = services.settings.max_upload_bytes
    token = file.file.read(limit + 1)
    if len(token) > limit:
        raise problem(Problem.BODY_TOO_LARGE, limit=limit)
    return token


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
                    self.data, field=FIELD, max_pixels=self.max_pixels, allow_iso=False
                )
            except ApiError as exc:
                if exc.kind == Err.INVALID_IMAGE_900.value:
                    raise  # over the pixel limit: the same answer as for any image
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

    A capture without a frame, or with a frame that does not parse, is 507; a frame over
    ``FACEPROOF_MAX_IMAGE_PIXELS`` is 900, as any image over it; with ``check_size``, a frame
    that is not 480×640 or 640×480 is 901 (checked from the headers, before any decoding).
    """
    payload = services.opener.open(token)
    check_device(payload.device)  # abuse limit per device (api/abuse.py): 429 when over
    if not payload.frames:
        raise _unusable()
    max_pixels = services.settings.max_image_pixels
    frames: list[CaptureFrame] = []
    for frame in payload.frames:
        try:
            info = probe_image(frame.data, max_pixels=max_pixels, allow_iso=False, field=FIELD)
        except ApiError as exc:
            if exc.kind == Err.INVALID_IMAGE_900.value:
                raise
            raise _unusable() from None
        if check_size and (info.width, info.height) not in CAPTURE_SIZES:
            raise problem(Problem.CAPTURE_RESOLUTION, FIELD)
        frames.append(CaptureFrame(frame.data, info, max_pixels))
    capture = Capture(payload, frames)
    capture.main  # noqa: B018 - the main frame is always needed: decode (and check) it now
    return capture


#: Beyond this roll the frame itself is sideways or upside down, not the head tilted.
SIDEWAYS_ROLL_DEG = 45.0


def pose_refusal(capture: Capture, record: FaceRecord) -> ApiError | None:
    """The answer for a capture whose frame is sideways or upside down, else None.

    The reference says ``head_pose_check`` is true for every successful capture. The SDK
    only captures an upright, frontal face (its own pose gate, ±18° yaw/pitch, ±15° roll), so
    a frame whose face is rolled beyond ±45° was not taken that way: a camera delivering
    rotated frames, or a capture not made by the SDK. It is refused as a retake (401
    FEEDBACK_RETRY, ``quality: false``) on every capture endpoint, before liveness or
    matching, rather than rotated: measurements and templates must be of the picture sent.
    A head merely turned past ``head_pose_check``'s limits is still captured, with
    ``head_pose_check: false`` (docs/api-decisions.md says why).
    """
    pose = record.pose
    if pose is None or abs(pose.roll) <= SIDEWAYS_ROLL_DEG:
        return None
    err = problem(
        Problem.CAPTURE_SIDEWAYS, FIELD, roll=f"{pose.roll:.0f}", limit=f"{SIDEWAYS_ROLL_DEG:.0f}"
    )
    err.data = {"image": jpeg_b64(capture.main.rgb)}
    err.extra = {"quality": False}
    return err
