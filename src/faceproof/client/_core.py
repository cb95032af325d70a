"""What the sync and async clients share: how each endpoint's request is built and how its
answer is read. The clients only send; nothing here does I/O except reading image files."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from faceproof import __version__
from faceproof.client import results as r
from faceproof.client.errors import TransportError, error_from_answer
from faceproof.client.frames import capture_frame
from faceproof.crypto.envelope import build_envelope
from faceproof.pipeline.decode import sniff_format

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

API = "/api/v1"
DEFAULT_URL = "http://127.0.0.1:8080"

#: An image: its bytes, or the path of a file (a ``str`` is a path, never base64).
ImageInput = bytes | str | os.PathLike[str]
#: A capture: a sealed envelope (bytes from :meth:`seal` or ``faceproof envelope make``),
#: or the image files to seal (``frames[0]`` is the main frame).
CaptureInput = bytes | Sequence[ImageInput]

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"


def read_image(image: ImageInput) -> bytes:
    if isinstance(image, bytes | bytearray):
        return bytes(image)
    return Path(image).read_bytes()


def image_format(data: bytes) -> str:
    """JPEG, PNG or ISO_19794_5, from the magic bytes (the match endpoints need it named)."""
    fmt = sniff_format(data)
    if fmt is None:
        raise ValueError("unsupported image (expected JPEG, PNG or an ISO/IEC 19794-5 record)")
    return fmt


def template_in(image: ImageInput, fmt: str | None = None) -> dict[str, str]:
    """``{"template": base64, "format": …}`` as the match and gallery endpoints take it."""
    data = read_image(image)
    return {"template": _b64(data), "format": fmt or image_format(data)}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def is_image(data: bytes) -> bool:
    return data.startswith(_JPEG) or data.startswith(_PNG)


@dataclass
class Call(Generic[T]):
    """One request and how to read its successful answer."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    json: Any = None
    data: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    ok_statuses: tuple[int, ...] = field(default=())


def answer(call: Call[T], response: httpx.Response) -> T:
    """The call's result, or the typed exception for the documented error answer."""
    if response.status_code >= 400 and response.status_code not in call.ok_statuses:
        try:
            body = response.json()
        except ValueError:
            body = None
        raise error_from_answer(response.status_code, body, response.headers)
    try:
        return call.read(response)
    except (ValueError, KeyError, TypeError) as exc:
        raise TransportError(
            None, "UNEXPECTED_ANSWER", response.status_code, f"unreadable answer: {exc}"
        ) from None


def _model(cls: type[M]) -> Callable[[httpx.Response], M]:
    return lambda resp: cls.model_validate_json(resp.content)


def _json(resp: httpx.Response) -> dict[str, Any]:
    body = json.loads(resp.content)
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    return body


# -- utility ----------------------------------------------------------------------------------
def pub_key() -> Call[r.PublicKey]:
    def read(resp: httpx.Response) -> r.PublicKey:
        b = _json(resp)
        return r.PublicKey(b["kid"], b["alg"], b["enc"], dict(b["jwk"]), b["spki"])

    return Call("POST", f"{API}/pub_key", read)


def server_time() -> Call[int]:
    return Call("POST", f"{API}/time", lambda resp: int(_json(resp)["epoch_ms"]))


def models() -> Call[bytes]:
    return Call("POST", f"{API}/models", lambda resp: resp.content)


def health() -> Call[r.Health]:
    return Call(
        "GET",
        f"{API}/face_health",
        lambda resp: r.Health.from_body(_json(resp)),
        ok_statuses=(503,),
    )


def challenge() -> Call[r.ChallengeResponse]:
    return Call("POST", f"{API}/challenge", _model(r.ChallengeResponse))


# -- captures ---------------------------------------------------------------------------------
def _envelope_file(token: bytes) -> dict[str, Any]:
    return {"file": ("capture.jwe", token, "application/octet-stream")}


def process(token: bytes, enable_quality: bool = True) -> Call[r.ProcessResponse]:
    return Call(
        "POST",
        f"{API}/process",
        _model(r.ProcessResponse),
        data={"enableQuality": "true" if enable_quality else "false"},
        files=_envelope_file(token),
    )


def secure_liveness(token: bytes) -> Call[r.LivenessResponse]:
    return Call(
        "POST", f"{API}/secure/face/as", _model(r.LivenessResponse), files=_envelope_file(token)
    )


def verify_with_picture_id(
    token: bytes, pic_id: ImageInput, level: str, fmt: str | None = None
) -> Call[r.MatchResponse]:
    data = read_image(pic_id)
    form = {"picID": _b64(data), "template": fmt or image_format(data), "level": level}
    return Call(
        "POST",
        f"{API}/verifyWithPictureId",
        _model(r.MatchResponse),
        data=form,
        files=_envelope_file(token),
    )


# -- images -----------------------------------------------------------------------------------
def liveness(image: ImageInput, threshold: str) -> Call[r.LivenessResponse]:
    form = {"image": _b64(read_image(image)), "threshold": threshold}
    # Multipart, as the reference documents (the server takes url-encoded forms too).
    files = {k: (None, v) for k, v in form.items()}
    return Call("POST", f"{API}/face/as", _model(r.LivenessResponse), files=files)


def generate_template(image: ImageInput, quality_mode: str) -> Call[r.GenerateResponse]:
    body = {"image": _b64(read_image(image)), "qualityMode": quality_mode}
    return Call("POST", f"{API}/face/generateTemplateFromImage", _model(r.GenerateResponse), body)


def match(
    path: str, image: ImageInput, other: ImageInput, level: str, formats: tuple[str | None, ...]
) -> Call[r.MatchResponse]:
    body = {
        "image": template_in(image, formats[0]),
        "imageToVerifyAgainst": template_in(other, formats[1]),
        "level": level,
    }
    return Call("POST", f"{API}/{path}", _model(r.MatchResponse), body)


# -- 1:N --------------------------------------------------------------------------------------
def _probe(image: ImageInput | None, template: str | bytes | None) -> dict[str, Any]:
    if (image is None) == (template is None):
        raise ValueError("give exactly one of image or template")
    if image is not None:
        return {"image": template_in(image)}
    return {"template": template if isinstance(template, str) else _b64(bytes(template or b""))}


def enrol(
    gallery: str,
    subject_id: str,
    image: ImageInput | None,
    template: str | bytes | None,
    duplicate_level: str | None,
) -> Call[r.EnrolResponse]:
    body: dict[str, Any] = {"subjectId": subject_id, **_probe(image, template)}
    if duplicate_level is not None:
        body["duplicateLevel"] = duplicate_level
    return Call("POST", f"{API}/galleries/{gallery}/subjects", _model(r.EnrolResponse), body)


def subjects(gallery: str, offset: int, limit: int) -> Call[r.SubjectsResponse]:
    return Call(
        "GET",
        f"{API}/galleries/{gallery}/subjects",
        _model(r.SubjectsResponse),
        params={"offset": offset, "limit": limit},
    )


def delete_subject(gallery: str, subject_id: str) -> Call[r.DeletedResponse]:
    path = f"{API}/galleries/{gallery}/subjects/{subject_id}"
    return Call("DELETE", path, _model(r.DeletedResponse))


def delete_gallery(gallery: str) -> Call[r.DeletedResponse]:
    return Call("DELETE", f"{API}/galleries/{gallery}", _model(r.DeletedResponse))


def identify(
    gallery: str,
    level: str,
    max_results: int,
    image: ImageInput | None = None,
    template: str | bytes | None = None,
    token: bytes | None = None,
) -> Call[r.IdentifyResponse]:
    read = _model(r.IdentifyResponse)
    if token is not None:
        if image is not None or template is not None:
            raise ValueError("give one of image, template or capture")
        form = {"gallery": gallery, "level": level, "maxResults": str(max_results)}
        return Call("POST", f"{API}/identify", read, data=form, files=_envelope_file(token))
    body = {
        "gallery": gallery,
        "level": level,
        "maxResults": max_results,
        **_probe(image, template),
    }
    return Call("POST", f"{API}/identify", read, body)


def headers(
    extra: Mapping[str, str] | None, request_id: str | None, log_api_trigger: bool
) -> dict[str, str]:
    """Default headers: the reference's ``requestID`` and ``LogAPITrigger`` when asked for."""
    out = {"User-Agent": f"faceproof-client/{__version__}"}
    if request_id:
        out["requestID"] = request_id
    if log_api_trigger:
        out["LogAPITrigger"] = "true"
    out.update(extra or {})
    return out


def seal(
    jwk: Mapping[str, Any],
    images: Sequence[ImageInput],
    *,
    fit: bool,
    options: Mapping[str, Any] | None,
    device: Mapping[str, Any] | None,
    challenge: Mapping[str, Any] | None,
    nonce: str | None,
    ts_ms: int | None,
) -> bytes:
    """Frames checked (or letterboxed) to the capture size, sealed as the SDK would."""
    if isinstance(images, bytes | str | os.PathLike) or not images:
        raise TypeError("images: a list of image files or bytes, main frame first")
    frames = [
        capture_frame(read_image(img), fit=fit, name=_name(img, i)) for i, img in enumerate(images)
    ]
    return build_envelope(
        frames, jwk, options=options, device=device, challenge=challenge, nonce=nonce, ts_ms=ts_ms
    )


def _name(image: ImageInput, index: int) -> str:
    return f"image {index + 1}" if isinstance(image, bytes | bytearray) else str(image)


def sealed(capture: CaptureInput) -> bytes | None:
    """The envelope when ``capture`` already is one; None when it is images to seal."""
    if isinstance(capture, bytes | bytearray):
        if is_image(bytes(capture)):
            raise TypeError("capture is an image, not a sealed envelope: pass [image] to seal it")
        return bytes(capture)
    if isinstance(capture, str | os.PathLike):
        raise TypeError("capture: pass a list of image paths ([path]) or a sealed envelope")
    return None
