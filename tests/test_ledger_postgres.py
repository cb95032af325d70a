"""The PostgreSQL ledger and the shared migrations, against a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from faceproof.config import ConfigError
from faceproof.ledger import SqliteLedger, Transaction, open_ledger
from faceproof.ledger.migrations import MIGRATIONS, SCHEMA_VERSION, TABLES
from faceproof.ledger.pg import TABLE, VERSION_TABLE, PgLedger


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    from pg_server import pg_bindir, postgres_server

    if pg_bindir() is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    with postgres_server() as url:
        yield url


_db_counter = iter(range(1_000_000))


@pytest.fixture
def pg_url(server: str) -> str:
    """A fresh, empty database on the module's server."""
    name = f"ledger_{next(_db_counter)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + "/" + name


def tx(i: int, **kw: object) -> Transaction:
    base: dict[str, object] = {
        "refid": f"r{i}",
        "action": "LIVENESS",
        "ts_ms": 1_700_000_000_000 + i,
        "outcome": "FEEDBACK_CAPTURED",
        "code": 200,
        "http_status": 200,
        "endpoint": "/api/v1/face/as",
        "latency_ms": 12.5,
    }
    base.update(kw)
    return Transaction(**base)  # type: ignore[arg-type]


def test_record_and_query_round_trip(pg_url: str) -> None:
    led = open_ledger(None, Path("/nonexistent"), database_url=pg_url)
    assert isinstance(led, PgLedger) and led.health() is None
    assert led.migrated == (0, SCHEMA_VERSION)
    rows = [
        tx(0, quality={"sharpness": 0.5, "ok": True, "label": "x", "n": 3, "none": None}),
        tx(1, action="MATCH", security_level_requested="HIGH", request_id="q1"),
        tx(2, device_type="DESKTOP", latency_ms=0.25),
    ]
    for r in rows:
        led.record(r)
    assert list(led.query(None, None)) == rows
    assert list(led.query(rows[1].ts_ms, None, "MATCH")) == [rows[1]]
    assert list(led.query(None, rows[1].ts_ms)) == [rows[0]]
    led.close()
    with pytest.raises(RuntimeError):
        led.record(tx(3))
    assert led.health() == "ledger closed"


def test_schema_version_and_indexes(pg_url: str) -> None:
    PgLedger(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute(f"SELECT version FROM {VERSION_TABLE}").fetchall() == [
            (SCHEMA_VERSION,)
        ]
        indexes = {
            r[0]
            for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", (TABLE,))
        }
    assert {"ix_faceproof_ledger_ts", "ix_faceproof_ledger_action_ts"} <= indexes
    assert PgLedger(pg_url).migrated == (SCHEMA_VERSION, SCHEMA_VERSION)  # idempotent


def test_replicas_starting_together_migrate_once(pg_url: str) -> None:
    results: list[object] = [None] * 6
    barrier = threading.Barrier(len(results))

    def start(i: int) -> None:
        barrier.wait()
        try:
            led = PgLedger(pg_url)
            results[i] = led.migrated
            led.record(tx(i, refid=f"replica{i}"))
            led.close()
        except Exception as exc:  # reported below with its type
            results[i] = exc

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(r[0] for r in results) == [0] + [SCHEMA_VERSION] * 5  # type: ignore[index]
    led = PgLedger(pg_url)
    assert len(list(led.query(None, None))) == len(results)
    led.close()


def test_upgrade_from_version_1_keeps_rows(pg_url: str, tmp_path: Path) -> None:
    first = MIGRATIONS[0]
    # PostgreSQL: a database left by a build that knew only migration 1.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {VERSION_TABLE} (version INTEGER)")
        for statement in first.postgres:
            conn.execute(statement)
        conn.execute(f"INSERT INTO {VERSION_TABLE} VALUES (1)")
        conn.execute(
            f"INSERT INTO {TABLE} (refid, action, ts_ms, outcome, code, http_status, endpoint, "
            "latency_ms) VALUES ('old', 'MATCH', 5, 'OK', 200, 200, '/x', 1.0)"
        )
    led = PgLedger(pg_url)
    assert led.migrated == (1, SCHEMA_VERSION)
    assert [t.refid for t in led.query(None, None)] == ["old"]
    led.close()
    # SQLite: the same history, same numbers.
    path = tmp_path / "old.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute(f"CREATE TABLE {TABLES['sqlite']['version']} (version INTEGER)")
    for statement in first.sqlite:
        raw.execute(statement)
    raw.execute("INSERT INTO schema_version VALUES (1)")
    raw.commit()
    raw.close()
    SqliteLedger(path).close()
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    names = {r[1] for r in raw.execute("PRAGMA index_list(transactions)")}
    assert "ix_transactions_action_ts" in names
    raw.close()


def test_newer_schema_refused_at_start_but_running_replicas_stay_healthy(pg_url: str) -> None:
    running = PgLedger(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"UPDATE {VERSION_TABLE} SET version = %s", (SCHEMA_VERSION + 1,))
    assert running.health() is None  # a newer replica migrated: additive, keep serving
    running.record(tx(0))
    with pytest.raises(ConfigError, match="newer"):
        PgLedger(pg_url)  # an older build starting now is a downgrade
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"UPDATE {VERSION_TABLE} SET version = 1")
    assert running.health() == "ledger schema changed"  # went backwards under it
    running.close()


def test_health_names_an_unreachable_database_and_recovers(pg_url: str) -> None:
    led = PgLedger(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    # The killed connection is noticed once, then the next call reconnects.
    first = led.health()
    assert first is None or "unavailable" in first
    assert led.health() is None
    led.record(tx(1))
    assert [t.refid for t in led.query(None, None)] == ["r1"]
    led.close()


def test_errors_never_echo_the_password(tmp_path: Path) -> None:
    from redis_server import free_port

    url = f"postgresql://user:s3cret@127.0.0.1:{free_port()}/db"
    t0 = time.monotonic()
    with pytest.raises(ConfigError) as info:
        open_ledger(None, tmp_path, database_url=url)
    assert "s3cret" not in str(info.value) and "cannot open the ledger" in str(info.value)
    assert time.monotonic() - t0 < 15
    with pytest.raises(ConfigError, match="unsupported scheme"):
        open_ledger(None, tmp_path, database_url="mysql://u:p@h/db")


def test_backend_choice(pg_url: str, tmp_path: Path) -> None:
    # An explicit SQLite ledger URL wins over the shared database; a postgresql ledger URL
    # works on its own; nothing set -> the data dir's file.
    sqlite_led = open_ledger("sqlite:///mine.db", tmp_path, database_url=pg_url)
    assert isinstance(sqlite_led, SqliteLedger)
    sqlite_led.close()
    pg_led = open_ledger(pg_url, tmp_path)
    assert isinstance(pg_led, PgLedger)
    pg_led.close()
    default = open_ledger(None, tmp_path)
    assert isinstance(default, SqliteLedger) and (tmp_path / "ledger.sqlite3").is_file()
    default.close()


def test_report_cli_reads_the_shared_ledger(pg_url: str, tmp_path: Path) -> None:
    led = PgLedger(pg_url)
    day = 1_764_547_200_000  # 2025-12-01T00:00Z
    for i in range(3):
        led.record(tx(i, ts_ms=day + i * 1000))
    led.close()
    with pytest.raises(ConfigError, match="no ledger"):
        server = pg_url.rsplit("/", 1)[0]
        with psycopg.connect(server + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE ledger_empty_for_cli")
        PgLedger(server + "/ledger_empty_for_cli", must_exist=True)
    from click.testing import CliRunner

    from faceproof.cli import main

    result = CliRunner().invoke(
        main,
        ["transactions", "report", "--since", "2025-12-01", "--until", "2025-12-01"],
        env={"FACEPROOF_DATABASE_URL": pg_url, "FACEPROOF_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    assert "LIVENESS" in result.output and "3" in result.output
