"""The error catalogue and the error model: every code, and every problem's one answer.

Two tables, in one place:

* :class:`Err` — every documented code, its name and HTTP status;
* :class:`Problem` — every problem a request can have (too many pixels, no face, unknown
  level …) and the one answer it gets on every endpoint: its code and a message that names
  the field and says what to do. Code anywhere in the server raises
  ``problem(Problem.X, field, **values)``; nothing else chooses a code for these problems,
  so two endpoints cannot answer the same problem differently (docs/api-decisions.md has
  the table, tests/test_error_model.py checks it endpoint by endpoint).

The API layer renders an :class:`ApiError` in the documented body shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class ErrorKind:
    code: int
    name: str
    http_status: int
    default_description: str


class Err(Enum):
    """Documented error codes (reference: "Error Codes" and per-endpoint tables)."""

    FEEDBACK_RETRY = ErrorKind(401, "FEEDBACK_RETRY", 400, "Something is weird, please try again.")
    FEEDBACK_RETRY_INSECURE = ErrorKind(401, "FEEDBACK_RETRY_INSECURE", 400, "Insecure camera feed")
    CLIENT_NOT_EXISTS = ErrorKind(404, "ERROR_CLIENT_NOT_EXISTS", 400, "Client does not exist")
    SERVER_INTERNAL = ErrorKind(500, "ERROR_SERVER_INTERNAL", 500, "Server Error")
    MATCHING_ERROR = ErrorKind(500, "FEEDBACK_MATCHING_ERROR", 500, "Error thrown in matching API")
    INVALID_JSON = ErrorKind(501, "ERROR_INVALID_JSON", 400, "JSON EXCEPTION")
    INVALID_IMAGE = ErrorKind(503, "ERROR_INVALID_IMAGE", 400, "An invalid image was used")
    INVALID_FORMAT = ErrorKind(
        504, "ERROR_INVALID_FORMAT", 400, "Image format unsupported for operation."
    )
    INVALID_MATCH_LEVEL = ErrorKind(
        505, "ERROR_INVALID_MATCH_LEVEL", 400, "Match level is outside supported range"
    )
    INVALID_AS_LEVEL = ErrorKind(506, "ERROR_INVALID_AS_LEVEL", 400, "AS level not supported")
    NO_TEMPLATES_SPECIFIED = ErrorKind(
        507, "NO_TEMPLATES_SPECIFIED", 400, "No templates specified in face Blob"
    )
    MULTIPLE_FACES = ErrorKind(
        509, "ERROR_MULTIPLE_FACES", 400, "(/image) Multiple faces detected."
    )
    POOR_ICAO_QUALITY = ErrorKind(510, "ERROR_POOR_ICAO_QUALITY", 400, "Non-compliant quality.")
    DECRYPTION_FAILED = ErrorKind(601, "ERROR_DECRYPTION_FAILED", 400, "Decryption failed")
    REQUEST_EXPIRED = ErrorKind(
        604, "ERROR_REQUEST_EXPIRED", 500, "The request took more than 2 min to reach the server"
    )
    INVALID_IMAGE_900 = ErrorKind(900, "INVALID_IMAGE", 400, "The image is invalid")
    WRONG_RESOLUTION = ErrorKind(901, "ERROR_WRONG_RESOLUTION", 400, "Passed image isn't 480x640")
    # Not in the reference's table; documented in docs/api-decisions.md.
    PAYLOAD_TOO_LARGE = ErrorKind(501, "ERROR_INVALID_JSON", 413, "Request body too large")
    NOT_FOUND = ErrorKind(404, "ERROR_NOT_FOUND", 404, "No such endpoint")
    METHOD_NOT_ALLOWED = ErrorKind(405, "ERROR_METHOD_NOT_ALLOWED", 405, "Method not allowed")
    # 1:N identification (ours; docs/identification.md).
    GALLERY_NOT_FOUND = ErrorKind(
        404, "ERROR_GALLERY_NOT_FOUND", 404, "(/gallery) No such gallery, or it has no subjects"
    )
    SUBJECT_NOT_FOUND = ErrorKind(
        404, "ERROR_SUBJECT_NOT_FOUND", 404, "(/subjectId) No such subject in this gallery"
    )
    DUPLICATE_SUBJECT = ErrorKind(
        409, "ERROR_DUPLICATE_SUBJECT", 409, "Another subject of the gallery matches this face"
    )
    # Serving limits (ours; docs/api-decisions.md, docs/deployment.md "Abuse limits"). Each is
    # answered with a Retry-After header. Busy keeps code 500 (the reference's "server-side,
    # try again" family) because code 503 already means ERROR_INVALID_IMAGE.
    TOO_MANY_ATTEMPTS = ErrorKind(
        429, "ERROR_TOO_MANY_ATTEMPTS", 429, "Too many failed liveness attempts; retry later"
    )
    TOO_MANY_REQUESTS = ErrorKind(
        429, "ERROR_TOO_MANY_REQUESTS", 429, "Too many requests from this client; retry later"
    )
    SERVER_BUSY = ErrorKind(500, "ERROR_SERVER_BUSY", 503, "Server busy; retry later")
    # A shared store (Redis, PostgreSQL) not answering: the same family and HTTP status as busy.
    STORE_UNAVAILABLE = ErrorKind(
        500, "ERROR_STORE_UNAVAILABLE", 503, "A state store is not answering; retry later"
    )


class ApiError(Exception):
    """An error to be answered in the documented format.

    ``description`` must never echo what the caller sent (strings, bytes, header values):
    only field names, our own limits and numbers we measured (an image's size, a distance
    between the eyes); it is returned to the client verbatim. ``data`` carries documented
    extra fields (e.g. ``data.image`` for FEEDBACK_RETRY) and ``extra`` top-level documented
    keys (e.g. ``quality``).
    """

    #: Seconds for the ``Retry-After`` header of a refusal the caller may retry, else None.
    retry_after: int | None = None

    def __init__(
        self,
        kind: Err,
        description: str | None = None,
        *,
        data: dict[str, object] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        self.kind = kind.value
        self.description = description or kind.value.default_description
        self.data = data
        self.extra = extra or {}
        super().__init__(f"{self.kind.code} {self.kind.name}: {self.description}")


def catalogue() -> list[ErrorKind]:
    """All error kinds, for docs and the test that each is reachable."""
    return [e.value for e in Err]


@dataclass(frozen=True)
class ProblemSpec:
    """One problem's answer: the code and a message template (``{field}`` and the values
    :func:`problem` is given)."""

    kind: Err
    message: str


class Problem(Enum):
    """Every problem a request can have, and its one answer on every endpoint."""

    # -- the body and its fields (501) ------------------------------------------------------
    INVALID_JSON = ProblemSpec(
        Err.INVALID_JSON, "JSON EXCEPTION: the body is not valid JSON ({detail})."
    )
    EMPTY_BODY = ProblemSpec(Err.INVALID_JSON, "The request body is empty: send {expected}.")
    WRONG_BODY = ProblemSpec(Err.INVALID_JSON, "The request body must be {expected}.")
    MISSING_FIELD = ProblemSpec(Err.INVALID_JSON, "({field}) is required: {expected}.")
    WRONG_FIELD = ProblemSpec(Err.INVALID_JSON, "({field}) must be {expected}.")
    UNREADABLE_BODY = ProblemSpec(
        Err.INVALID_JSON,
        "INVALID ARGUMENT EXCEPTION: the body could not be read as {expected}.",
    )
    BODY_TOO_LARGE = ProblemSpec(
        Err.PAYLOAD_TOO_LARGE,
        "Request body larger than {limit} bytes: send a smaller image (a 640×480 JPEG is "
        "enough) or raise FACEPROOF_MAX_UPLOAD_BYTES.",
    )
    # -- images sent as base64 (504 / 900 / 503 / 509 / 510) --------------------------------
    BAD_BASE64 = ProblemSpec(
        Err.INVALID_FORMAT,
        "({field}) unable to decode template: not valid base64. Send the image file's bytes "
        "base64-encoded (standard or URL-safe alphabet).",
    )
    UNDECODABLE = ProblemSpec(
        Err.INVALID_FORMAT,
        "({field}) Could not decode image: {reason}. Send a complete JPEG or PNG file.",
    )
    UNSUPPORTED_FORMAT = ProblemSpec(
        Err.INVALID_FORMAT,
        "({field}) Unsupported template: use JPEG, PNG or ISO_19794_5.",
    )
    NIST_FORMAT = ProblemSpec(
        Err.INVALID_FORMAT,
        "({field}) NIST 10 templates are not supported for matching: send the portrait as "
        "JPEG, PNG or ISO_19794_5.",
    )
    TOO_MANY_PIXELS = ProblemSpec(
        Err.INVALID_IMAGE_900,
        "({field}) Image dimensions exceed the supported maximum: {size} is over "
        "this server's limit of {limit} pixels (FACEPROOF_MAX_IMAGE_PIXELS). Send a smaller "
        "image: 640×480 is enough for a face.",
    )
    NO_FACE = ProblemSpec(
        Err.INVALID_IMAGE,
        "({field}) No face detected. Send an image in which the whole face is visible, "
        "upright and facing the camera.",
    )
    MULTIPLE_FACES = ProblemSpec(
        Err.MULTIPLE_FACES,
        "({field}) Multiple faces detected. Enrolment needs a photo of one person only: crop "
        "the others out or retake the photo.",
    )
    FOREIGN_TEMPLATE = ProblemSpec(
        Err.INVALID_FORMAT,
        "({field}) Unsupported template: not a FACEPROOF_T1 template of this server's model. "
        "Make it with /face/generateTemplateFromImage on this deployment.",
    )
    BROKEN_TEMPLATE = ProblemSpec(
        Err.INVALID_FORMAT,
        "({field}) unable to decode template: {reason}. Send the template exactly as "
        "/face/generateTemplateFromImage returned it.",
    )
    POOR_QUALITY = ProblemSpec(Err.POOR_ICAO_QUALITY, "({field}) {reason}: {detail}")
    # -- levels (505 / 506 / 501) -------------------------------------------------------------
    UNKNOWN_MATCH_LEVEL = ProblemSpec(
        Err.INVALID_MATCH_LEVEL,
        "({field}) Match level is outside supported range: use one of {allowed}.",
    )
    UNKNOWN_AS_LEVEL = ProblemSpec(
        Err.INVALID_AS_LEVEL, "({field}) AS level not supported: use one of {allowed}."
    )
    AS_LEVEL_NONE = ProblemSpec(
        Err.INVALID_JSON, "({field}) AS level can not be NONE: use one of {allowed}."
    )
    # -- SDK captures (601 / 604 / 507 / 901 / 401) ---------------------------------------------
    CAPTURE_UNUSABLE = ProblemSpec(
        Err.NO_TEMPLATES_SPECIFIED,
        "({field}) No templates specified in face Blob: the capture holds no usable frame. "
        "Capture again with the SDK.",
    )
    CAPTURE_RESOLUTION = ProblemSpec(
        Err.WRONG_RESOLUTION,
        "({field}) Passed image isn't 480x640: every frame of a capture must be 480×640 or "
        "640×480, as the SDK captures them.",
    )
    CAPTURE_SIDEWAYS = ProblemSpec(
        Err.FEEDBACK_RETRY,
        "({field}) The frame is sideways or upside down (face rolled {roll}°, at most ±{limit}° "
        "is accepted): hold the camera upright, look straight at it and capture again.",
    )
    # -- state stores (500, HTTP 503 + Retry-After; storage/outage.py) ------------------------
    STORE_UNAVAILABLE = ProblemSpec(
        Err.STORE_UNAVAILABLE,
        "The {store} ({backend}) is not answering: {effect} Retry in {retry} s.",
    )


def problem(p: Problem, field: str = "", /, **values: object) -> ApiError:
    """The answer to problem ``p`` about ``field`` (a JSON pointer such as ``/image``)."""
    spec = p.value
    return ApiError(spec.kind, spec.message.format(field=field, **values))


def one_of(names: Iterable[str]) -> str:
    """``A, B or C``: the allowed values, in messages."""
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def parse_level_name(value: object, allowed: Iterable[str], field: str, *, liveness: bool) -> str:
    """One rule for every level field: the documented names, case-insensitive, surrounding
    whitespace ignored. Unknown → 505 (match levels) or 506 (liveness levels); ``NONE`` is an
    outcome, not a request: 505 for a match level, and the documented 501 for a liveness
    level."""
    names = tuple(allowed)
    name = value.strip().upper() if isinstance(value, str) else ""
    if name in names:
        return name
    if liveness:
        kind = Problem.AS_LEVEL_NONE if name == "NONE" else Problem.UNKNOWN_AS_LEVEL
    else:
        kind = Problem.UNKNOWN_MATCH_LEVEL
    raise problem(kind, field, allowed=one_of(names))
