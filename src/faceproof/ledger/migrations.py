"""Numbered ledger schema migrations, one list for SQLite and PostgreSQL.

Migration *n* takes a database from schema version *n − 1* to *n*; each names its statements
for both dialects, so the two backends can never drift apart. :func:`apply` runs at every
start-up, inside one transaction that also holds a lock for the whole migration, so two
replicas (or two workers) starting together apply each step exactly once and the second one
sees the first one's result:

- SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock;
- PostgreSQL: ``pg_advisory_xact_lock`` (DDL is transactional there, so a failed step
  leaves the schema as it was).

Rules for new migrations (docs/ledger.md): append, never edit a released one; only add
(tables, nullable columns, indexes), so replicas still running the previous build keep
working during a rolling upgrade. A build refuses to *start* on a schema newer than it knows
(that is a downgrade), but a running replica is not disturbed when a newer one migrates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from faceproof.config import ConfigError

Dialect = Literal["sqlite", "postgres"]

#: Table names per dialect. In PostgreSQL the ledger shares a database with the gallery
#: (and maybe other applications), so its tables carry the ``faceproof_`` prefix.
TABLES: dict[Dialect, dict[str, str]] = {
    "sqlite": {"transactions": "transactions", "version": "schema_version"},
    "postgres": {"transactions": "faceproof_ledger", "version": "faceproof_ledger_version"},
}
PG_LOCK_KEY = 727_272  # pg_advisory_xact_lock key of ledger migrations (galleries: 727 271)


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        return self.sqlite if dialect == "sqlite" else self.postgres


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "transactions and their time index",
        sqlite=(
            """CREATE TABLE transactions (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                refid TEXT NOT NULL,
                action TEXT NOT NULL,
                ts_ms INTEGER NOT NULL,
                outcome TEXT NOT NULL,
                code INTEGER NOT NULL,
                http_status INTEGER NOT NULL,
                endpoint TEXT NOT NULL,
                latency_ms REAL NOT NULL,
                security_level_requested TEXT,
                security_level_reached TEXT,
                quality TEXT,
                device_type TEXT,
                request_id TEXT
            )""",
            "CREATE INDEX ix_transactions_ts ON transactions (ts_ms)",
        ),
        postgres=(
            """CREATE TABLE faceproof_ledger (
                id BIGSERIAL PRIMARY KEY,
                refid TEXT NOT NULL,
                action TEXT NOT NULL,
                ts_ms BIGINT NOT NULL,
                outcome TEXT NOT NULL,
                code INTEGER NOT NULL,
                http_status INTEGER NOT NULL,
                endpoint TEXT NOT NULL,
                latency_ms DOUBLE PRECISION NOT NULL,
                security_level_requested TEXT,
                security_level_reached TEXT,
                quality JSONB,
                device_type TEXT,
                request_id TEXT
            )""",
            "CREATE INDEX ix_faceproof_ledger_ts ON faceproof_ledger (ts_ms)",
        ),
    ),
    Migration(
        2,
        "index for per-action reports (faceproof transactions --action)",
        sqlite=("CREATE INDEX ix_transactions_action_ts ON transactions (action, ts_ms)",),
        postgres=(
            "CREATE INDEX ix_faceproof_ledger_action_ts ON faceproof_ledger (action, ts_ms)",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version
assert [m.version for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))


def current_version(cur: Any, dialect: Dialect) -> int:
    """The schema version recorded in the database (0 for a new one)."""
    cur.execute(f"SELECT max(version) FROM {TABLES[dialect]['version']}")
    row = cur.fetchone()
    return int(row[0] or 0) if row else 0


def apply(cur: Any, dialect: Dialect, where: str) -> tuple[int, int]:
    """Brings the schema up to :data:`SCHEMA_VERSION`; returns (version before, after).

    The caller has opened the transaction (and, for SQLite, taken the write lock); for
    PostgreSQL this takes the advisory lock first. ``where`` names the database in errors
    (a path or a password-free URL). Raises ConfigError for a schema newer than this build.
    """
    table = TABLES[dialect]["version"]
    if dialect == "postgres":
        # An index on a large ledger may take longer than the per-statement limit, and a
        # replica waiting for another's migration must wait, not fail.
        cur.execute("SET LOCAL statement_timeout = 0")
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK_KEY,))
    cur.execute(f"CREATE TABLE IF NOT EXISTS {table} (version INTEGER)")
    before = current_version(cur, dialect)
    if before > SCHEMA_VERSION:
        raise ConfigError(
            f"{where}: ledger schema version {before} is newer than this faceproof build "
            f"supports ({SCHEMA_VERSION}); run the newer build"
        )
    for migration in MIGRATIONS[before:]:
        for statement in migration.statements(dialect):
            cur.execute(statement)
    if before < SCHEMA_VERSION:
        # One row: the version reached (what readers and the health probe compare).
        cur.execute(f"DELETE FROM {table}")
        param = "?" if dialect == "sqlite" else "%s"
        cur.execute(f"INSERT INTO {table} (version) VALUES ({param})", (SCHEMA_VERSION,))
    return before, SCHEMA_VERSION
