"""PostgreSQL + pgvector gallery store (``FACEPROOF_DATABASE_URL=postgresql://…``).

Every replica reads and writes the same tables, so all of them search the same gallery
with no per-worker index to keep in step: the search runs in the database, on pgvector's
HNSW index (inner product on unit vectors = cosine), filtered by gallery with pgvector's
iterative index scan.

The trade-off, stated plainly: pgvector can only search vectors it can read, so the
``embedding`` column holds each template's vector **in clear**, protected by the database's
access control and by storage encryption (disk/volume encryption or a TDE build, the
operator's to provide). The ``sealed`` column (AES-GCM, key id per row, bound to gallery,
subject and row id) remains the system of record: exports, re-keying and the duplicate
check's answer are derived from it, and a row whose sealed template does not open is never
returned. Erasure deletes the row; PostgreSQL reclaims dead tuples at the next VACUUM
(run ``VACUUM`` after bulk erasures to make the space, and the bytes, go at once).
Writers serialise per gallery with a transaction-scoped advisory lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

from faceproof.config import ConfigError
from faceproof.identification.store import ChangeSet, Hit, StoredTemplate, SubjectInfo
from faceproof.storage import postgres

T = "faceproof_gallery_templates"
C = "faceproof_gallery_changes"
G = "faceproof_galleries"  # templates per gallery, kept by the writers (COUNT(*) is O(N))
EF_SEARCH = 100


def _schema(dim: int) -> tuple[str, ...]:
    return (
        "CREATE EXTENSION IF NOT EXISTS vector",
        f"""CREATE TABLE IF NOT EXISTS {T} (
            id TEXT PRIMARY KEY,
            gallery TEXT NOT NULL,
            subject TEXT NOT NULL,
            kid TEXT NOT NULL,
            sealed BYTEA NOT NULL,
            created_ms BIGINT NOT NULL,
            embedding vector({dim}) NOT NULL
        )""",
        f"CREATE INDEX IF NOT EXISTS ix_{T}_gs ON {T} (gallery, subject)",
        f"CREATE INDEX IF NOT EXISTS ix_{T}_hnsw ON {T} USING hnsw (embedding vector_ip_ops)",
        f"""CREATE TABLE IF NOT EXISTS {C} (
            seq BIGSERIAL PRIMARY KEY,
            gallery TEXT NOT NULL,
            op TEXT NOT NULL,
            template_id TEXT
        )""",
        f"CREATE INDEX IF NOT EXISTS ix_{C}_gs ON {C} (gallery, seq)",
        f"CREATE TABLE IF NOT EXISTS {G} (gallery TEXT PRIMARY KEY, templates BIGINT NOT NULL)",
    )


def _vec(v: NDArray[np.float32]) -> str:
    return "[" + ",".join(f"{float(x):.8g}" for x in np.asarray(v).reshape(-1)) + "]"


def _tmpl(r: Any) -> StoredTemplate:
    return StoredTemplate(str(r[0]), str(r[1]), str(r[2]), bytes(r[3]), int(r[4]))


_COLS = "id, subject, kid, sealed, created_ms"


def _search(cur: Any, gallery: str, vector: NDArray[np.float32], k: int) -> list[Hit]:
    want = max(4 * k, k + 16)
    cur.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, want)}")
    cur.execute("SET LOCAL hnsw.iterative_scan = strict_order")
    q = _vec(vector)
    cur.execute(
        f"SELECT {_COLS}, -(embedding <#> %s::vector) FROM {T} WHERE gallery = %s "
        "ORDER BY embedding <#> %s::vector LIMIT %s",
        (q, gallery, q, want),
    )
    best: dict[str, Hit] = {}
    for r in cur.fetchall():
        t = _tmpl(r)
        if t.subject not in best:
            best[t.subject] = Hit(t.template_id, t.subject, float(r[5]), t)
    return sorted(best.values(), key=lambda h: -h.similarity)[:k]


def _changes(cur: Any, gallery: str, since: int) -> ChangeSet:
    cur.execute(
        f"SELECT seq, op, template_id FROM {C} WHERE gallery = %s AND seq > %s ORDER BY seq",
        (gallery, since),
    )
    rows = cur.fetchall()
    if not rows:
        return ChangeSet(version=since)
    version = int(rows[-1][0])
    if any(op == "drop" for _, op, _ in rows):
        return ChangeSet(version=version, reset=True)
    added_ids = [tid for _, op, tid in rows if op == "add"]
    cur.execute(f"SELECT {_COLS} FROM {T} WHERE id = ANY(%s)", (added_ids,))
    return ChangeSet(
        version=version,
        added=[_tmpl(r) for r in cur.fetchall()],
        removed=[str(t) for _, op, t in rows if op == "del"],
    )


class _Writer:
    def __init__(self, cur: Any, gallery: str) -> None:
        self.cur = cur
        self.gallery = gallery

    def _log(self, op: str, template_id: str | None) -> None:
        self.cur.execute(
            f"INSERT INTO {C} (gallery, op, template_id) VALUES (%s, %s, %s)",
            (self.gallery, op, template_id),
        )

    def add(self, template: StoredTemplate, vector: NDArray[np.float32]) -> None:
        self.cur.execute(
            f"INSERT INTO {T} (gallery, {_COLS}, embedding) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                self.gallery,
                template.template_id,
                template.subject,
                template.kid,
                template.sealed,
                template.created_ms or int(time.time() * 1000),
                _vec(vector),
            ),
        )
        self._log("add", template.template_id)
        self._count(1)

    def _count(self, delta: int) -> None:
        self.cur.execute(
            f"INSERT INTO {G} (gallery, templates) VALUES (%s, %s) ON CONFLICT (gallery) "
            f"DO UPDATE SET templates = {G}.templates + EXCLUDED.templates",
            (self.gallery, delta),
        )

    def delete_subject(self, subject: str) -> int:
        self.cur.execute(
            f"DELETE FROM {T} WHERE gallery = %s AND subject = %s RETURNING id",
            (self.gallery, subject),
        )
        ids = [str(r[0]) for r in self.cur.fetchall()]
        for tid in ids:
            self._log("del", tid)
        if ids:
            self._count(-len(ids))
        return len(ids)

    def delete_gallery(self) -> int:
        self.cur.execute(f"DELETE FROM {T} WHERE gallery = %s", (self.gallery,))
        n = int(self.cur.rowcount)
        self.cur.execute(f"DELETE FROM {C} WHERE gallery = %s", (self.gallery,))
        self.cur.execute(f"DELETE FROM {G} WHERE gallery = %s", (self.gallery,))
        self._log("drop", None)
        return n

    def templates_of(self, subject: str) -> int:
        self.cur.execute(
            f"SELECT COUNT(*) FROM {T} WHERE gallery = %s AND subject = %s",
            (self.gallery, subject),
        )
        return int(self.cur.fetchone()[0])

    def search(self, vector: NDArray[np.float32], k: int) -> list[Hit] | None:
        return _search(self.cur, self.gallery, vector, k)

    def changes(self, since: int) -> ChangeSet:
        return _changes(self.cur, self.gallery, since)


class PgGalleryStore:
    """See the module docstring. One connection per process (:class:`postgres.ProcessLocalPg`),
    used under a lock."""

    searches_itself = True

    def __init__(self, url: str, dim: int) -> None:
        self.url = url
        self.dim = dim
        # The one connection factory (storage/postgres.py): timeouts, reconnects, outages.
        self._db = postgres.ProcessLocalPg(url, store="gallery")
        try:
            with self._db.cursor() as cur:
                # Waiting for another replica's DDL must wait, not hit the statement limit.
                cur.execute("SET LOCAL statement_timeout = 0")
                cur.execute("SELECT pg_advisory_xact_lock(727271)")  # one migrator at a time
                for statement in _schema(dim):
                    cur.execute(statement)
                cur.execute(
                    "SELECT atttypmod FROM pg_attribute WHERE attrelid = %s::regclass "
                    "AND attname = 'embedding'",
                    (T,),
                )
                (typmod,) = cur.fetchone()
            if int(typmod) != dim:
                raise ConfigError(
                    f"gallery database holds {typmod}-D vectors, this embedder makes {dim}-D"
                )
        except ConfigError:
            self._db.close()
            raise
        except Exception as exc:  # the URL may hold a password: never echo it
            self._db.close()
            raise ConfigError(
                "FACEPROOF_DATABASE_URL: cannot open the gallery database at "
                f"{postgres.describe(url)} ({postgres.error_name(exc)})"
            ) from None

    def _cursor(self) -> AbstractContextManager[Any]:
        return self._db.cursor()

    def version(self, gallery: str) -> int:
        with self._cursor() as cur:
            cur.execute(f"SELECT MAX(seq) FROM {C} WHERE gallery = %s", (gallery,))
            v = cur.fetchone()[0]
        return int(v or 0)

    def changes(self, gallery: str, since: int) -> ChangeSet:
        with self._cursor() as cur:
            return _changes(cur, gallery, since)

    def count(self, gallery: str) -> int:
        with self._cursor() as cur:
            cur.execute(f"SELECT templates FROM {G} WHERE gallery = %s", (gallery,))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def subjects(self, gallery: str, offset: int, limit: int) -> tuple[int, list[SubjectInfo]]:
        with self._cursor() as cur:
            cur.execute(f"SELECT COUNT(DISTINCT subject) FROM {T} WHERE gallery = %s", (gallery,))
            total = int(cur.fetchone()[0])
            cur.execute(
                f"SELECT subject, COUNT(*), MIN(created_ms) FROM {T} WHERE gallery = %s "
                "GROUP BY subject ORDER BY subject LIMIT %s OFFSET %s",
                (gallery, limit, offset),
            )
            return total, [SubjectInfo(str(s), int(n), int(c)) for s, n, c in cur.fetchall()]

    def search(self, gallery: str, vector: NDArray[np.float32], k: int) -> list[Hit]:
        with self._cursor() as cur:
            return _search(cur, gallery, vector, k)

    def all_templates(self, gallery: str | None = None) -> Iterator[tuple[str, StoredTemplate]]:
        with self._cursor() as cur:
            if gallery is None:
                cur.execute(f"SELECT gallery, {_COLS} FROM {T}")
            else:
                cur.execute(f"SELECT gallery, {_COLS} FROM {T} WHERE gallery = %s", (gallery,))
            rows = cur.fetchall()
        for r in rows:
            yield str(r[0]), _tmpl(r[1:])

    @contextmanager
    def writing(self, gallery: str) -> Iterator[_Writer]:
        with self._cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 1))", (gallery,))
            yield _Writer(cur, gallery)

    def replace_sealed(self, template_id: str, kid: str, sealed: bytes) -> None:
        with self._cursor() as cur:
            cur.execute(
                f"UPDATE {T} SET kid = %s, sealed = %s WHERE id = %s", (kid, sealed, template_id)
            )

    def health(self) -> str | None:
        try:
            self.version("")
        except Exception as exc:
            return f"gallery database unavailable ({postgres.error_name(exc)})"
        return None

    def close(self) -> None:
        self._db.close()
