"""Single-use capture nonces, shared by every worker process on the host.

An intercepted envelope still opens and passes the integrity check (the tag proves it was
not altered in transit, not who sealed it: docs/envelope.md §0); the only thing that stops it
from being submitted twice within its freshness window is remembering its nonce. Workers are
separate processes, so the memory lives in one SQLite file (WAL mode) and the "first claim
wins" decision is the database's PRIMARY KEY constraint, which is atomic across processes.
A nonce only has to be kept until its envelope would be refused as expired anyway.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

from faceproof.storage.sqlite_file import ProcessLocalSqlite

PURGE_EVERY_MS = 60_000


class NonceStore(Protocol):
    """Remembers claimed nonces until they expire."""

    def claim(self, nonce: str, expires_at_ms: int) -> bool:
        """True the first time ``nonce`` is claimed, False if it already was (atomic)."""
        ...

    def purge(self, now_ms: int) -> None:
        """Forget nonces whose expiry is before ``now_ms``."""
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

    def count(self) -> int:
        """Rows currently held (tests and metrics)."""
        with self._lock:
            row = self._connection().execute("SELECT COUNT(*) FROM nonces").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
