"""Template encryption: key loading, Python round trip, decryption by the Java sample."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from PIL import Image

from faceproof.crypto.template_encryption import (
    decrypt_template,
    encrypt_template,
    encrypt_templates,
    load_public_key,
)

JAVA_SRC = Path(__file__).resolve().parent / "java" / "DecryptTemplate.java"


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pattern_png() -> bytes:
    """A synthetic, non-biometric PNG standing in for a template."""
    out = io.BytesIO()
    Image.radial_gradient("L").convert("RGB").save(out, format="PNG")
    return out.getvalue()


def _public_text(key: rsa.RSAPrivateKey, fmt: str) -> str:
    pub = key.public_key()
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pkcs1 = serialization.PublicFormat.PKCS1
    pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
    return {
        "spki-pem": lambda: pub.public_bytes(pem, spki).decode(),
        "pkcs1-pem": lambda: pub.public_bytes(pem, pkcs1).decode(),
        "spki-b64": lambda: base64.b64encode(pub.public_bytes(der, spki)).decode(),
        "flattened-pem": lambda: pub.public_bytes(pem, spki).decode().replace("\n", "\\n"),
    }[fmt]()


@pytest.mark.parametrize("fmt", ["spki-pem", "pkcs1-pem", "spki-b64", "flattened-pem"])
def test_load_public_key_formats(private_key: rsa.RSAPrivateKey, fmt: str) -> None:
    loaded = load_public_key(_public_text(private_key, fmt))
    assert loaded.public_numbers() == private_key.public_key().public_numbers()


def test_load_public_key_rejects_other_input(private_key: rsa.RSAPrivateKey) -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    small = (
        rsa.generate_private_key(65537, 1024)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    for bad in ["", "not a key", "QUJD", ec_pem, small, private_pem]:
        with pytest.raises(ValueError) as info:
            load_public_key(bad)
        message = str(info.value)
        assert "\n" not in message and ("RSA" in message or "empty" in message)
        assert "BEGIN" not in message


def test_python_round_trip_and_fresh_keys(private_key: rsa.RSAPrivateKey) -> None:
    data = _pattern_png()
    public = private_key.public_key()
    first, second = encrypt_template(data, public), encrypt_template(data, public)
    assert set(first) == {"data", "key1", "key2"}
    assert len(base64.b64decode(first["data"])) == len(data) + 16  # ciphertext || 128-bit tag
    assert all(first[k] != second[k] for k in first)  # fresh AES key and IV every time
    assert decrypt_template(first, private_key) == data == decrypt_template(second, private_key)

    tampered = bytearray(base64.b64decode(first["data"]))
    tampered[10] ^= 1
    with pytest.raises(InvalidTag):
        decrypt_template({**first, "data": base64.b64encode(tampered).decode()}, private_key)


def test_encrypt_templates_encrypts_raw_bytes(private_key: rsa.RSAPrivateKey) -> None:
    png = _pattern_png()
    out = encrypt_templates({"PNG": base64.b64encode(png).decode()}, private_key.public_key())
    assert list(out) == ["PNG"]
    assert decrypt_template(out["PNG"], private_key) == png  # the image, not its base64 text


def test_java_sample_decrypts(private_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    javac, java = shutil.which("javac"), shutil.which("java")
    if not (javac and java):
        pytest.skip("javac/java not installed (CI installs default-jdk-headless)")
    classes = tmp_path / "classes"
    subprocess.run([javac, "-d", str(classes), str(JAVA_SRC)], check=True, timeout=120)

    key_file = tmp_path / "private.pem"
    key_file.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    originals = {"png": _pattern_png(), "random": os.urandom(70_001), "empty": b""}
    encrypted = encrypt_templates(
        {k: base64.b64encode(v).decode() for k, v in originals.items()},
        load_public_key(_public_text(private_key, "spki-b64")),
    )
    args: list[str] = [str(key_file)]
    for name, fields in encrypted.items():
        for field in ("key1", "key2", "data"):
            (tmp_path / f"{name}.{field}").write_text(fields[field])
        args += [str(tmp_path / f"{name}.{f}") for f in ("key1", "key2", "data", "out")]
    run = subprocess.run(
        [java, "-cp", str(classes), "DecryptTemplate", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    for name, plain in originals.items():
        assert (tmp_path / f"{name}.out").read_bytes() == plain, name
