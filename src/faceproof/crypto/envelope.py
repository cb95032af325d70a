"""The capture envelope: what the SDK sends, sealed for the server's current RSA key.

Wire format (see docs/envelope.md): a JWE compact serialization (RFC 7516) with
``alg=RSA-OAEP-256``, ``enc=A256CBC-HS512`` (the reference's "AES-256 CBC/RSA-OAEP"), the
key's RFC 7638 thumbprint as ``kid`` and ``cty`` naming the payload type. The payload is UTF-8
JSON matching :class:`CapturePayload`.

The server answers every way an envelope can be wrong — unparsable, tampered, sealed for an
unknown or expired key, an algorithm other than ours, a payload that fails validation, a
replayed nonce — with the same ``601 Decryption failed``: telling a caller *which* check failed
would hand an attacker an oracle against other people's envelopes (e.g. by distinguishing
RSA-OAEP unwrap failures). Only staleness gets its own code (604), as the reference
documents; it is checked after decryption so that an expired envelope burns no nonce.

What the envelope gives, and what it does not: the key is public (``/api/v1/pub_key``), so
anyone can seal any frames, device label, timestamp or challenge fields. Sealing gives
*confidentiality* (only this server reads the frames), *integrity in transit* (whoever relays
the envelope, e.g. the integrator's backend, cannot alter it undetected) and, with the nonce
store, *single use*. The AES-CBC-HMAC tag is keyed by a content key the sender chose: it
proves the ciphertext is intact, not who made it. An envelope is **no proof of origin** — not
that our SDK built it, nor that its frames came from a camera. What defends against injected
or forged captures is the challenge (docs/liveness.md: server-issued, single-use, short-lived,
asking for what a recording cannot know in advance) and the liveness checks on the frames.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from joserfc import jwe
from joserfc.jwk import GuestProtocol, RSAKey
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from faceproof import __version__
from faceproof.crypto.keystore import KeyStore
from faceproof.crypto.replay import NonceStore
from faceproof.errors import ApiError, Err

log = logging.getLogger(__name__)

JWE_ALG = "RSA-OAEP-256"
JWE_ENC = "A256CBC-HS512"
CTY = "application/vnd.faceproof.capture+json"
MAX_TOKEN_BYTES = 20 * 1024 * 1024
MAX_FRAMES = 16
DEFAULT_MAX_FRAME_BYTES = 15 * 1024 * 1024  # Settings.max_upload_bytes' default
NONCE_PATTERN = r"^[A-Za-z0-9_-]{22,128}$"  # >= 16 random bytes, base64url without padding
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_HEADER_MEMBERS = frozenset({"alg", "enc", "kid", "cty", "typ"})
M = TypeVar("M", bound=BaseModel)


class _Strict(BaseModel):
    # Strict types and no unknown fields: the validation layer the reference promises.
    model_config = ConfigDict(extra="forbid", strict=True)


class Frame(_Strict):
    """One captured image. ``jpeg`` is never shown in reprs: it is biometric data."""

    jpeg: str = Field(repr=False, description="standard base64 (with padding) of a JPEG file")
    t: int = Field(default=0, ge=0, le=600_000, description="ms since the first frame")
    role: str = Field(default="main", pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    _data: bytes = PrivateAttr(b"")

    @model_validator(mode="after")
    def _decode(self, info: ValidationInfo) -> Frame:
        limit = DEFAULT_MAX_FRAME_BYTES
        if info.context and "max_frame_bytes" in info.context:
            limit = int(info.context["max_frame_bytes"])
        if len(self.jpeg) > 4 * ((limit + 2) // 3):
            raise ValueError("frame too large")
        try:
            data = base64.b64decode(self.jpeg, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("frame is not valid base64") from None
        if not data or len(data) > limit:
            raise ValueError("frame empty or too large")
        self._data = data
        return self

    @property
    def data(self) -> bytes:
        """The decoded image bytes."""
        return self._data


class CaptureOptions(_Strict):
    """Per-capture processing options, named as in the reference SDK."""

    enableAs: bool = True
    asThreshold: str | None = Field(default=None, max_length=64)
    requiredTemplates: list[str] = Field(default_factory=list, max_length=32)
    enableICAOChecks: bool = False
    enableBackgroundRemoval: bool = False
    backgroundColor: str | None = Field(default=None, max_length=32)
    returnQualityMetadata: bool = True
    enableEyesStatusDetector: bool = True


TrackValue = float | int | bool | Annotated[str, Field(max_length=128)] | None
DEVICE_FLAG_PATTERN = r"^[a-z][a-z0-9_]{0,47}$"


class DeviceInfo(_Strict):
    """What the SDK knows about the capturing device (input to insecure-camera checks).

    ``track``: the camera track's ``MediaStreamTrack.getSettings()`` (deviceId left out);
    ``flags``: what the SDK found suspicious (virtual camera label, synthetic track,
    webdriver …; docs/liveness.md lists them). Both protocol v2, optional.
    """

    type: Literal["mobile", "desktop", "unknown"] = "unknown"
    cameraLabel: str | None = Field(default=None, max_length=256)
    userAgent: str | None = Field(default=None, max_length=1024)
    platform: str | None = Field(default=None, max_length=128)
    track: dict[Annotated[str, Field(max_length=64)], TrackValue] = Field(
        default_factory=dict, max_length=16
    )
    flags: list[Annotated[str, Field(pattern=DEVICE_FLAG_PATTERN)]] = Field(
        default_factory=list, max_length=16
    )


QualityValue = float | int | bool | str | None


class CapturePayload(_Strict):
    """The decrypted envelope body."""

    v: Literal[1] = 1
    nonce: str = Field(pattern=NONCE_PATTERN)
    ts: int = Field(ge=0, description="epoch ms by the SDK's server-corrected clock")
    # Empty is valid here: the endpoints answer 507 (no usable frame), not 601.
    frames: list[Frame] = Field(max_length=MAX_FRAMES)
    options: CaptureOptions = Field(default_factory=lambda: CaptureOptions())
    device: DeviceInfo = Field(default_factory=lambda: DeviceInfo())
    quality: dict[str, QualityValue] = Field(default_factory=dict, max_length=64)
    challenge: dict[str, Any] | None = None
    sdkVersion: str | None = Field(default=None, max_length=64)


def new_nonce() -> str:
    """16 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode("ascii")


def _registry(max_token_bytes: int) -> jwe.JWERegistry:
    """Our one algorithm pair only (no RSA1_5, no "dir", no "zip"), sized for image payloads."""
    registry = jwe.JWERegistry(algorithms=[JWE_ALG, JWE_ENC])
    registry.max_ciphertext_length = max_token_bytes
    return registry


def seal(payload: CapturePayload, public_jwk: Mapping[str, Any]) -> bytes:
    """Encrypt ``payload`` for ``public_jwk`` as a JWE compact serialization (ASCII bytes)."""
    key = RSAKey.import_key(dict(public_jwk))
    if key.is_private:
        key = RSAKey.import_key(key.as_dict(private=False))
    kid = str(public_jwk.get("kid") or key.thumbprint())
    header = {"alg": JWE_ALG, "enc": JWE_ENC, "kid": kid, "cty": CTY}
    plaintext = payload.model_dump_json().encode("utf-8")
    token = jwe.encrypt_compact(header, plaintext, key, registry=_registry(MAX_TOKEN_BYTES))
    return token.encode("ascii")


def to_jpeg(image: bytes | Path) -> bytes:
    """JPEG bytes of an image file: JPEG passes unchanged, PNG is re-encoded (quality 95)."""
    data = Path(image).read_bytes() if isinstance(image, Path) else bytes(image)
    if data.startswith(_JPEG_MAGIC):
        return data
    if data.startswith(_PNG_MAGIC):
        with Image.open(io.BytesIO(data)) as im:
            out = io.BytesIO()  # in memory only: biometric images never touch the disk
            im.convert("RGB").save(out, format="JPEG", quality=95)
        return out.getvalue()
    raise ValueError("unsupported image format (expected JPEG or PNG)")


def build_envelope(
    images: Sequence[bytes | Path],
    public_jwk: Mapping[str, Any],
    *,
    options: CaptureOptions | Mapping[str, Any] | None = None,
    device: DeviceInfo | Mapping[str, Any] | None = None,
    ts_ms: int | None = None,
    nonce: str | None = None,
    quality: Mapping[str, QualityValue] | None = None,
    challenge: Mapping[str, Any] | None = None,
    sdk_version: str | None = None,
    frame_interval_ms: int = 100,
) -> bytes:
    """Seal image files as an SDK would: the helper for integrators, tests and the CLI."""
    if not images:
        raise ValueError("at least one image is needed")
    frames = [
        Frame(jpeg=base64.b64encode(to_jpeg(img)).decode("ascii"), t=i * frame_interval_ms)
        for i, img in enumerate(images)
    ]
    if sdk_version is None:
        sdk_version = f"faceproof-python/{__version__}"
    payload = CapturePayload(
        nonce=nonce or new_nonce(),
        ts=int(time.time() * 1000) if ts_ms is None else ts_ms,
        frames=frames,
        options=_as_model(CaptureOptions, options),
        device=_as_model(DeviceInfo, device),
        quality=dict(quality or {}),
        challenge=None if challenge is None else dict(challenge),
        sdkVersion=sdk_version,
    )
    return seal(payload, public_jwk)


def _as_model(cls: type[M], value: M | Mapping[str, Any] | None) -> M:
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    return cls.model_validate(dict(value))


class _Rejected(Exception):
    """Internal: the envelope must be refused (the reason is never shown to the caller)."""


class EnvelopeOpener:
    """Decrypts and validates envelopes, enforcing freshness and single use.

    Validation covers the ciphertext's integrity (the tag), not its sender: anyone with the
    public key can make an envelope that passes (see the module docstring). Order:
    decrypt+validate → freshness (604) → claim the nonce (601 on replay). An expired envelope
    therefore burns no nonce. Anyone can thus reach the clock check with an envelope of their
    own; it tells them no more than ``/api/v1/time`` publishes.
    """

    def __init__(
        self,
        keystore: KeyStore,
        nonces: NonceStore,
        expiry_seconds: int = 120,
        *,
        max_token_bytes: int = MAX_TOKEN_BYTES,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        self.keystore = keystore
        self.nonces = nonces
        self.expiry_ms = expiry_seconds * 1000
        self.max_token_bytes = max_token_bytes
        self.max_frame_bytes = max_frame_bytes
        self._registry = _registry(max_token_bytes)
        self._jose_keys: dict[str, RSAKey] = {}

    def open(self, token: bytes | str, now_ms: int | None = None) -> CapturePayload:
        """The validated payload of ``token``; ApiError 601 or 604 otherwise."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        payload = self._decrypt(token, now)
        # Raised outside any ``except`` block so no exception context travels with it.
        if payload is None:
            raise ApiError(Err.DECRYPTION_FAILED)
        if abs(now - payload.ts) > self.expiry_ms:
            raise ApiError(Err.REQUEST_EXPIRED)
        # Kept a second beyond the last instant the envelope could still be fresh.
        if not self.nonces.claim(payload.nonce, payload.ts + self.expiry_ms + 1000):
            log.info("envelope refused: replayed nonce")
            raise ApiError(Err.DECRYPTION_FAILED)
        return payload

    def _decrypt(self, token: bytes | str, now_ms: int) -> CapturePayload | None:
        try:
            raw = token.encode("ascii") if isinstance(token, str) else bytes(token)
            if len(raw) > self.max_token_bytes:
                raise _Rejected("too large")
            raw = raw.strip()

            def resolve(guest: GuestProtocol) -> RSAKey:
                # Called by joserfc with the parsed header, before any RSA/AES work.
                header = guest.headers()
                if not set(header) <= _HEADER_MEMBERS or header.get("cty") != CTY:
                    raise _Rejected("header members")
                kid = header.get("kid")
                if not isinstance(kid, str):
                    raise _Rejected("no kid")
                return self._key_for(kid, now_ms / 1000)

            obj = jwe.decrypt_compact(raw, resolve, registry=self._registry)
            if obj.plaintext is None:
                raise _Rejected("empty")
            return CapturePayload.model_validate_json(
                obj.plaintext, context={"max_frame_bytes": self.max_frame_bytes}
            )
        except Exception as exc:
            # Operators get the failing check's class name, never token or payload content.
            reason = str(exc) if isinstance(exc, _Rejected) else type(exc).__name__
            log.info("envelope refused: %s", reason)
            return None

    def _key_for(self, kid: str, now_s: float) -> RSAKey:
        private = self.keystore.private_key_for(kid, now_s)
        if private is None:
            self._jose_keys.pop(kid, None)
            raise _Rejected("unknown or expired kid")
        key = self._jose_keys.get(kid)
        if key is None:
            key = self._jose_keys[kid] = RSAKey.import_key(private)
        return key
