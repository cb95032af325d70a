"""``faceproof transactions``: reports from the local transaction ledger.

Registered on the main ``faceproof`` group by ``faceproof.cli``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

import click

from faceproof.config import ConfigError, load_settings
from faceproof.ledger import open_ledger
from faceproof.ledger.report import summarise, write_csv, write_json, write_summary_csv

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_time(value: str, *, end_of_day: bool = False) -> int:
    """Epoch milliseconds from digits, an ISO date or an ISO date-time (naive = UTC).

    With ``end_of_day`` a bare date means the *end* of that day, so
    ``--since 2025-01-01 --until 2025-01-31`` covers all of January inclusive.
    """
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        if _DATE_ONLY.match(text):
            day = date.fromisoformat(text) + timedelta(days=1 if end_of_day else 0)
            dt = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            dt = datetime.fromisoformat(text)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date/date-time or epoch milliseconds"
        ) from None
    return int(dt.timestamp() * 1000)


@click.group("transactions")
def transactions() -> None:
    """Transaction ledger (the local License Manager record)."""


@transactions.command("report")
@click.option("--since", required=True, help="Start (inclusive): ISO date/date-time or epoch ms.")
@click.option("--until", default=None, help="End: a bare date is inclusive, else exclusive.")
@click.option("--action", default=None, help="Only this action (e.g. process, match121).")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="json", show_default=True
)
@click.option("--rows", is_flag=True, help="Export the transactions instead of a summary.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory holding the ledger (default: FACEPROOF_DATA_DIR).",
)
@click.option(
    "--out",
    type=click.File("w", encoding="utf-8", lazy=True),
    default="-",
    help="Output file (default: standard output).",
)
def report(
    since: str,
    until: str | None,
    action: str | None,
    fmt: str,
    rows: bool,
    data_dir: Path | None,
    out: IO[str],
) -> None:
    """Summarise (or export with --rows) the transactions in a time range.

    Summary CSV: one line per UTC day, action and outcome with its count. Summary JSON adds
    counts per security level reached and latency percentiles.
    """
    since_ms = parse_time(since)
    until_ms = None if until is None else parse_time(until, end_of_day=True)
    if until_ms is not None and until_ms <= since_ms:
        raise click.BadParameter("must be after --since", param_hint="--until")
    try:
        settings = load_settings()
        ledger = open_ledger(
            settings.ledger_url,
            data_dir or settings.data_dir,
            must_exist=True,
            database_url=settings.database_url,
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        txs = ledger.query(since_ms, until_ms, action)
        if rows and fmt == "csv":
            write_csv(txs, out)
        elif rows:
            write_json(txs, out)
        elif fmt == "csv":
            write_summary_csv(txs, out)
        else:
            summary = summarise(txs)
            summary["period"] = {"since_ms": since_ms, "until_ms": until_ms, "action": action}
            write_json(summary, out)
    finally:
        ledger.close()
