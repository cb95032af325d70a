"""Single-use capture nonces, shared by every worker process on the host.

An intercepted envelope still opens and passes the integrity check (the tag proves it was
not altered in transit, not who sealed it: docs/envelope.md §0); the only thing that stops it
from being submitted twice within its freshness window is remembering its nonce. Workers are
separate processes, so the memory lives in one SQLite file (WAL mode) and the "first claim
wins" decision is the database's PRIMARY KEY constraint, which is atomic across processes.
A nonce only has to be kept until its envelope would be refused as expired anyway.

Several replicas (hosts) share one Redis instead (``FACEPROOF_REDIS_URL``): the claim is
``SET key NX PX ttl``, which Redis executes atomically, so exactly one replica wins.
:func:`open_nonce_store` picks the backend from the settings.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from faceproof.storage import redis_client
from faceproof.storage.sqlite_file import ProcessLocalSqlite

if TYPE_CHECKING:
    import redis

    from faceproof.config import Settings

PURGE_EVERY_MS = 60_000
#: Redis keeps a nonce this long past its envelope's expiry: replicas' clocks may differ by
#: up to this much and a slower replica must still see the nonce while it accepts the envelope.
CLOCK_SKEW_MS = 60_000


class NonceStore(Protocol):
    """Remembers claimed nonces until they expire."""

    def claim(self, nonce: str, expires_at_ms: int) -> bool:
        """True the first time ``nonce`` is claimed, False if it already was (atomic)."""
        ...

    def purge(self, now_ms: int) -> None:
        """Forget nonces whose expiry is before ``now_ms``."""
        ...

    def health(self) -> str | None:
        """None when :meth:`claim` can answer now, else a short reason (``/face_health``)."""
        ...


class MemoryNonceStore:
    """In-process store: for tests and single-process tools only."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def claim(self, nonce: str, expires_at_ms: int) -> bool:
        with self._lock:
            if nonce in self._seen:
                return False
            self._seen[nonce] = expires_at_ms
            return True

    def purge(self, now_ms: int) -> None:
        with self._lock:
            self._seen = {n: e for n, e in self._seen.items() if e >= now_ms}

    def health(self) -> str | None:
        return None

    def __len__(self) -> int:
        return len(self._seen)


class SqliteNonceStore:
    """Nonces in a SQLite file that all workers on the host open."""

    def __init__(self, path: Path, purge_every_ms: int = PURGE_EVERY_MS) -> None:
        self.path = Path(path)
        self.purge_every_ms = purge_every_ms
        self._lock = threading.Lock()
        self._db = ProcessLocalSqlite(
            self.path,
            (
                "CREATE TABLE IF NOT EXISTS nonces ("
                " nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID",
                "CREATE INDEX IF NOT EXISTS nonces_exp ON nonces(expires_at)",
            ),
        )
        self._last_purge_ms = int(time.time() * 1000)  # wall clock of the last purge
        with self._lock:
            self._connection()

    def _connection(self) -> sqlite3.Connection:
        return self._db.connection()

    def claim(self, nonce: str, expires_at_ms: int) -> bool:
        """Insert-or-fail on the primary key; every ``purge_every_ms`` also drop expired rows."""
        now_ms = int(time.time() * 1000)
        with self._lock:
            conn = self._connection()
            if now_ms - self._last_purge_ms >= self.purge_every_ms:
                self._last_purge_ms = now_ms
                conn.execute("DELETE FROM nonces WHERE expires_at < ?", (now_ms,))
            try:
                conn.execute(
                    "INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)", (nonce, expires_at_ms)
                )
            except sqlite3.IntegrityError:
                return False
            return True

    def purge(self, now_ms: int) -> None:
        with self._lock:
            self._connection().execute("DELETE FROM nonces WHERE expires_at < ?", (now_ms,))
            self._last_purge_ms = int(time.time() * 1000)

    def health(self) -> str | None:
        try:
            with self._lock:
                self._connection().execute("SELECT 1 FROM nonces LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            return f"nonce store unavailable ({type(exc).__name__})"
        return None

    def count(self) -> int:
        """Rows currently held (tests and metrics)."""
        with self._lock:
            row = self._connection().execute("SELECT COUNT(*) FROM nonces").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RedisNonceStore:
    """Nonces in Redis, shared by every replica: ``SET NX`` with an expiry is the claim.

    Keys are ``faceproof:nonce:<sha256(nonce)>`` (fixed length whatever the client sent);
    Redis drops each one on its own ``CLOCK_SKEW_MS`` after the envelope's expiry, so
    :meth:`purge` has nothing to do. A Redis error propagates: the envelope is then neither
    accepted nor refused as a replay (the request fails with a server error), since a store
    that cannot answer must never let a nonce through twice.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    @staticmethod
    def _key(nonce: str) -> str:
        return redis_client.key("nonce", hashlib.sha256(nonce.encode("utf-8")).hexdigest())

    def claim(self, nonce: str, expires_at_ms: int) -> bool:
        ttl_ms = max(expires_at_ms - int(time.time() * 1000), 0) + CLOCK_SKEW_MS
        return bool(self.client.set(self._key(nonce), b"1", nx=True, px=ttl_ms))

    def purge(self, now_ms: int) -> None:
        """Nothing to do: Redis expires the keys."""

    def health(self) -> str | None:
        return redis_client.health(self.client)

    def close(self) -> None:
        """The client is shared by the process's stores (redis_client.close_all)."""


def open_nonce_store(settings: Settings) -> NonceStore:
    """Redis when ``FACEPROOF_REDIS_URL`` is set, else ``<data_dir>/nonces.sqlite3``."""
    if settings.redis_url and settings.redis_url.strip():
        return RedisNonceStore(redis_client.shared_redis(settings.redis_url))
    return SqliteNonceStore(settings.data_dir / "nonces.sqlite3")
