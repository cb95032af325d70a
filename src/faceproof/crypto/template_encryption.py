"""Template encryption for integrators, byte-compatible with the reference's Java sample.

When ``TEMPLATE_ENCRYPTION_ENABLED`` is true, each generated template is returned as
``{"data", "key1", "key2"}`` instead of in clear (reference: "Encrypting Generated Templates"):

* ``data`` — base64 of AES-256-GCM(ciphertext || 128-bit tag), a fresh key and 12-byte IV
  per template; that is exactly what ``Cipher("AES/GCM/NoPadding").doFinal`` consumes;
* ``key1`` — base64 of RSA-OAEP(SHA-1, MGF1-SHA-1) of the AES key;
* ``key2`` — base64 of RSA-OAEP(SHA-1, MGF1-SHA-1) of the IV,

the padding Java calls ``RSA/ECB/OAEPWithSHA1AndMGF1Padding``. SHA-1 is what the sample
decrypts with; inside OAEP it is not exposed to SHA-1's collision weakness.

What is encrypted is the template's *raw bytes* (the PNG/JPEG/ISO record), not its base64
text: the Java sample returns ``byte[] data`` that integrators write out as the image file.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MIN_BITS = 2048  # the reference asks integrators for an RSA 2048-bit key
AES_KEY_BYTES = 32
IV_BYTES = 12


def _oaep_sha1() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """The integrator's RSA public key from PEM (SPKI or PKCS#1) or base64 DER.

    Also accepts PEM whose newlines were flattened to ``\\n`` in a ``.env`` line. Raises
    ``ValueError`` with a one-line message that never echoes the value (the caller prefixes
    the setting's name).
    """
    text = text.strip().strip("\"'").replace("\\n", "\n")
    if not text:
        raise ValueError("the key is empty")
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            der = base64.b64decode("".join(text.split()), validate=True)
            key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("not an RSA public key (expected PEM or base64 DER)") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key (expected PEM or base64 DER)")
    if key.key_size < MIN_BITS:
        raise ValueError(f"the RSA key must be at least {MIN_BITS} bits, got {key.key_size}")
    return key


def encrypt_template(data: bytes, key: rsa.RSAPublicKey) -> dict[str, str]:
    """Encrypt one template's bytes under a fresh AES key and IV (see module doc)."""
    aes_key = AESGCM.generate_key(bit_length=AES_KEY_BYTES * 8)
    iv = os.urandom(IV_BYTES)
    sealed = AESGCM(aes_key).encrypt(iv, data, None)  # ciphertext || 16-byte tag
    return {
        "data": base64.b64encode(sealed).decode("ascii"),
        "key1": base64.b64encode(key.encrypt(aes_key, _oaep_sha1())).decode("ascii"),
        "key2": base64.b64encode(key.encrypt(iv, _oaep_sha1())).decode("ascii"),
    }


def encrypt_templates(
    templates: Mapping[str, str], key: rsa.RSAPublicKey
) -> dict[str, dict[str, str]]:
    """``{format: base64 template}`` → the response's ``encrypted_templates`` object."""
    return {
        name: encrypt_template(base64.b64decode(value, validate=True), key)
        for name, value in templates.items()
    }


def decrypt_template(encrypted: Mapping[str, str], private_key: rsa.RSAPrivateKey) -> bytes:
    """Inverse of :func:`encrypt_template` (tests and integrator tooling)."""
    aes_key = private_key.decrypt(base64.b64decode(encrypted["key1"]), _oaep_sha1())
    iv = private_key.decrypt(base64.b64decode(encrypted["key2"]), _oaep_sha1())
    return AESGCM(aes_key).decrypt(iv, base64.b64decode(encrypted["data"]), None)
