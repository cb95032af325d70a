"""The asynchronous client: the same methods as :class:`FaceproofClient`, awaited."""

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


class AsyncFaceproofClient:
    """``async with AsyncFaceproofClient(url) as fp: await fp.match_with_selfie(a, b, "HIGH")``

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
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._own_http = http is None
        self._headers = c.headers(headers, request_id, log_api_trigger)
        self._jwk: dict[str, Any] | None = None

    async def __aenter__(self) -> AsyncFaceproofClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def _send(self, call: c.Call[T]) -> T:
        try:
            response = await self._http.request(
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
    async def pub_key(self) -> r.PublicKey:
        key = await self._send(c.pub_key())
        self._jwk = key.jwk
        return key

    async def server_time(self) -> int:
        """The server's clock, epoch ms."""
        return await self._send(c.server_time())

    async def models(self) -> bytes:
        """The browser model bundle the SDK loads (FPMB)."""
        return await self._send(c.models())

    async def health(self) -> r.Health:
        """``face_health``; a 503 (unhealthy) is returned too, with ``ok`` False."""
        return await self._send(c.health())

    async def challenge(self) -> r.ChallengeResponse:
        return await self._send(c.challenge())

    # -- envelopes ----------------------------------------------------------------------------
    async def seal(
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
        jwk = self._jwk or (await self.pub_key()).jwk
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

    async def _token(
        self, capture: CaptureInput, fit: bool, options: Mapping[str, Any] | None
    ) -> bytes:
        token = c.sealed(capture)
        if token is not None:
            return token
        assert not isinstance(capture, bytes)
        return await self.seal(capture, fit=fit, options=options)

    # -- captures -----------------------------------------------------------------------------
    async def process(
        self,
        capture: CaptureInput,
        *,
        options: Mapping[str, Any] | None = None,
        enable_quality: bool = True,
        fit: bool = False,
    ) -> r.ProcessResponse:
        """``/process``: liveness, quality, ICAO, templates (``options``: CaptureOptions)."""
        token = await self._token(capture, fit, options)
        return await self._send(c.process(token, enable_quality))

    async def secure_liveness(
        self, capture: CaptureInput, *, options: Mapping[str, Any] | None = None, fit: bool = False
    ) -> r.LivenessResponse:
        """``/secure/face/as`` (level: ``options={"asThreshold": …}``)."""
        return await self._send(c.secure_liveness(await self._token(capture, fit, options)))

    async def verify_with_picture_id(
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
        token = await self._token(capture, fit, options)
        return await self._send(c.verify_with_picture_id(token, pic_id, level, template_format))

    # -- images -------------------------------------------------------------------------------
    async def liveness(self, image: ImageInput, threshold: str) -> r.LivenessResponse:
        """``/face/as``: passive liveness of a third-party image."""
        return await self._send(c.liveness(image, threshold))

    async def generate_template(
        self, image: ImageInput, quality_mode: str = "ENROL"
    ) -> r.GenerateResponse:
        """``/face/generateTemplateFromImage``: embedding template (ENROL/VERIFY/DISABLED)."""
        return await self._send(c.generate_template(image, quality_mode))

    async def match_with_selfie(
        self,
        image: ImageInput,
        other: ImageInput,
        level: str,
        *,
        formats: tuple[str | None, str | None] = (None, None),
    ) -> r.MatchResponse:
        """``/matchWithSelfie`` (formats from the magic bytes unless given)."""
        return await self._send(c.match("matchWithSelfie", image, other, level, formats))

    async def match_with_picture_id(
        self,
        selfie: ImageInput,
        id_portrait: ImageInput,
        level: str,
        *,
        formats: tuple[str | None, str | None] = (None, None),
    ) -> r.MatchResponse:
        """``/matchWithPictureId``: a selfie against an ID-card portrait."""
        return await self._send(c.match("matchWithPictureId", selfie, id_portrait, level, formats))

    # -- 1:N ----------------------------------------------------------------------------------
    async def enrol(
        self,
        gallery: str,
        subject_id: str,
        *,
        image: ImageInput | None = None,
        template: str | bytes | None = None,
        duplicate_level: str | None = None,
    ) -> r.EnrolResponse:
        return await self._send(c.enrol(gallery, subject_id, image, template, duplicate_level))

    async def subjects(
        self, gallery: str, *, offset: int = 0, limit: int = 100
    ) -> r.SubjectsResponse:
        return await self._send(c.subjects(gallery, offset, limit))

    async def delete_subject(self, gallery: str, subject_id: str) -> r.DeletedResponse:
        return await self._send(c.delete_subject(gallery, subject_id))

    async def delete_gallery(self, gallery: str) -> r.DeletedResponse:
        return await self._send(c.delete_gallery(gallery))

    async def identify(
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
        token = None if capture is None else await self._token(capture, fit, options)
        return await self._send(c.identify(gallery, level, max_results, image, template, token))
