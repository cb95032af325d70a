"""Typed exceptions for the server's documented error answers.

Every refusal the server sends has the same body (``code``, ``message`` or ``feedbackCode``,
``refid``, ``description``; docs/api-decisions.md). :func:`error_from_answer` turns it into
the exception class named for its documented error name, so callers can ``except
InvalidImage`` instead of comparing numbers; each carries the code, name, HTTP status, refid
and description as sent, and ``retry_after``: the seconds of the answer's ``Retry-After``
header (429 and 503 refusals), ``None`` when it sent none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


class FaceproofError(Exception):
    """A documented error answer (or, for :class:`TransportError`, no answer at all)."""

    def __init__(
        self,
        code: int | None,
        name: str,
        http_status: int | None,
        description: str,
        refid: str | None = None,
        body: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.code = code
        self.retry_after = retry_after
        self.name = name
        self.http_status = http_status
        self.description = description
        self.refid = refid
        self.body = body or {}
        where = f" refid={refid}" if refid else ""
        super().__init__(f"{code} {name} (HTTP {http_status}): {description}{where}")


class LivenessRetry(FaceproofError):
    """401 FEEDBACK_RETRY: the capture was refused by liveness, could not be judged, or was
    sideways (``quality`` false: a retake, not an attack); capture again.

    ``image`` is the capture's main frame (base64 JPEG) and ``liveness`` the reasons block,
    when the server sends them.
    """

    @property
    def image(self) -> str | None:
        data = self.body.get("data")
        return data.get("image") if isinstance(data, dict) else None

    @property
    def liveness(self) -> dict[str, Any] | None:
        block = self.body.get("liveness")
        return block if isinstance(block, dict) else None


class InsecureCamera(LivenessRetry):
    """401 FEEDBACK_RETRY_INSECURE: a virtual/emulated camera or automated browser."""


class InvalidRequest(FaceproofError):
    """501 ERROR_INVALID_JSON: a missing or malformed field (HTTP 413: body too large)."""


class ClientNotExists(FaceproofError):
    """404 ERROR_CLIENT_NOT_EXISTS."""


class ServerError(FaceproofError):
    """500 ERROR_SERVER_INTERNAL / FEEDBACK_MATCHING_ERROR."""


class InvalidImage(FaceproofError):
    """503 ERROR_INVALID_IMAGE: no face found (or an unusable face)."""


class InvalidFormat(FaceproofError):
    """504 ERROR_INVALID_FORMAT: the image or template does not decode."""


class InvalidMatchLevel(FaceproofError):
    """505 ERROR_INVALID_MATCH_LEVEL."""


class InvalidAsLevel(FaceproofError):
    """506 ERROR_INVALID_AS_LEVEL."""


class NoTemplatesSpecified(FaceproofError):
    """507 NO_TEMPLATES_SPECIFIED: the capture holds no usable frame."""


class MultipleFaces(FaceproofError):
    """509 ERROR_MULTIPLE_FACES."""


class PoorQuality(FaceproofError):
    """510 ERROR_POOR_ICAO_QUALITY: refused by the ENROL/VERIFY quality gate."""


class DecryptionFailed(FaceproofError):
    """601 ERROR_DECRYPTION_FAILED: the envelope is invalid, replayed or for another key."""


class RequestExpired(FaceproofError):
    """604 ERROR_REQUEST_EXPIRED: the envelope's timestamp is over 2 min from the server's."""


class ImageTooLarge(FaceproofError):
    """900 INVALID_IMAGE: the image (or a capture frame) declares more pixels than the server
    accepts (FACEPROOF_MAX_IMAGE_PIXELS); the same answer on every endpoint."""


class WrongResolution(FaceproofError):
    """901 ERROR_WRONG_RESOLUTION: a capture frame is not 640×480 or 480×640."""


class NotFound(FaceproofError):
    """404: no such endpoint, gallery or subject."""


class MethodNotAllowed(FaceproofError):
    """405 ERROR_METHOD_NOT_ALLOWED."""


class DuplicateSubject(FaceproofError):
    """409 ERROR_DUPLICATE_SUBJECT: another subject of the gallery matches this face."""


class TooManyAttempts(FaceproofError):
    """429 ERROR_TOO_MANY_ATTEMPTS / ERROR_TOO_MANY_REQUESTS: an abuse limit (failed liveness
    attempts, challenges); ``retry_after`` (the ``Retry-After`` header) says when to try again."""


class ServerBusy(FaceproofError):
    """500 ERROR_SERVER_BUSY (HTTP 503): every worker's queue is full; retry after
    ``retry_after`` seconds. Nothing was done, but a capture must be sealed again: the client
    never re-sends one (its nonce is single-use)."""


class StoreUnavailable(ServerBusy):
    """500 ERROR_STORE_UNAVAILABLE (HTTP 503): a store the server needs (Redis, PostgreSQL)
    is not answering; retry after ``retry_after`` seconds. The description says whether the
    request was used (a capture in it must then be sealed again); a ``ServerBusy``, so code
    that handles busy servers handles this too."""


class TransportError(FaceproofError):
    """No documented answer: the server could not be reached or answered something else."""


#: Documented error name → exception class (tests check it covers faceproof.errors).
BY_NAME: dict[str, type[FaceproofError]] = {
    "FEEDBACK_RETRY": LivenessRetry,
    "FEEDBACK_RETRY_INSECURE": InsecureCamera,
    "ERROR_CLIENT_NOT_EXISTS": ClientNotExists,
    "ERROR_SERVER_INTERNAL": ServerError,
    "FEEDBACK_MATCHING_ERROR": ServerError,
    "ERROR_INVALID_JSON": InvalidRequest,
    "ERROR_INVALID_IMAGE": InvalidImage,
    "ERROR_INVALID_FORMAT": InvalidFormat,
    "ERROR_INVALID_MATCH_LEVEL": InvalidMatchLevel,
    "ERROR_INVALID_AS_LEVEL": InvalidAsLevel,
    "NO_TEMPLATES_SPECIFIED": NoTemplatesSpecified,
    "ERROR_MULTIPLE_FACES": MultipleFaces,
    "ERROR_POOR_ICAO_QUALITY": PoorQuality,
    "ERROR_DECRYPTION_FAILED": DecryptionFailed,
    "ERROR_REQUEST_EXPIRED": RequestExpired,
    "INVALID_IMAGE": ImageTooLarge,
    "ERROR_WRONG_RESOLUTION": WrongResolution,
    "ERROR_NOT_FOUND": NotFound,
    "ERROR_GALLERY_NOT_FOUND": NotFound,
    "ERROR_SUBJECT_NOT_FOUND": NotFound,
    "ERROR_METHOD_NOT_ALLOWED": MethodNotAllowed,
    "ERROR_DUPLICATE_SUBJECT": DuplicateSubject,
    "ERROR_TOO_MANY_ATTEMPTS": TooManyAttempts,
    "ERROR_TOO_MANY_REQUESTS": TooManyAttempts,
    "ERROR_SERVER_BUSY": ServerBusy,
    "ERROR_STORE_UNAVAILABLE": StoreUnavailable,
}


def retry_after_seconds(value: str | None, now: datetime | None = None) -> int | None:
    """``Retry-After`` in whole seconds (delta-seconds or an HTTP date); None if absent or bad."""
    v = (value or "").strip()
    if v.isdigit():
        return int(v)
    try:
        when = parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, math.ceil((when - (now or datetime.now(UTC))).total_seconds()))


def error_from_answer(
    http_status: int, body: Any, headers: Mapping[str, str] | None = None
) -> FaceproofError:
    """The exception for an error answer; :class:`TransportError` when it is not one of ours.
    ``headers`` (the answer's) give ``retry_after``."""
    retry_after = retry_after_seconds(headers.get("Retry-After")) if headers else None
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        what = "not a faceproof answer"
        return TransportError(None, "UNEXPECTED_ANSWER", http_status, what, retry_after=retry_after)
    name = body.get("message") or body.get("feedbackCode") or ""
    name = name if isinstance(name, str) else str(name)
    refid = body.get("refid")
    cls = BY_NAME.get(name, FaceproofError)
    return cls(
        int(body["code"]),
        name,
        http_status,
        str(body.get("description", "")),
        refid if isinstance(refid, str) else None,
        body,
        retry_after,
    )
