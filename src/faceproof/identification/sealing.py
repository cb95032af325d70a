"""Templates at rest: AES-256-GCM under a deployment key, bound to where the row lives.

Each stored template is ``nonce (12) || ciphertext || tag (16)`` of the FACEPROOF_T1 bytes,
with associated data ``faceproof-gallery-v1 \\0 gallery \\0 subject \\0 template id``: a row
copied to another gallery, subject or id, or altered in any byte, fails to open. The key id
is stored per row, so after a rotation old rows still open under their own key while new
rows are sealed under the current one (``faceproof keys rotate-gallery``; ``reseal`` moves
old rows to the current key so an old key can be dropped).

Key file ``<data dir>/keys/gallery-keys.json`` (0600, directory 0700), beside the envelope
keys: ``{"version": 1, "current": kid, "keys": {kid: {"key": base64, "created_at": t}}}``.
Several replicas share it as a mounted secret. Nothing here ever logs a key or a template.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from faceproof.config import ConfigError
from faceproof.crypto.keystore import LOCK_NAME, _write_private

KEY_FILE = "gallery-keys.json"
NONCE_BYTES = 12
AAD_PREFIX = b"faceproof-gallery-v1"


class SealError(Exception):
    """A sealed template did not open: wrong or unknown key, or the row was altered/moved."""


def aad(gallery: str, subject: str, template_id: str) -> bytes:
    return b"\0".join((AAD_PREFIX, *(s.encode("utf-8") for s in (gallery, subject, template_id))))


class GalleryKeyring:
    """The deployment's template keys; the current one seals, any listed one opens."""

    def __init__(self, keys: dict[str, bytes], current: str, path: Path | None = None) -> None:
        if current not in keys:
            raise ValueError("current key id is not in the keyring")
        self._keys = {kid: AESGCM(k) for kid, k in keys.items()}
        self.current = current
        self.path = path

    @property
    def kids(self) -> list[str]:
        return list(self._keys)

    # -- file ------------------------------------------------------------------------------
    @classmethod
    def open(
        cls, directory: Path, *, create: bool = True, read_only: bool = False
    ) -> GalleryKeyring:
        """Load (and, with ``create``, initialise) ``directory/gallery-keys.json``.

        ``read_only`` (a mounted secret shared by replicas): read the file, never create,
        lock or write anything there."""
        path = directory / KEY_FILE
        if read_only:
            doc = _read(path)
            if doc is None:
                raise ConfigError(
                    f"{path}: no gallery key file in the read-only key directory; make it "
                    "with `faceproof gallery rotate-key` (FACEPROOF_DATA_DIR=DIR) and mount "
                    "DIR/keys"
                )
            return cls._from_doc(doc, path)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _locked(directory):
            doc = _read(path)
            if doc is None:
                if not create:
                    raise ConfigError(f"{path}: no gallery key file")
                doc = _new_doc()
                _add_key(doc)
                _write_private(path, _dump(doc))
        return cls._from_doc(doc, path)

    @classmethod
    def _from_doc(cls, doc: dict[str, Any], path: Path | None) -> GalleryKeyring:
        try:
            keys = {
                kid: base64.b64decode(e["key"], validate=True) for kid, e in doc["keys"].items()
            }
            if any(len(k) != 32 for k in keys.values()):
                raise ValueError("keys must be 256 bits")
            return cls(keys, str(doc["current"]), path)
        except (KeyError, TypeError, ValueError) as exc:
            where = path or "gallery keyring"
            raise ConfigError(f"{where}: unusable gallery key file ({exc})") from None

    @staticmethod
    def rotate(directory: Path) -> str:
        """Add a new current key (old ones stay, so old rows still open); returns its id."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / KEY_FILE
        with _locked(directory):
            doc = _read(path) or _new_doc()
            kid = _add_key(doc)
            _write_private(path, _dump(doc))
        return kid

    @staticmethod
    def drop(directory: Path, kid: str) -> None:
        """Remove a retired key (after ``reseal``); the current key cannot be dropped."""
        path = directory / KEY_FILE
        with _locked(directory):
            doc = _read(path)
            if doc is None or kid not in doc["keys"]:
                raise ConfigError(f"no gallery key {kid}")
            if doc["current"] == kid:
                raise ConfigError("the current gallery key cannot be dropped; rotate first")
            del doc["keys"][kid]
            _write_private(path, _dump(doc))

    def reload(self) -> GalleryKeyring:
        """A fresh keyring from the same file (another process may have rotated)."""
        if self.path is None:
            return self
        doc = _read(self.path)
        return self if doc is None else self._from_doc(doc, self.path)

    # -- sealing ---------------------------------------------------------------------------
    def seal(self, plaintext: bytes, gallery: str, subject: str, template_id: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        cipher = self._keys[self.current]
        return nonce + cipher.encrypt(nonce, plaintext, aad(gallery, subject, template_id))

    def open_sealed(
        self, kid: str, sealed: bytes, gallery: str, subject: str, template_id: str
    ) -> bytes:
        cipher = self._keys.get(kid)
        if cipher is None and self.path is not None:
            fresh = self.reload()  # rotated by another process since we loaded
            self._keys, self.current = fresh._keys, fresh.current
            cipher = self._keys.get(kid)
        if cipher is None:
            raise SealError("unknown template key")
        if len(sealed) < NONCE_BYTES + 16:
            raise SealError("sealed template too short")
        try:
            return cipher.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad(gallery, subject, template_id)
            )
        except InvalidTag:
            raise SealError("sealed template does not authenticate") from None


def _new_doc() -> dict[str, Any]:
    return {"version": 1, "current": None, "keys": {}}


def _add_key(doc: dict[str, Any]) -> str:
    kid = secrets.token_hex(8)
    doc["keys"][kid] = {
        "key": base64.b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii"),
        "created_at": time.time(),
    }
    doc["current"] = kid
    return kid


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2, sort_keys=True).encode("utf-8")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_mode & 0o077:
        raise ConfigError(f"{path}: gallery key file must be private (mode 0600)")
    doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
    if doc.get("version") != 1 or not isinstance(doc.get("keys"), dict):
        raise ConfigError(f"{path}: unsupported gallery key file")
    return doc


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    # The envelope key store's own lock: its sweep removes stray temp files in this
    # directory, so writing ours under the same lock keeps it from removing one mid-write.
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
