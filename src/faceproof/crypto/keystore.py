"""Deployment RSA key pairs for the capture envelope, with rotation and a decryption grace.

The SDK encrypts each capture for the *current* public key (served by ``/api/v1/pub_key``).
Rotating makes a new current key but keeps the previous private key for ``grace_seconds`` so
captures sealed just before the rotation (or by SDKs that cached the old key) still open.
Keys past their grace are deleted from disk, which bounds how much old traffic a stolen disk
can decrypt.

Layout of the key directory (0700)::

    index.json      {"version": 1, "current": kid, "keys": [{kid, created_at, retired_at, bits}]}
    <kid>.pem       PKCS#8 private key, 0600
    .lock           fcntl lock serialising creation/rotation across processes

Every file is written to a 0600 temp file and ``os.replace``-d into place, so a reader never
sees a partial key and a private key is never readable by others, not even briefly. Several
uvicorn workers share the directory; each process re-reads ``index.json`` when it changes on
disk, so a rotation made by the CLI reaches running workers without a restart.

Several replicas share one deployment key: the directory can then be a read-only mount (a
Kubernetes Secret, a Docker secret, a read-only volume) opened with ``read_only=True``
(``FACEPROOF_KEYS_DIR`` + ``FACEPROOF_KEYS_READ_ONLY``): nothing is created, locked, purged
or written there, and an updated mount (a Secret's files swapped atomically) is picked up
like a rotation. Rotation is then done where the files are made (docs/deployment.md).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

MIN_BITS = 3072
JWE_ALG = "RSA-OAEP-256"
INDEX_NAME = "index.json"
LOCK_NAME = ".lock"
_KID_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url(SHA-256), no padding


@dataclass(frozen=True)
class KeyInfo:
    """Public facts about one stored key (never the key material)."""

    kid: str
    created_at: float
    retired_at: float | None
    bits: int
    current: bool


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (base64url SHA-256): a kid anyone can recompute from the key."""
    return RSAKey.import_key(public_key).thumbprint()


def _write_private(path: Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path`` with mode 0600 from the first byte."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        # mkstemp already creates with 0600; fchmod makes it exact regardless of platform.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class KeyStore:
    """RSA key pairs in one directory; use :meth:`open`, not the constructor."""

    def __init__(
        self, directory: Path, bits: int, grace_seconds: int, read_only: bool = False
    ) -> None:
        self.directory = directory
        self.bits = bits
        self.grace_seconds = grace_seconds
        self.read_only = read_only
        self._index: dict[str, Any] = {"version": 1, "current": None, "keys": []}
        self._index_stamp: tuple[int, int, int] | None = None
        self._private: dict[str, rsa.RSAPrivateKey] = {}

    # ----------------------------------------------------------------- construction
    @classmethod
    def open(
        cls,
        directory: Path,
        bits: int = MIN_BITS,
        grace_seconds: int = 7 * 24 * 3600,
        *,
        create: bool = True,
        now: float | None = None,
        read_only: bool = False,
    ) -> KeyStore:
        """Open (and on first use initialise) the key store in ``directory``.

        With ``create`` (the server's case) a missing key pair is generated; the CLI's
        ``rotate`` passes ``create=False`` so a fresh directory gets one key, not two.
        ``read_only`` opens keys made elsewhere (a mounted secret) and never writes.
        """
        if bits < MIN_BITS:
            raise ValueError(f"RSA keys must be at least {MIN_BITS} bits, got {bits}")
        if grace_seconds < 0:
            raise ValueError("grace_seconds must not be negative")
        directory = Path(directory)
        if read_only:
            return cls._open_read_only(directory, bits, grace_seconds)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        store = cls(directory, bits, grace_seconds)
        with store._locked():
            store._reload()
            gone = store._purge(time.time() if now is None else now)
            if create and store._index["current"] is None:
                store._add_key(now)
                gone.append("")  # force a save
            if gone:
                store._save_index()
            store._sweep()
        return store

    @classmethod
    def _open_read_only(cls, directory: Path, bits: int, grace_seconds: int) -> KeyStore:
        if not (directory / INDEX_NAME).is_file():
            raise FileNotFoundError(
                f"read-only key directory {directory} has no {INDEX_NAME}: make the keys with "
                "`faceproof keys list --data-dir DIR` and mount DIR/keys"
            )
        store = cls(directory, bits, grace_seconds, read_only=True)
        store._reload()
        current = store._index["current"]
        if current is None or current not in store._private:
            raise LookupError(f"read-only key directory {directory} lacks its current key file")
        return store

    # ----------------------------------------------------------------- queries
    @property
    def current_kid(self) -> str:
        """The kid new envelopes must be sealed for; LookupError if the store is empty."""
        self._refresh()
        kid = self._index["current"]
        if kid is None:
            raise LookupError("the key store has no key yet")
        return str(kid)

    def public_key(self, kid: str | None = None) -> rsa.RSAPublicKey:
        """The public half of ``kid`` (default: the current key)."""
        kid = kid or self.current_kid
        key = self._private.get(kid)
        if key is None:
            raise LookupError(f"no private key file for kid {kid}")
        return key.public_key()

    def public_jwk(self) -> dict[str, str]:
        """The current public key as a JWK that WebCrypto imports for RSA-OAEP/SHA-256."""
        kid = self.current_kid
        jwk: dict[str, str] = {
            k: str(v) for k, v in RSAKey.import_key(self.public_key(kid)).as_dict().items()
        }
        jwk.update(kid=kid, alg=JWE_ALG, use="enc")
        return jwk

    def public_spki_b64(self) -> str:
        """The current public key as base64 DER SubjectPublicKeyInfo (for non-JOSE clients)."""
        der = self.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    def private_key_for(self, kid: str, now: float | None = None) -> rsa.RSAPrivateKey | None:
        """The private key for ``kid`` if it is current or retired less than the grace ago."""
        info = self._info(kid)
        if info is None:
            self._refresh(force=True)  # maybe another process rotated since our last look
            info = self._info(kid)
        if info is None or kid not in self._private:
            return None
        if info.retired_at is not None:
            t = time.time() if now is None else now
            if t - info.retired_at >= self.grace_seconds:
                return None
        return self._private[kid]

    def keys(self) -> list[KeyInfo]:
        """All stored keys, oldest first."""
        self._refresh()
        return [self._make_info(e) for e in self._index["keys"]]

    # ----------------------------------------------------------------- changes
    def rotate(self, now: float | None = None) -> str:
        """Make a new current key, retire the previous one at ``now``; returns the new kid."""
        if self.read_only:
            raise PermissionError(f"{self.directory} is read-only: rotate where the keys are made")
        t = time.time() if now is None else now
        with self._locked():
            self._reload()
            old = self._index["current"]
            for entry in self._index["keys"]:
                if entry["kid"] == old:
                    entry["retired_at"] = t
            self._purge(t)
            kid = self._add_key(t)
            self._save_index()
            self._sweep()
        return kid

    # ----------------------------------------------------------------- internals
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive inter-process lock, so two workers starting together make one key."""
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _make_info(self, entry: dict[str, Any]) -> KeyInfo:
        return KeyInfo(
            kid=entry["kid"],
            created_at=float(entry["created_at"]),
            retired_at=None if entry.get("retired_at") is None else float(entry["retired_at"]),
            bits=int(entry["bits"]),
            current=entry["kid"] == self._index["current"],
        )

    def _info(self, kid: str) -> KeyInfo | None:
        self._refresh()
        for entry in self._index["keys"]:
            if entry["kid"] == kid:
                return self._make_info(entry)
        return None

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = (self.directory / INDEX_NAME).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _refresh(self, force: bool = False) -> None:
        """Re-read the index if another process replaced it (one stat per call)."""
        if force or self._stamp() != self._index_stamp:
            self._reload()

    def _reload(self) -> None:
        path = self.directory / INDEX_NAME
        stamp = self._stamp()
        if stamp is None:
            self._index = {"version": 1, "current": None, "keys": []}
        else:
            index = json.loads(path.read_text("utf-8"))
            if index.get("version") != 1 or not isinstance(index.get("keys"), list):
                raise ValueError(f"unsupported key index {path}")
            self._index = index
        self._index_stamp = stamp
        for entry in self._index["keys"]:
            kid = entry["kid"]
            if kid not in self._private:
                key = self._load_pem(kid)
                if key is not None:
                    self._private[kid] = key
        known = {e["kid"] for e in self._index["keys"]}
        for kid in list(self._private):
            if kid not in known:
                del self._private[kid]

    def _load_pem(self, kid: str) -> rsa.RSAPrivateKey | None:
        """The private key of ``kid``; None if its file was just swept (an expired key)."""
        if not _KID_RE.match(kid):
            raise ValueError("malformed kid in key index")
        try:
            data = (self.directory / f"{kid}.pem").read_bytes()
        except FileNotFoundError:
            return None
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, rsa.RSAPrivateKey) or thumbprint(key.public_key()) != kid:
            raise ValueError(f"key file for {kid} does not match its kid")
        return key

    def _add_key(self, now: float | None) -> str:
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.bits)
        kid = thumbprint(key.public_key())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(self.directory / f"{kid}.pem", pem)
        self._private[kid] = key
        entry = {
            "kid": kid,
            "created_at": time.time() if now is None else now,
            "retired_at": None,
            "bits": self.bits,
        }
        self._index["keys"].append(entry)
        self._index["current"] = kid
        return kid

    def _purge(self, now: float) -> list[str]:
        """Drop keys past their grace from the in-memory index; returns their kids.

        Their files go in :meth:`_sweep`, after the new index is saved, so a process reading
        the old index never finds a key it lists missing from disk.
        """
        keep, gone = [], []
        for entry in self._index["keys"]:
            retired = entry.get("retired_at")
            if retired is not None and now - float(retired) >= self.grace_seconds:
                gone.append(entry["kid"])
            else:
                keep.append(entry)
        self._index["keys"] = keep
        for kid in gone:
            self._private.pop(kid, None)
        return gone

    def _sweep(self) -> None:
        """Delete key files the index no longer lists and temp files of crashed writes.

        Runs under the lock, so no other process is between writing a key and its index.
        """
        known = {e["kid"] for e in self._index["keys"]}
        for path in self.directory.iterdir():
            orphan = path.suffix == ".pem" and path.stem not in known
            if orphan or path.name.startswith(".tmp-"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def _save_index(self) -> None:
        body = json.dumps(self._index, indent=2, sort_keys=True).encode("utf-8")
        _write_private(self.directory / INDEX_NAME, body)
        self._index_stamp = self._stamp()

    def describe(self) -> list[dict[str, Any]]:
        """``keys()`` as plain dicts (CLI / admin output)."""
        return [asdict(k) for k in self.keys()]
