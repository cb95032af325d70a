"""Transaction ledger: storage, durability, concurrency, reports and the report CLI."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing as mp
import os
import signal
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceproof.cli.transactions import parse_time, transactions
from faceproof.config import ConfigError
from faceproof.ledger import Ledger, SqliteLedger, Transaction, ledger_path, open_ledger
from faceproof.ledger.report import summarise, write_csv, write_json, write_summary_csv
from faceproof.ledger.sqlite import POOL_IDLE, SCHEMA_VERSION
from faceproof.refid import new_refid

T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
DAY = 86_400_000
CTX = mp.get_context("spawn")  # a fresh interpreter, like a separate uvicorn worker


def tx(i: int, **kw: object) -> Transaction:
    fields: dict[str, object] = {
        "refid": new_refid("process", T0 + i),
        "action": "process",
        "ts_ms": T0 + i,
        "outcome": "FEEDBACK_CAPTURED",
        "code": 200,
        "http_status": 200,
        "endpoint": "/api/v1/process",
        "latency_ms": float(i),
    }
    fields.update(kw)
    return Transaction(**fields)  # type: ignore[arg-type]


def _append_rows(path: str, tag: str, n: int) -> None:
    led = SqliteLedger(path)
    for i in range(n):
        led.record(tx(i, request_id=f"{tag}-{i}"))
    led.close()


def _append_then_die(path: str, n: int) -> None:
    led = SqliteLedger(path)
    for i in range(n):
        led.record(tx(i, request_id=f"k-{i}"))
    # No close(), no interpreter shutdown: the rows must already be on disk.
    os.kill(os.getpid(), signal.SIGKILL)


def _join(procs: Sequence[mp.process.BaseProcess]) -> list[int | None]:
    for p in procs:
        p.join(timeout=120)
        if p.is_alive():
            p.kill()
            p.join()
    return [p.exitcode for p in procs]


# -- storage ---------------------------------------------------------------------------


def test_round_trip_and_filters(tmp_path: Path) -> None:
    rows = [
        tx(0, quality={"sharpness": 87.5, "icao": True, "label": "ok", "n": 3, "x": None}),
        tx(1, action="match121", outcome="FEEDBACK_RETRY", code=401, http_status=400),
        tx(
            DAY,
            security_level_requested="HIGH",
            security_level_reached="MEDIUM",
            device_type="desktop",
        ),
    ]
    with SqliteLedger(tmp_path / "l.sqlite3") as led:
        assert isinstance(led, Ledger)
        for r in reversed(rows):  # stored out of order, read back by time
            led.record(r)
        assert list(led.query(None, None)) == rows
        assert list(led.query(T0 + 1, None)) == rows[1:]
        assert list(led.query(None, T0 + 1)) == rows[:1]  # until is exclusive
        assert list(led.query(None, None, action="match121")) == [rows[1]]
    # Reopening finds the same rows (nothing lived only in memory).
    with SqliteLedger(tmp_path / "l.sqlite3") as led:
        assert list(led.query(None, None)) == rows


def test_durability_settings_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    led = SqliteLedger(path)
    with led._borrow() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    led.close()
    assert (path.stat().st_mode & 0o077) == 0
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    indexed = [
        raw.execute(f"PRAGMA index_info({r[1]})").fetchone()[2]
        for r in raw.execute("PRAGMA index_list(transactions)")
    ]
    assert "ts_ms" in indexed
    raw.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    raw.commit()
    raw.close()
    with pytest.raises(ConfigError, match="newer"):
        SqliteLedger(path)


def test_threads_share_one_ledger(tmp_path: Path) -> None:
    led = SqliteLedger(tmp_path / "l.sqlite3")

    def work(t: int) -> None:
        for i in range(25):
            led.record(tx(i, request_id=f"t{t}-{i}"))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ids = sorted(r.request_id or "" for r in led.query(None, None))
    led.close()
    assert ids == sorted(f"t{t}-{i}" for t in range(4) for i in range(25))


def test_two_processes_append_concurrently(tmp_path: Path) -> None:
    path = str(tmp_path / "l.sqlite3")
    n = 150
    procs = [CTX.Process(target=_append_rows, args=(path, tag, n)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    assert _join(procs) == [0, 0]
    with SqliteLedger(path) as led:
        ids = sorted(r.request_id or "" for r in led.query(None, None))
    assert ids == sorted(f"{tag}-{i}" for tag in ("a", "b") for i in range(n))


def test_rows_survive_sigkill_after_record(tmp_path: Path) -> None:
    path = str(tmp_path / "l.sqlite3")
    n = 40
    p = CTX.Process(target=_append_then_die, args=(path, n))
    p.start()
    assert _join([p]) == [-signal.SIGKILL]
    with SqliteLedger(path) as led:
        got = [r.request_id for r in led.query(None, None)]
    assert got == [f"k-{i}" for i in range(n)]


@pytest.mark.parametrize(
    "bad",
    [
        {"quality": {"embedding": [0.1, 0.2]}},
        {"quality": {"img": "A" * 5000}},
        {"device_type": "x" * 5000},
        {"refid": ""},
        {"latency_ms": float("nan")},
        {"ts_ms": 1.5},
    ],
)
def test_transaction_refuses_blobs_and_bad_types(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        tx(0, **bad)


def test_open_ledger_urls(tmp_path: Path) -> None:
    assert ledger_path(None, tmp_path) == tmp_path / "ledger.sqlite3"
    assert ledger_path("sqlite:///sub/x.db", tmp_path) == tmp_path / "sub/x.db"
    assert ledger_path(f"sqlite:///{tmp_path}/abs.db", Path("/nowhere")) == tmp_path / "abs.db"
    with pytest.raises(ConfigError, match="PostgreSQL"):
        ledger_path("postgresql://user:s3cret@db/faceproof", tmp_path)
    for url in ("sqlite://", "sqlite:///:memory:", "mysql://x/y"):
        with pytest.raises(ConfigError):
            open_ledger(url, tmp_path)
    with pytest.raises(ConfigError, match="no ledger"):
        open_ledger(None, tmp_path, must_exist=True)
    led = open_ledger("sqlite:///x.db", tmp_path)
    led.record(tx(0))
    led.close()
    assert (tmp_path / "x.db").is_file()


# -- reports ---------------------------------------------------------------------------


def _sample() -> list[Transaction]:
    rows = [tx(i, latency_ms=float(i + 1), security_level_reached="HIGH") for i in range(100)]
    rows += [
        tx(DAY + 1, action="match121", outcome="FEEDBACK_RETRY", code=401, http_status=400),
        tx(DAY + 2, outcome="ERROR_INVALID_IMAGE", code=503, http_status=400),
    ]
    return rows


def test_summary_counts_and_latency() -> None:
    s = summarise(_sample())
    assert s["total"] == 102
    assert s["by_action_outcome"] == {
        "match121": {"FEEDBACK_RETRY": 1},
        "process": {"ERROR_INVALID_IMAGE": 1, "FEEDBACK_CAPTURED": 100},
    }
    assert s["by_day"]["2025-01-01"] == {"total": 100, "by_action": {"process": 100}}
    assert s["by_day"]["2025-01-02"]["by_action"] == {"match121": 1, "process": 1}
    assert s["by_security_level_reached"] == {"HIGH": 100, "none": 2}
    lat = s["latency_ms_by_action"]["process"]
    assert lat["count"] == 101
    # Nearest rank over 1..100 plus one DAY+2 latency (86400002 ms): p50 = 51st value.
    assert (lat["p50"], lat["p95"]) == (51.0, 96.0)
    assert s["first_ts"] == "2025-01-01T00:00:00.000Z"
    assert summarise([])["latency_ms"]["p50"] is None


def test_csv_and_json_exports() -> None:
    rows = [*_sample()[:2], tx(5, device_type="=HYPERLINK(1)", quality={"score": 0.5})]
    buf = io.StringIO()
    assert write_csv(rows, buf) == 3
    parsed = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [r["refid"] for r in parsed] == [r.refid for r in rows]
    assert parsed[0]["ts_iso"] == "2025-01-01T00:00:00.000Z"
    assert parsed[0]["security_level_reached"] == "HIGH"
    assert parsed[1]["device_type"] == ""
    assert parsed[2]["device_type"] == "'=HYPERLINK(1)"  # neutralised for spreadsheets
    assert json.loads(parsed[2]["quality"]) == {"score": 0.5}

    out = io.StringIO()
    write_json(iter(rows), out)
    back = json.loads(out.getvalue())
    assert [r["refid"] for r in back] == [r.refid for r in rows]
    assert back[2]["quality"] == {"score": 0.5}
    empty = io.StringIO()
    write_json(iter([]), empty)
    assert json.loads(empty.getvalue()) == []

    out = io.StringIO()
    write_json(summarise(rows), out)
    assert json.loads(out.getvalue())["total"] == 3

    out = io.StringIO()
    write_summary_csv(_sample(), out)
    table = list(csv.reader(io.StringIO(out.getvalue())))
    assert table[0] == ["day", "action", "outcome", "count"]
    assert ["2025-01-01", "process", "FEEDBACK_CAPTURED", "100"] in table
    assert ["2025-01-02", "match121", "FEEDBACK_RETRY", "1"] in table


# -- CLI -------------------------------------------------------------------------------


def test_parse_time() -> None:
    assert parse_time(str(T0)) == T0
    assert parse_time("2025-01-01") == T0
    assert parse_time("2025-01-01", end_of_day=True) == T0 + DAY
    assert parse_time("2025-01-01T01:00:00Z") == T0 + 3_600_000
    assert parse_time("2025-01-01T02:00:00+01:00") == T0 + 3_600_000


def test_report_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACEPROOF_LEDGER_URL", raising=False)
    with SqliteLedger(tmp_path / "ledger.sqlite3") as led:
        for r in _sample():
            led.record(r)
    runner = CliRunner()
    base = ["report", "--data-dir", str(tmp_path)]

    res = runner.invoke(transactions, [*base, "--since", "2025-01-01", "--format", "json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["total"] == 102
    assert summary["period"]["since_ms"] == T0

    res = runner.invoke(
        transactions,
        [*base, "--since", "2025-01-02", "--until", "2025-01-02", "--rows", "--format", "csv"],
    )
    assert res.exit_code == 0, res.output
    parsed = list(csv.DictReader(io.StringIO(res.output)))
    assert sorted(r["action"] for r in parsed) == ["match121", "process"]

    res = runner.invoke(
        transactions,
        [*base, "--since", str(T0), "--action", "match121", "--rows", "--format", "json"],
    )
    assert [r["action"] for r in json.loads(res.output)] == ["match121"]

    res = runner.invoke(transactions, [*base, "--since", "yesterday-ish"])
    assert res.exit_code != 0 and "ISO" in res.output
    res = runner.invoke(
        transactions, ["report", "--data-dir", str(tmp_path / "no"), "--since", "0"]
    )
    assert res.exit_code != 0 and "no ledger" in res.output


def _fds_on(path: Path) -> int:
    """Descriptors of this process open on the database file or its WAL/SHM companions
    (other descriptors of the test process come and go with unrelated work)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed while listing
            continue
        n += target.startswith(str(path))
    return n


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_descriptors_stay_flat_over_burst_idle_cycles(tmp_path: Path) -> None:
    """The server's thread pool starts threads under load and ends them when idle: each
    burst here is 8 fresh threads that record and exit. Connections must not pile up."""
    path = tmp_path / "l.sqlite3"
    led = SqliteLedger(path)
    led.record(tx(0))
    counts = []
    for cycle in range(30):
        barrier = threading.Barrier(8)

        def work(k: int, c: int = cycle, barrier: threading.Barrier = barrier) -> None:
            barrier.wait(timeout=30)  # all 8 at once: the pool must grow, then shrink
            led.record(tx(k, request_id=f"{c}-{k}"))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        counts.append(_fds_on(path))
    rows = sum(1 for _ in led.query(None, None))
    led.close()
    assert rows == 1 + 30 * 8
    # At rest only the idle pool stays open: database + WAL + SHM per connection, plus at
    # most one connection's worth that SQLite's unix VFS parks while another connection of
    # the process holds a lock on the same file. That bound holds after all 30 bursts: the
    # per-thread connections of before added about 16 descriptors with every burst.
    assert max(counts) <= (POOL_IDLE + 1) * 3, counts
    assert _fds_on(path) == 0


def test_health_reports_a_missing_or_replaced_file(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    led = SqliteLedger(path)
    assert led.health() is None
    moved = tmp_path / "moved.sqlite3"
    path.rename(moved)
    assert led.health() == "ledger file missing"
    SqliteLedger(path).close()  # another, empty ledger at the same path
    assert led.health() == "ledger file replaced"
    led.close()
    assert led.health() == "ledger closed"
