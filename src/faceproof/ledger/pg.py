"""PostgreSQL ledger: one table shared by every replica (``FACEPROOF_DATABASE_URL``).

Same interface and guarantees as the SQLite ledger, for deployments with several hosts:
``record`` returns after PostgreSQL committed the row (the server's ``synchronous_commit``,
on by default, makes that durable), rows from every replica land in ``faceproof_ledger`` and
the report CLI reads them all. The schema comes from :mod:`faceproof.ledger.migrations`,
applied at start-up under an advisory lock so replicas starting together do not collide.

While the database does not answer, a row whose request is already done waits in a local
spool (:mod:`faceproof.ledger.spool`) and moves to PostgreSQL when it answers again.

Connections: one per process for writes (a request's INSERT is a few hundred microseconds,
so threads queue on it briefly rather than each holding a server connection); a query opens
a private connection with a server-side cursor, so a year of rows streams instead of being
loaded at once.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
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
from faceproof.ledger.migrations import SCHEMA_VERSION, TABLES
from faceproof.ledger.spool import LedgerSpool
from faceproof.storage import postgres
from faceproof.storage.outage import StoreUnavailable

log = logging.getLogger("faceproof.ledger")

TABLE = TABLES["postgres"]["transactions"]
VERSION_TABLE = TABLES["postgres"]["version"]
_PLACEHOLDERS = ", ".join("%s::jsonb" if c == "quality" else "%s" for c in COLUMNS)
_INSERT = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({_PLACEHOLDERS})"


class PgLedger:
    """Append-only ledger in PostgreSQL (see the module docstring)."""

    def __init__(self, url: str, *, must_exist: bool = False, spool: Path | None = None) -> None:
        """``spool``: where rows wait while the database does not answer (the server's
        ``<data dir>/ledger-spool.sqlite3``, :mod:`faceproof.ledger.spool`); None: a write
        that fails raises StoreUnavailable (readers such as the report CLI never write)."""
        self.url = url
        self.where = postgres.describe(url)
        self._db = postgres.ProcessLocalPg(url, store="ledger")
        self._closed = False
        self._spool = LedgerSpool(spool) if spool is not None else None
        try:
            with self._db.cursor() as cur:
                if must_exist:
                    cur.execute("SELECT to_regclass(%s)", (VERSION_TABLE,))
                    if cur.fetchone()[0] is None:
                        raise ConfigError(f"{self.where}: no ledger in this database")
                self.migrated = migrations.apply(cur, "postgres", self.where)
        except ConfigError:
            self._db.close()
            raise
        except Exception as exc:  # psycopg errors; the URL may hold a password: never echo it
            self._db.close()
            raise ConfigError(
                f"FACEPROOF_DATABASE_URL: cannot open the ledger database at {self.where} "
                f"({postgres.error_name(exc)})"
            ) from None
        self._move_spooled()  # rows left by an outage before a restart

    def record(self, tx: Transaction) -> None:
        """Durable when it returns: in PostgreSQL, or in the spool while the database does
        not answer. Raises StoreUnavailable (503, storage/outage.py) when neither can keep it.
        """
        if self._closed:
            raise RuntimeError("ledger is closed")
        try:
            self._insert([tx])
        except StoreUnavailable:
            if self._spool is None:
                raise
            try:
                self._spool.add(tx)
            except Exception as exc:  # the local disk too: nothing kept, answer withheld
                log.error(
                    json.dumps({"event": "ledger_spool_failed", "error_type": type(exc).__name__})
                )
                raise StoreUnavailable("ledger", "postgresql", "spool failed") from None
            return
        if self._spool is not None and self._spool.due():
            self._move_spooled()

    def _insert(self, txs: list[Transaction]) -> None:
        with self._db.cursor() as cur:
            cur.executemany(_INSERT, [transaction_values(tx) for tx in txs])

    def _move_spooled(self) -> None:
        """Spooled rows into PostgreSQL; a failure leaves them for the next try."""
        if self._spool is None:
            return
        try:
            self._spool.drain(self._insert)
        except Exception as exc:
            log.warning(
                json.dumps({"event": "ledger_spool_kept", "error_type": type(exc).__name__})
            )

    def spooled(self) -> int:
        """Rows waiting in this replica's spool (0 without one)."""
        return self._spool.count() if self._spool is not None else 0

    def query(
        self, since_ms: int | None, until_ms: int | None, action: str | None = None
    ) -> Iterator[Transaction]:
        sql, args = select_query(TABLE, "%s", since_ms, until_ms, action)
        if self._closed:
            raise RuntimeError("ledger is closed")
        return self._iter(sql, args)

    def _iter(self, sql: str, args: list[object]) -> Iterator[Transaction]:
        conn = postgres.connect(self.url, autocommit=False)
        try:
            with conn.cursor(name=f"ledger_{secrets.token_hex(6)}") as cur:
                cur.itersize = 500
                cur.execute(sql, args)
                for row in cur:
                    yield transaction_from_row(tuple(row))
            conn.rollback()  # read-only: nothing to keep
        finally:
            conn.close()

    def health(self) -> str | None:
        """None when the ledger can record; else why not, briefly (no URL)."""
        if self._closed:
            return "ledger closed"
        try:
            with self._db.cursor() as cur:
                version = migrations.current_version(cur, "postgres")
        except Exception as exc:
            return f"ledger database unavailable ({postgres.error_name(exc)})"
        if version < SCHEMA_VERSION:
            return "ledger schema changed"
        return None

    def close(self) -> None:
        self._closed = True
        self._db.close()
        if self._spool is not None:
            self._spool.close()

    def __enter__(self) -> PgLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
