"""Rows the PostgreSQL ledger could not write, kept on the replica's disk until it can.

A billed request whose work is done when the ledger database stops answering has used its
capture (nonce claimed, challenge redeemed) and computed its answer; refusing it then would
leave the caller with neither an answer nor a capture to send again. Its row goes here
instead — a SQLite file in the data directory, fsynced on every commit like the embedded
ledger — and the answer is sent: the request is on record, in PostgreSQL later. Only the
requests in flight when the database fails land here: while it stays down, billed requests
are refused before any work (``storage/outage.py``).

The rows move to PostgreSQL on the first write that succeeds afterwards (checked at most
every ``RECHECK_S`` for rows other workers spooled) and at start-up, in batches: one
PostgreSQL transaction per batch, then the batch is deleted here, under SQLite's write lock
so two workers never move the same rows. A crash between those two commits would move that
batch twice (at least once, never lost); its refids show the copies.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from faceproof.ledger.base import Transaction, transaction_from_row, transaction_values
from faceproof.storage.sqlite_file import ProcessLocalSqlite

log = logging.getLogger("faceproof.ledger")

FILENAME = "ledger-spool.sqlite3"
BATCH = 500
#: How often a worker looks for rows that another worker spooled (one SELECT).
RECHECK_S = 60.0


class LedgerSpool:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = ProcessLocalSqlite(
            self.path,
            (
                "CREATE TABLE IF NOT EXISTS spool ("
                " id INTEGER PRIMARY KEY AUTOINCREMENT, row TEXT NOT NULL)",
            ),
            synchronous="FULL",  # a spooled row is an acknowledged request: fsync it
        )
        self._lock = threading.Lock()
        self._next_check = 0.0  # look at start-up

    def add(self, tx: Transaction) -> None:
        """Keeps ``tx`` (durable when this returns); raises sqlite3.Error."""
        with self._lock:
            row = json.dumps(transaction_values(tx))
            self._db.connection().execute("INSERT INTO spool (row) VALUES (?)", (row,))
            self._next_check = 0.0
        log.warning(json.dumps({"event": "ledger_row_spooled", "refid": tx.refid}))

    def due(self) -> bool:
        """True when rows may be waiting (this worker spooled some, or it is time to look)."""
        return time.monotonic() >= self._next_check

    def count(self) -> int:
        with self._lock:
            row = self._db.connection().execute("SELECT COUNT(*) FROM spool").fetchone()
        return int(row[0])

    def drain(self, write: Callable[[list[Transaction]], None]) -> int:
        """Moves every spooled row with ``write`` (one call per batch, raising on failure:
        that batch stays); returns how many moved."""
        moved = 0
        with self._lock:
            conn = self._db.connection()
            while True:
                conn.execute("BEGIN IMMEDIATE")  # one mover at a time, across workers
                try:
                    rows = conn.execute(
                        "SELECT id, row FROM spool ORDER BY id LIMIT ?", (BATCH,)
                    ).fetchall()
                    if rows:
                        write([transaction_from_row(tuple(json.loads(r))) for _, r in rows])
                        conn.execute("DELETE FROM spool WHERE id <= ?", (rows[-1][0],))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                moved += len(rows)
                if len(rows) < BATCH:
                    break
            self._next_check = time.monotonic() + RECHECK_S
        if moved:
            log.warning(json.dumps({"event": "ledger_spool_moved", "rows": moved}))
        return moved

    def close(self) -> None:
        with self._lock:
            self._db.close()
