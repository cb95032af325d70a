"""Ledger reports: the counts an operator reconciles against billing, and raw exports.

Days are UTC calendar days so that two operators in different time zones get the same
numbers. Percentiles use the nearest-rank method: every reported latency is one that was
actually observed.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import IO, Any

from faceproof.ledger.base import Transaction

ROW_FIELDS = (
    "refid",
    "action",
    "ts_ms",
    "ts_iso",
    "outcome",
    "code",
    "http_status",
    "endpoint",
    "latency_ms",
    "security_level_requested",
    "security_level_reached",
    "device_type",
    "request_id",
    "quality",
)
SUMMARY_FIELDS = ("day", "action", "outcome", "count")
NO_LEVEL = "none"

# Spreadsheet formula injection: a cell starting with one of these is evaluated by Excel /
# LibreOffice. Client-supplied fields (device type, request id) could carry one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iso_utc(ts_ms: int) -> str:
    """``2025-01-31T12:00:00.123Z`` for an epoch-milliseconds timestamp."""
    dt = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day_utc(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).date().isoformat()


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _latency(values: list[float]) -> dict[str, float | int | None]:
    values.sort()
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": values[-1] if values else None,
    }


def summarise(rows: Iterable[Transaction]) -> dict[str, Any]:
    """Counts per action x outcome, per UTC day, per security level reached; latency.

    One pass over ``rows``, so it works on a lazy ledger query of any length.
    """
    total = 0
    first: int | None = None
    last: int | None = None
    by_action_outcome: dict[str, Counter[str]] = defaultdict(Counter)
    by_day: dict[str, Counter[str]] = defaultdict(Counter)
    by_level: Counter[str] = Counter()
    latencies: list[float] = []
    latencies_by_action: dict[str, list[float]] = defaultdict(list)
    for tx in rows:
        total += 1
        first = tx.ts_ms if first is None else min(first, tx.ts_ms)
        last = tx.ts_ms if last is None else max(last, tx.ts_ms)
        by_action_outcome[tx.action][tx.outcome] += 1
        by_day[day_utc(tx.ts_ms)][tx.action] += 1
        by_level[tx.security_level_reached or NO_LEVEL] += 1
        latencies.append(float(tx.latency_ms))
        latencies_by_action[tx.action].append(float(tx.latency_ms))
    return {
        "total": total,
        "first_ts": None if first is None else iso_utc(first),
        "last_ts": None if last is None else iso_utc(last),
        "by_action_outcome": {
            a: dict(sorted(c.items())) for a, c in sorted(by_action_outcome.items())
        },
        "by_day": {
            d: {"total": sum(c.values()), "by_action": dict(sorted(c.items()))}
            for d, c in sorted(by_day.items())
        },
        "by_security_level_reached": dict(sorted(by_level.items())),
        "latency_ms": _latency(latencies),
        "latency_ms_by_action": {a: _latency(v) for a, v in sorted(latencies_by_action.items())},
    }


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def row_dict(tx: Transaction) -> dict[str, object]:
    """A transaction as a flat, export-ready mapping (``quality`` kept as an object)."""
    d = tx.as_dict()
    d["ts_iso"] = iso_utc(tx.ts_ms)
    return {k: d[k] for k in ROW_FIELDS}


def write_csv(rows: Iterable[Transaction], fh: IO[str]) -> int:
    """One CSV line per transaction (``quality`` as a JSON cell); returns the row count."""
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(ROW_FIELDS)
    n = 0
    for tx in rows:
        d = row_dict(tx)
        q = d["quality"]
        d["quality"] = "" if q is None else json.dumps(q, sort_keys=True)
        writer.writerow(["" if d[k] is None else _cell(d[k]) for k in ROW_FIELDS])
        n += 1
    return n


def write_summary_csv(rows: Iterable[Transaction], fh: IO[str]) -> int:
    """Counts per (UTC day, action, outcome): the billing reconciliation table."""
    counts: Counter[tuple[str, str, str]] = Counter(
        (day_utc(tx.ts_ms), tx.action, tx.outcome) for tx in rows
    )
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(SUMMARY_FIELDS)
    for (day, action, outcome), n in sorted(counts.items()):
        writer.writerow([day, _cell(action), _cell(outcome), n])
    return len(counts)


def write_json(summary_or_rows: Mapping[str, Any] | Iterable[Transaction], fh: IO[str]) -> None:
    """A summary as one JSON object, or transactions as a JSON array streamed row by row."""
    if isinstance(summary_or_rows, Mapping):
        json.dump(summary_or_rows, fh, indent=2, sort_keys=False)
        fh.write("\n")
        return
    fh.write("[")
    sep = "\n"
    for tx in summary_or_rows:
        fh.write(sep)
        fh.write(json.dumps(row_dict(tx), sort_keys=False))
        sep = ",\n"
    fh.write("\n]\n")
