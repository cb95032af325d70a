"""SQLite files shared by every worker process on the host: the one way we open them.

The embedded stores (envelope nonces, liveness challenges, the gallery, the ledger) each keep
one WAL-mode SQLite file in the data directory that all uvicorn workers open; SQLite's file
lock makes a claim or an insert atomic across processes without a server. Every such file is
created 0600 by us (SQLite would follow the umask; the -wal/-shm files copy the main file's
mode), waits for another process's lock for ``BUSY_TIMEOUT_MS`` instead of failing, and a
connection never crosses a ``fork``.

:func:`connect` opens one connection; :class:`ProcessLocalSqlite` keeps one per process for
the stores that serialise their statements under their own lock. The ledger keeps a small
pool instead (see :mod:`faceproof.ledger.sqlite`) but opens its connections here too.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

BUSY_TIMEOUT_MS = 15_000


def create_private_file(path: Path) -> None:
    """Creates ``path`` (mode 0600) and its missing parents (0700) if absent; raises OSError."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))


def connect(
    path: Path, *, synchronous: str = "NORMAL", pragmas: Sequence[str] = ()
) -> sqlite3.Connection:
    """An autocommit connection in WAL mode with ``synchronous`` and the extra ``pragmas``.

    ``check_same_thread`` is off because callers hand connections between threads (always
    one at a time, under their own lock or pool). Raises ``sqlite3.Error``.
    """
    conn = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,  # autocommit: each statement is its own (durable) commit
        check_same_thread=False,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _set_wal(conn)
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        for pragma in pragmas:
            conn.execute(f"PRAGMA {pragma}")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _set_wal(conn: sqlite3.Connection) -> None:
    # Switching to WAL needs a brief exclusive lock; the busy handler is not always
    # consulted for it, so retry while another process is initialising the same file.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"journal_mode is {mode}, WAL unavailable")


class ProcessLocalSqlite:
    """Opens ``path`` lazily, one connection per process, and applies ``schema`` once each.

    Callers serialise their use of :meth:`connection` with their own lock.
    """

    def __init__(
        self,
        path: Path,
        schema: Sequence[str],
        synchronous: str = "NORMAL",
        pragmas: Sequence[str] = (),
    ) -> None:
        self.path = Path(path)
        self.schema = tuple(schema)
        self.synchronous = synchronous
        self.pragmas = tuple(pragmas)
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def connection(self) -> sqlite3.Connection:
        """This process's connection; opened (file created if absent) on first use."""
        if self._conn is None or self._pid != os.getpid():
            create_private_file(self.path)
            conn = connect(self.path, synchronous=self.synchronous, pragmas=self.pragmas)
            try:
                for statement in self.schema:
                    conn.execute(statement)
            except sqlite3.Error:
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def close(self) -> None:
        """Closes this process's connection; a connection inherited over a fork is dropped."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None
