"""The synchronous client: one method per endpoint, typed results, typed errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from faceproof.client import _core as c
from faceproof.client import results as r
from faceproof.client._core import CaptureInput, ImageInput
from faceproof.client.errors import TransportError

T = TypeVar("T")


class FaceproofClient:
    """``with FaceproofClient("http://127.0.0.1:8080") as fp: fp.match_with_selfie(a, b, "HIGH")``

    Images are bytes or file paths. Captures (``process``, ``secure_liveness``,
    ``verify_with_picture_id``, ``identify(capture=…)``) are a sealed envelope or a list of
    images, which the client seals for the server's current key as the SDK would (frames must
    be 640×480 or 480×640; ``fit=True`` letterboxes them). Errors raise the
    :mod:`faceproof.client.errors` class named for the documented error.
    """

    def __init__(
        self,
        base_url: str = c.DEFAULT_URL,
        *,
        timeout: float = 60.0,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        log_api_trigger: bool = False,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.Client(timeout=timeout)
        self._own_http = http is None
        self._headers = c.headers(headers, request_id, log_api_trigger)
        self._jwk: dict[str, Any] | None = None

    def __enter__(self) -> FaceproofClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def _send(self, call: c.Call[T]) -> T:
        try:
            response = self._http.request(
                call.method,
                self.base_url + call.path,
                json=call.json,
                data=call.data,
                files=call.files,
                params=call.params,
                headers=self._headers,
            )
        except httpx.HTTPError as exc:
            raise TransportError(None, "TRANSPORT", None, f"{type(exc).__name__}: {exc}") from None
        return c.answer(call, response)

    # -- utility ------------------------------------------------------------------------------
    def pub_key(self) -> r.PublicKey:
        key = self._send(c.pub_key())
        self._jwk = key.jwk
        return key

    def server_time(self) -> int:
        """The server's clock, epoch ms."""
        return self._send(c.server_time())

    def models(self) -> bytes:
        """The browser model bundle the SDK loads (FPMB)."""
        return self._send(c.models())

    def health(self) -> r.Health:
        """``face_health``; a 503 (unhealthy) is returned too, with ``ok`` False."""
        return self._send(c.health())

    def challenge(self) -> r.ChallengeResponse:
        return self._send(c.challenge())

    # -- envelopes ----------------------------------------------------------------------------
    def seal(
        self,
        images: Sequence[ImageInput],
        *,
        fit: bool = False,
        options: Mapping[str, Any] | None = None,
        device: Mapping[str, Any] | None = None,
        challenge: Mapping[str, Any] | None = None,
        nonce: str | None = None,
        ts_ms: int | None = None,
    ) -> bytes:
        """An envelope of ``images`` (main frame first) for the server's current key."""
        jwk = self._jwk or self.pub_key().jwk
        return c.seal(
            jwk,
            images,
            fit=fit,
            options=options,
            device=device,
            challenge=challenge,
            nonce=nonce,
            ts_ms=ts_ms,
        )

    def _token(self, capture: CaptureInput, fit: bool, options: Mapping[str, Any] | None) -> bytes:
        token = c.sealed(capture)
        if token is not None:
            return token
        assert not isinstance(capture, bytes)
        return self.seal(capture, fit=fit, options=options)

    # -- captures -----------------------------------------------------------------------------
    def process(
        self,
        capture: CaptureInput,
        *,
        options: Mapping[str, Any] | None = None,
        enable_quality: bool = True,
        fit: bool = False,
    ) -> r.ProcessResponse:
        """``/process``: liveness, quality, ICAO, templates (``options``: CaptureOptions)."""
        token = self._token(capture, fit, options)
        return self._send(c.process(token, enable_quality))

    def secure_liveness(
        self, capture: CaptureInput, *, options: Mapping[str, Any] | None = None, fit: bool = False
    ) -> r.LivenessResponse:
        """``/secure/face/as`` (level: ``options={"asThreshold": …}``)."""
        return self._send(c.secure_liveness(self._token(capture, fit, options)))

    def verify_with_picture_id(
        self,
        capture: CaptureInput,
        pic_id: ImageInput,
        level: str,
        *,
        template_format: str | None = None,
        options: Mapping[str, Any] | None = None,
        fit: bool = False,
    ) -> r.MatchResponse:
        """``/verifyWithPictureId``: capture → liveness → match against the ID portrait."""
        token = self._token(capture, fit, options)
        return self._send(c.verify_with_picture_id(token, pic_id, level, template_format))

    # -- images -------------------------------------------------------------------------------
    def liveness(self, image: ImageInput, threshold: str) -> r.LivenessResponse:
        """``/face/as``: passive liveness of a third-party image."""
        return self._send(c.liveness(image, threshold))

    def generate_template(
        self, image: ImageInput, quality_mode: str = "ENROL"
    ) -> r.GenerateResponse:
        """``/face/generateTemplateFromImage``: embedding template (ENROL/VERIFY/DISABLED)."""
        return self._send(c.generate_template(image, quality_mode))

    def match_with_selfie(
        self,
        image: ImageInput,
        other: ImageInput,
        level: str,
        *,
        formats: tuple[str | None, str | None] = (None, None),
    ) -> r.MatchResponse:
        """``/matchWithSelfie`` (formats from the magic bytes unless given)."""
        return self._send(c.match("matchWithSelfie", image, other, level, formats))

    def match_with_picture_id(
        self,
        selfie: ImageInput,
        id_portrait: ImageInput,
        level: str,
        *,
        formats: tuple[str | None, str | None] = (None, None),
    ) -> r.MatchResponse:
        """``/matchWithPictureId``: a selfie against an ID-card portrait."""
        return self._send(c.match("matchWithPictureId", selfie, id_portrait, level, formats))

    # -- 1:N ----------------------------------------------------------------------------------
    def enrol(
        self,
        gallery: str,
        subject_id: str,
        *,
        image: ImageInput | None = None,
        template: str | bytes | None = None,
        duplicate_level: str | None = None,
    ) -> r.EnrolResponse:
        return self._send(c.enrol(gallery, subject_id, image, template, duplicate_level))

    def subjects(self, gallery: str, *, offset: int = 0, limit: int = 100) -> r.SubjectsResponse:
        return self._send(c.subjects(gallery, offset, limit))

    def delete_subject(self, gallery: str, subject_id: str) -> r.DeletedResponse:
        return self._send(c.delete_subject(gallery, subject_id))

    def delete_gallery(self, gallery: str) -> r.DeletedResponse:
        return self._send(c.delete_gallery(gallery))

    def identify(
        self,
        gallery: str,
        level: str,
        *,
        image: ImageInput | None = None,
        template: str | bytes | None = None,
        capture: CaptureInput | None = None,
        max_results: int = 10,
        options: Mapping[str, Any] | None = None,
        fit: bool = False,
    ) -> r.IdentifyResponse:
        """``/identify`` with one of an image, a template or a capture (liveness first)."""
        token = None if capture is None else self._token(capture, fit, options)
        return self._send(c.identify(gallery, level, max_results, image, template, token))
