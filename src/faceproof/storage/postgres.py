"""PostgreSQL for state shared by replicas (``FACEPROOF_DATABASE_URL=postgresql://…``).

One place decides what a database URL means (:func:`postgres_url`) and opens connections
(:class:`ProcessLocalPg`): the ledger and the identification gallery both use it. URLs may
hold a password, so no error here ever echoes one; :func:`describe` gives the printable part.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from faceproof.config import ConfigError

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


class ProcessLocalPg:
    """One autocommit connection per process, used under a lock, reopened when broken.

    A connection never crosses a fork; after the server restarts (or a network cut) the
    next call opens a fresh one instead of failing forever.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        self._conn: Any = None
        self._pid = -1

    def _connection(self) -> Any:
        conn = self._conn
        if conn is None or self._pid != os.getpid() or conn.closed or conn.broken:
            if conn is not None and self._pid == os.getpid() and not conn.closed:
                conn.close()
            self._conn = connect(self.url)
            self._pid = os.getpid()
        return self._conn

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        """A cursor inside one transaction, this process's connection held for the block."""
        with self._lock:
            conn = self._connection()
            with conn.transaction(), conn.cursor() as cur:
                yield cur

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
