"""One SQLite file shared by every worker process on the host, one connection per process.

Single-use stores (envelope nonces, liveness challenges) need an atomic claim that all
uvicorn workers see; a WAL-mode SQLite file gives that without a server. A connection must
never cross a fork, so each process opens its own on first use.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path


class ProcessLocalSqlite:
    """Opens ``path`` (created 0600) lazily per process and applies ``schema`` once."""

    def __init__(self, path: Path, schema: Sequence[str], synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.schema = tuple(schema)
        self.synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def connection(self) -> sqlite3.Connection:
        """This process's connection (callers serialise use with their own lock)."""
        if self._conn is None or self._pid != os.getpid():
            if not self.path.exists():
                # Created 0600 up front: nothing but this server needs to read it.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            for statement in self.schema:
                conn.execute(statement)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def close(self) -> None:
        """Closes this process's connection; a connection inherited over a fork is dropped."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None
