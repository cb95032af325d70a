"""PostgreSQL for state shared by replicas (``FACEPROOF_DATABASE_URL=postgresql://…``).

One place decides what a database URL means (:func:`postgres_url`) and opens connections
(:class:`ProcessLocalPg`): the ledger and the identification gallery both use it. URLs may
hold a password, so no error here ever echoes one; :func:`describe` gives the printable part.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

from faceproof.config import ConfigError
from faceproof.storage.outage import OUTAGES, StoreUnavailable, error_name

__all__ = ["ProcessLocalPg", "connect", "describe", "error_name", "postgres_url"]

SCHEMES = frozenset({"postgresql", "postgres"})
CONNECT_TIMEOUT_S = 10
#: Statements that take longer fail instead of holding a worker thread (DDL at start-up and
#: the advisory lock of a concurrent migration have their own, longer budget).
STATEMENT_TIMEOUT_MS = 30_000


def scheme_of(url: str | None) -> str:
    """The lower-case scheme of ``url``; "" when unset or blank."""
    if url is None or not url.strip():
        return ""
    return urlsplit(url.strip()).scheme.lower()


def is_postgres_url(url: str | None) -> bool:
    return scheme_of(url) in SCHEMES


def postgres_url(url: str | None, setting: str, purpose: str) -> str | None:
    """``url`` stripped if it names PostgreSQL, None if unset; ConfigError for other schemes.

    ``setting`` and ``purpose`` only word the error (``FACEPROOF_DATABASE_URL``, "galleries").
    """
    scheme = scheme_of(url)
    if not scheme:
        return None
    if scheme not in SCHEMES:
        raise ConfigError(
            f"{setting}: unsupported scheme {scheme!r} for {purpose}; expected "
            "postgresql://user@host:5432/db (or leave it unset for SQLite in the data dir)"
        )
    assert url is not None
    return url.strip()


def describe(url: str) -> str:
    """``postgresql://host:port/db`` without user or password: safe for logs and errors."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"postgresql://{parts.hostname or 'localhost'}:{port or 5432}{parts.path or '/'}"


def connect(url: str, *, autocommit: bool = True) -> Any:
    """A new psycopg connection with bounded connect and statement timeouts."""
    # lazy: psycopg (~0.7 s) only when a postgresql:// URL is configured
    import psycopg

    return psycopg.connect(
        url,
        autocommit=autocommit,
        connect_timeout=CONNECT_TIMEOUT_S,
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    )


def _closed_by_server(conn: Any) -> bool:
    """True when the server has spoken on an idle connection: it only does so to end it
    (a restart, ``pg_terminate_backend``, an idle timeout) — we never LISTEN. One ``select``
    with no wait, so a dead connection is replaced before a statement is lost on it."""
    if conn.closed or conn.broken:
        return False  # replaced anyway
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class ProcessLocalPg:
    """One autocommit connection per process, used under a lock, reopened when broken.

    A connection never crosses a fork; after the server restarts (or a network cut) the
    next call opens a fresh one instead of failing forever. ``store`` names what it holds
    (``ledger``, ``gallery``): a database that does not answer — refused or lost connection,
    server shutting down, statement timeout — raises :class:`StoreUnavailable` for that store
    (503 with ``Retry-After``; the driver's text never leaves this module), and the store's
    outage and recovery are logged once each (:mod:`faceproof.storage.outage`).
    """

    def __init__(self, url: str, store: str) -> None:
        self.url = url
        self.store = store
        self._lock = threading.RLock()
        self._conn: Any = None
        self._pid = -1

    def _connection(self) -> Any:
        conn = self._conn
        if conn is not None and self._pid == os.getpid() and _closed_by_server(conn):
            self._discard()  # the retry: a restart or a terminated backend costs no request
            conn = None
        if conn is None or self._pid != os.getpid() or conn.closed or conn.broken:
            if conn is not None and self._pid == os.getpid() and not conn.closed:
                conn.close()
            self._conn = None
            self._conn = connect(self.url)
            self._pid = os.getpid()
        return self._conn

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A cursor inside one transaction, this process's connection held for the block."""
        # lazy: psycopg (~0.7 s) only when a postgresql:// URL is configured
        import psycopg

        with self._lock:
            try:
                conn = self._connection()
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                # OperationalError: connection refused or lost, admin shutdown, timeouts;
                # InterfaceError: a connection closed under us. Anything else (a bad
                # statement, a constraint) is ours to fix and stays what it is.
                self._discard()
                cause = type(exc).__name__
                OUTAGES.failed(self.store, "postgresql", cause, self.ping)
                raise StoreUnavailable(self.store, "postgresql", cause) from None
        if OUTAGES.is_down(self.store):
            OUTAGES.answered(self.store)

    def ping(self) -> None:
        """One round trip (raises StoreUnavailable when the database does not answer)."""
        with self.cursor() as cur:
            cur.execute("SELECT 1")

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._pid == os.getpid():
            with suppress(Exception):  # already broken: closing is best effort
                conn.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
