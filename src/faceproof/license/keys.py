"""Operator Ed25519 keys: generation, PEM/base64 forms, loading from settings or files."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)


class LicenseError(ValueError):
    """A license token or key problem; ``load_deployment`` prefixes the file name."""


def generate_keypair() -> tuple[bytes, bytes]:
    """A new operator key pair as (PKCS#8 private PEM, SubjectPublicKeyInfo PEM)."""
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private_pem, public_pem(key.public_key())


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_b64(key: Ed25519PublicKey) -> str:
    """The 32 raw bytes in base64: one line, easy to put in ``.env``."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise LicenseError(f"not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LicenseError("the private key is not an Ed25519 key")
    return key


def load_public_key(value: str) -> Ed25519PublicKey:
    """``FACEPROOF_LICENSE_PUBLIC_KEY``: PEM text, a PEM/DER file, or base64 raw/DER."""
    text = value.strip().replace("\\n", "\n")
    bad = LicenseError(
        "FACEPROOF_LICENSE_PUBLIC_KEY is not an Ed25519 public key "
        "(expected PEM, a key file, or base64 of the raw 32 bytes or DER)"
    )
    data: bytes
    if "-----BEGIN" in text:
        data = text.encode()
    elif "\n" not in text and len(text) < 4096 and Path(text).is_file():
        try:
            data = Path(text).read_bytes()
        except OSError:
            raise bad from None
    else:
        try:
            data = base64.b64decode(pad_base64(text), validate=True)
        except (binascii.Error, ValueError):
            raise bad from None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key: object = serialization.load_pem_public_key(data)
        elif len(data) == 32:
            key = Ed25519PublicKey.from_public_bytes(data)
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, TypeError):
        raise bad from None
    if not isinstance(key, Ed25519PublicKey):
        raise bad
    return key


def pad_base64(text: str) -> str:
    """Restore the ``=`` padding that copy/paste and base64url forms drop."""
    return text + "=" * (-len(text) % 4)
