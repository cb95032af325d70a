"""The transaction record and the storage interface every ledger backend implements.

The reference sends per-transaction metadata to its cloud "License Manager" for billing
reconciliation; faceproof keeps the same facts locally. A record is metadata only: no image,
template, embedding or match score is ever part of it, so the ledger cannot be used to
re-identify anyone. ``__post_init__`` enforces the shape so that a caller cannot smuggle a
blob in through a free-text field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

QualityValue = float | int | bool | str | None

#: Longest accepted free-text value. Ids, outcome names and quality labels are far shorter;
#: a longer value is almost certainly an encoded payload that must not be stored.
MAX_TEXT = 200
MAX_QUALITY_ITEMS = 64


@dataclass(frozen=True)
class Transaction:
    """One processed request, as reported for reconciliation (metadata only)."""

    refid: str
    action: str
    ts_ms: int
    outcome: str
    code: int
    http_status: int
    endpoint: str
    latency_ms: float
    security_level_requested: str | None = None
    security_level_reached: str | None = None
    quality: dict[str, QualityValue] | None = None
    device_type: str | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("refid", "action", "outcome", "endpoint"):
            _check_text(name, getattr(self, name), required=True)
        for name in (
            "security_level_requested",
            "security_level_reached",
            "device_type",
            "request_id",
        ):
            _check_text(name, getattr(self, name), required=False)
        for name in ("ts_ms", "code", "http_status"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"Transaction.{name} must be an int")
        if not isinstance(self.latency_ms, int | float) or not math.isfinite(self.latency_ms):
            raise ValueError("Transaction.latency_ms must be a finite number")
        if self.quality is not None:
            _check_quality(self.quality)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


#: Column order of stored transactions (every backend); ``quality`` is JSON.
COLUMNS = (
    "refid",
    "action",
    "ts_ms",
    "outcome",
    "code",
    "http_status",
    "endpoint",
    "latency_ms",
    "security_level_requested",
    "security_level_reached",
    "quality",
    "device_type",
    "request_id",
)


def transaction_from_row(row: tuple[object, ...]) -> Transaction:
    """A stored row (in :data:`COLUMNS` order) back as a Transaction; ``quality`` may be JSON
    text (SQLite) or already decoded (PostgreSQL's JSONB)."""
    values = dict(zip(COLUMNS, row, strict=True))
    raw_quality = values.pop("quality")
    quality = json.loads(raw_quality) if isinstance(raw_quality, str) else raw_quality
    return Transaction(quality=quality, **values)  # type: ignore[arg-type]


def select_query(
    table: str,
    placeholder: str,
    since_ms: int | None,
    until_ms: int | None,
    action: str | None,
) -> tuple[str, list[object]]:
    """The time-ordered SELECT of :data:`COLUMNS` every backend runs for ``Ledger.query``,
    with its arguments; ``placeholder`` is the driver's parameter mark (``?`` or ``%s``)."""
    where: list[str] = []
    args: list[object] = []
    for clause, value in (("ts_ms >=", since_ms), ("ts_ms <", until_ms), ("action =", action)):
        if value is not None:
            where.append(f"{clause} {placeholder}")
            args.append(value)
    sql = f"SELECT {', '.join(COLUMNS)} FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY ts_ms, id", args


def transaction_values(tx: Transaction) -> tuple[object, ...]:
    """``tx`` as a row in :data:`COLUMNS` order, ``quality`` as JSON text."""
    quality = None if tx.quality is None else json.dumps(tx.quality, sort_keys=True)
    return (
        tx.refid,
        tx.action,
        tx.ts_ms,
        tx.outcome,
        tx.code,
        tx.http_status,
        tx.endpoint,
        float(tx.latency_ms),
        tx.security_level_requested,
        tx.security_level_reached,
        quality,
        tx.device_type,
        tx.request_id,
    )


def _check_text(name: str, value: object, *, required: bool) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"Transaction.{name} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise ValueError(f"Transaction.{name} is longer than {MAX_TEXT} characters")


def _check_quality(quality: dict[str, QualityValue]) -> None:
    if not isinstance(quality, dict) or len(quality) > MAX_QUALITY_ITEMS:
        raise ValueError(f"Transaction.quality must be a dict of at most {MAX_QUALITY_ITEMS}")
    for key, value in quality.items():
        if not isinstance(key, str) or not key or len(key) > MAX_TEXT:
            raise ValueError("Transaction.quality keys must be short strings")
        if value is None or isinstance(value, bool | int):
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"Transaction.quality[{key!r}] must be finite")
        elif isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise ValueError(f"Transaction.quality[{key!r}] is too long")
        else:
            # Lists/arrays are refused outright: that is what an embedding would look like.
            raise ValueError(f"Transaction.quality[{key!r}] must be a scalar")


@runtime_checkable
class Ledger(Protocol):
    """Append-only transaction store shared by all worker processes."""

    def record(self, tx: Transaction) -> None:
        """Append ``tx``; when this returns the row is durable (survives a crash)."""
        ...

    def query(
        self, since_ms: int | None, until_ms: int | None, action: str | None = None
    ) -> Iterator[Transaction]:
        """Rows with ``since_ms <= ts_ms < until_ms`` (open ends when None), oldest first."""
        ...

    def health(self) -> str | None:
        """None when ``record`` can succeed now (a cheap probe), else the reason, briefly."""
        ...

    def close(self) -> None: ...
