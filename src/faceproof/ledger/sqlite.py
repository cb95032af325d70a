"""SQLite ledger: one file shared by every uvicorn worker process on the host.

Durability: WAL journal with ``synchronous=FULL`` fsyncs the WAL on every commit, so a row
whose ``record`` returned survives a process kill or a power loss. Concurrency: SQLite
serialises writers with a file lock; ``busy_timeout`` makes a second process wait for it
instead of failing.

Connections (opened by :mod:`faceproof.storage.sqlite_file`): a small per-process pool. A
request borrows a connection for one statement and gives it back, so the thread pool's
threads (which come and go with load) never own one: the number of open connections (three
descriptors each in WAL mode: database, -wal, -shm) stays at most ``POOL_IDLE`` idle plus
those in use, whatever the number of threads ever seen. A connection is never shared by two
threads at once, and never crosses a ``fork``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from faceproof.config import ConfigError
from faceproof.ledger import migrations
from faceproof.ledger.base import (
    COLUMNS,
    Transaction,
    select_query,
    transaction_from_row,
    transaction_values,
)
from faceproof.ledger.migrations import SCHEMA_VERSION
from faceproof.storage.sqlite_file import BUSY_TIMEOUT_MS, connect, create_private_file

POOL_IDLE = 4  # idle connections kept per process; more are closed when given back
MIGRATION_WAIT_MS = 600_000

_INSERT = (
    f"INSERT INTO transactions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
)


class SqliteLedger:
    """Append-only ledger in one SQLite file (see module docstring for the guarantees)."""

    def __init__(self, path: Path | str, *, must_exist: bool = False) -> None:
        self.path = Path(path)
        if must_exist and not self.path.is_file():
            raise ConfigError(f"{self.path}: no ledger file here (nothing recorded yet?)")
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._closed = False
        self._create_file()
        self._inode = self._stat_inode()
        with self._borrow() as conn:
            self._migrate(conn)

    # -- connections ---------------------------------------------------------------------

    def _create_file(self) -> None:
        try:
            create_private_file(self.path)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot create ledger ({exc.strerror})") from None

    def _connect(self) -> sqlite3.Connection:
        try:
            return connect(self.path, synchronous="FULL")
        except sqlite3.Error as exc:
            raise ConfigError(f"{self.path}: cannot open ledger ({exc})") from None

    def _take(self) -> sqlite3.Connection:
        if self._closed:
            raise RuntimeError("ledger is closed")
        with self._lock:
            if self._pid != os.getpid():
                # Inherited through fork(): never reused, nor closed (the parent's files).
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _give_back(self, conn: sqlite3.Connection, *, broken: bool = False) -> None:
        with self._lock:
            keep = (
                not broken
                and not self._closed
                and self._pid == os.getpid()
                and len(self._idle) < POOL_IDLE
            )
            if keep:
                self._idle.append(conn)
        if not keep:
            conn.close()

    @contextmanager
    def _borrow(self) -> Iterator[sqlite3.Connection]:
        """A connection for the caller's thread alone, given back to the pool afterwards;
        one that raised a SQLite error is closed instead (it may be in a bad state)."""
        conn = self._take()
        try:
            yield conn
        except sqlite3.Error:
            self._give_back(conn, broken=True)
            raise
        except BaseException:
            self._give_back(conn)
            raise
        self._give_back(conn)

    def _stat_inode(self) -> int | None:
        try:
            return os.stat(self.path).st_ino
        except OSError:
            return None

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Applies ledger/migrations.py under the write lock (concurrent first start-ups).

        A process waiting for another's migration waits as long as it takes (an index on a
        large ledger can outlast the usual busy timeout), then finds nothing left to do."""
        try:
            conn.execute(f"PRAGMA busy_timeout = {MIGRATION_WAIT_MS}")
            conn.execute("BEGIN IMMEDIATE")
            try:
                migrations.apply(conn.cursor(), "sqlite", str(self.path))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            raise ConfigError(f"{self.path}: cannot initialise ledger ({exc})") from None

    # -- Ledger interface ----------------------------------------------------------------

    def record(self, tx: Transaction) -> None:
        with self._borrow() as conn:
            conn.execute(_INSERT, transaction_values(tx))

    def query(
        self, since_ms: int | None, until_ms: int | None, action: str | None = None
    ) -> Iterator[Transaction]:
        sql, args = select_query("transactions", "?", since_ms, until_ms, action)
        return self._iter(sql, args)

    def _iter(self, sql: str, args: list[object]) -> Iterator[Transaction]:
        # A private connection: the generator may be consumed lazily, even on another thread.
        if self._closed:
            raise RuntimeError("ledger is closed")
        conn = self._connect()
        try:
            cur = conn.execute(sql, args)
            while batch := cur.fetchmany(500):
                for row in batch:
                    yield transaction_from_row(row)
        finally:
            conn.close()

    def health(self) -> str | None:
        """None when the ledger can record; otherwise why not, in a few words (no path).

        Cheap enough for every health probe: one indexed read on a pooled connection and a
        stat of the file (a ledger file deleted or replaced under a running server would
        otherwise swallow rows into an unlinked inode).
        """
        if self._closed:
            return "ledger closed"
        inode = self._stat_inode()
        if inode is None:
            return "ledger file missing"
        if inode != self._inode:
            return "ledger file replaced"
        try:
            with self._borrow() as conn:
                row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        except (sqlite3.Error, ConfigError) as exc:
            return f"ledger unavailable ({type(exc).__name__})"
        if row is None or row[0] is None or int(row[0]) < SCHEMA_VERSION:
            # Newer is fine: migrations only add, and a newer replica may have just run them.
            return "ledger schema changed"
        return None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            mine = self._pid == os.getpid()  # never close a parent's connection from a child
        if mine:
            for conn in idle:
                conn.close()

    def __enter__(self) -> SqliteLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
