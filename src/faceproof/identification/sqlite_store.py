"""Embedded gallery store: one SQLite file in the data directory, shared by every worker.

WAL mode, ``synchronous=FULL`` (an acknowledged enrolment or erasure survives a crash),
``secure_delete`` (erased rows are overwritten with zeros in the file, not just unlinked)
and a WAL checkpoint after each erasure so the old pages do not linger in the log. Writers
serialise on SQLite's own lock (``BEGIN IMMEDIATE``), so a duplicate check and the insert
it guards are one atomic step across processes. One connection per process
(:class:`~faceproof.storage.sqlite_file.ProcessLocalSqlite`), used under a lock.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from faceproof.config import ConfigError
from faceproof.identification.store import ChangeSet, Hit, StoredTemplate, SubjectInfo
from faceproof.storage.sqlite_file import ProcessLocalSqlite

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS templates (
        id TEXT PRIMARY KEY,
        gallery TEXT NOT NULL,
        subject TEXT NOT NULL,
        kid TEXT NOT NULL,
        sealed BLOB NOT NULL,
        created_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS ix_templates_gallery_subject ON templates (gallery, subject)",
    """CREATE TABLE IF NOT EXISTS changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        gallery TEXT NOT NULL,
        op TEXT NOT NULL,
        template_id TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS ix_changes_gallery_seq ON changes (gallery, seq)",
)
_COLS = "id, subject, kid, sealed, created_ms"


def _row(r: tuple[object, ...]) -> StoredTemplate:
    return StoredTemplate(str(r[0]), str(r[1]), str(r[2]), bytes(r[3]), int(r[4]))  # type: ignore[call-overload]


def _changes(conn: sqlite3.Connection, gallery: str, since: int) -> ChangeSet:
    rows = conn.execute(
        "SELECT seq, op, template_id FROM changes WHERE gallery = ? AND seq > ? ORDER BY seq",
        (gallery, since),
    ).fetchall()
    if not rows:
        return ChangeSet(version=since)
    version = int(rows[-1][0])
    if any(op == "drop" for _, op, _ in rows):
        return ChangeSet(version=version, reset=True)
    added_ids = [tid for _, op, tid in rows if op == "add"]
    removed = [str(tid) for _, op, tid in rows if op == "del"]
    added: list[StoredTemplate] = []
    for start in range(0, len(added_ids), 500):
        chunk = added_ids[start : start + 500]
        marks = ",".join("?" for _ in chunk)
        added += [
            _row(r)
            for r in conn.execute(f"SELECT {_COLS} FROM templates WHERE id IN ({marks})", chunk)
        ]
    return ChangeSet(version=version, added=added, removed=removed)


class _Writer:
    def __init__(self, conn: sqlite3.Connection, gallery: str) -> None:
        self.conn = conn
        self.gallery = gallery
        self.erased = False

    def _log(self, op: str, template_id: str | None) -> None:
        self.conn.execute(
            "INSERT INTO changes (gallery, op, template_id) VALUES (?, ?, ?)",
            (self.gallery, op, template_id),
        )

    def add(self, template: StoredTemplate, vector: NDArray[np.float32]) -> None:
        self.conn.execute(
            f"INSERT INTO templates (gallery, {_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                self.gallery,
                template.template_id,
                template.subject,
                template.kid,
                template.sealed,
                template.created_ms or int(time.time() * 1000),
            ),
        )
        self._log("add", template.template_id)

    def delete_subject(self, subject: str) -> int:
        ids = [
            str(r[0])
            for r in self.conn.execute(
                "SELECT id FROM templates WHERE gallery = ? AND subject = ?",
                (self.gallery, subject),
            )
        ]
        for tid in ids:
            self.conn.execute("DELETE FROM templates WHERE id = ?", (tid,))
            self._log("del", tid)
        self.erased = self.erased or bool(ids)
        return len(ids)

    def delete_gallery(self) -> int:
        n = self.conn.execute("DELETE FROM templates WHERE gallery = ?", (self.gallery,)).rowcount
        # The log of a dropped gallery says nothing any more; one "drop" row remains so
        # that workers know to discard their index.
        self.conn.execute("DELETE FROM changes WHERE gallery = ?", (self.gallery,))
        self._log("drop", None)
        self.erased = True
        return int(n)

    def templates_of(self, subject: str) -> int:
        (n,) = self.conn.execute(
            "SELECT COUNT(*) FROM templates WHERE gallery = ? AND subject = ?",
            (self.gallery, subject),
        ).fetchone()
        return int(n)

    def search(self, vector: NDArray[np.float32], k: int) -> list[Hit] | None:
        return None

    def changes(self, since: int) -> ChangeSet:
        return _changes(self.conn, self.gallery, since)


class SqliteGalleryStore:
    """See the module docstring."""

    searches_itself = False

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = ProcessLocalSqlite(
            self.path, SCHEMA, synchronous="FULL", pragmas=("secure_delete = ON",)
        )
        try:
            self._connection()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"{self.path}: cannot open the gallery store ({exc})") from None

    def _connection(self) -> sqlite3.Connection:
        return self._db.connection()

    # -- reads -------------------------------------------------------------------------------
    def version(self, gallery: str) -> int:
        with self._lock:
            (v,) = (
                self._connection()
                .execute("SELECT MAX(seq) FROM changes WHERE gallery = ?", (gallery,))
                .fetchone()
            )
        return int(v or 0)

    def changes(self, gallery: str, since: int) -> ChangeSet:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")  # one snapshot: the version and the rows agree
            try:
                return _changes(conn, gallery, since)
            finally:
                conn.execute("COMMIT")

    def count(self, gallery: str) -> int:
        with self._lock:
            (n,) = (
                self._connection()
                .execute("SELECT COUNT(*) FROM templates WHERE gallery = ?", (gallery,))
                .fetchone()
            )
        return int(n)

    def subjects(self, gallery: str, offset: int, limit: int) -> tuple[int, list[SubjectInfo]]:
        with self._lock:
            conn = self._connection()
            (total,) = conn.execute(
                "SELECT COUNT(DISTINCT subject) FROM templates WHERE gallery = ?", (gallery,)
            ).fetchone()
            rows = conn.execute(
                "SELECT subject, COUNT(*), MIN(created_ms) FROM templates WHERE gallery = ? "
                "GROUP BY subject ORDER BY subject LIMIT ? OFFSET ?",
                (gallery, limit, offset),
            ).fetchall()
        return int(total), [SubjectInfo(str(s), int(n), int(c)) for s, n, c in rows]

    def galleries(self) -> list[str]:
        with self._lock:
            rows = self._connection().execute("SELECT DISTINCT gallery FROM templates").fetchall()
        return [str(r[0]) for r in rows]

    def all_templates(self, gallery: str | None = None) -> Iterator[tuple[str, StoredTemplate]]:
        with self._lock:
            conn = self._connection()
            if gallery is None:
                rows = conn.execute(f"SELECT gallery, {_COLS} FROM templates").fetchall()
            else:
                rows = conn.execute(
                    f"SELECT gallery, {_COLS} FROM templates WHERE gallery = ?", (gallery,)
                ).fetchall()
        for r in rows:
            yield str(r[0]), _row(r[1:])

    def search(self, gallery: str, vector: NDArray[np.float32], k: int) -> list[Hit]:
        raise NotImplementedError("the SQLite store is searched through the worker's index")

    # -- writes ------------------------------------------------------------------------------
    @contextmanager
    def writing(self, gallery: str) -> Iterator[_Writer]:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")  # the database's write lock, across processes
            writer = _Writer(conn, gallery)
            try:
                yield writer
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if writer.erased:
                # Erased pages were zeroed in the WAL; copy them into the file and reset the
                # log so no earlier version of those pages stays on disk.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def replace_sealed(self, template_id: str, kid: str, sealed: bytes) -> None:
        with self._lock:
            self._connection().execute(
                "UPDATE templates SET kid = ?, sealed = ? WHERE id = ?", (kid, sealed, template_id)
            )

    def health(self) -> str | None:
        try:
            self.version("")
        except sqlite3.Error as exc:
            return f"gallery store: {type(exc).__name__}"
        return None

    def close(self) -> None:
        with self._lock:
            self._db.close()
