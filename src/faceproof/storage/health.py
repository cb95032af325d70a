"""What ``/api/v1/face_health`` says about the state stores a worker uses.

One line per store: which backend holds it (so an operator can check that every replica of
a scale-out deployment points at the shared Redis/PostgreSQL, not at a private SQLite file)
and whether it answers now. A store that cannot answer makes the probe fail (503) when the
billed endpoints need it (ledger, envelope nonces, challenges); the gallery only serves 1:N
identification, so its problem is reported without failing the probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Stores whose failure makes the worker unhealthy.
CRITICAL = ("ledger", "nonces", "challenges")


@dataclass(frozen=True)
class StoreStatus:
    name: str
    backend: str
    problem: str | None

    def public(self) -> dict[str, str]:
        body = {"backend": self.backend, "status": "OK" if self.problem is None else "ERROR"}
        if self.problem is not None:
            body["reason"] = self.problem
        return body


def backend_of(store: object) -> str:
    """``postgresql``/``redis``/``sqlite``/``memory`` from the store's class name."""
    name = type(store).__name__.lower()
    for prefix, backend in (
        ("pg", "postgresql"),
        ("redis", "redis"),
        ("sqlite", "sqlite"),
        ("memory", "memory"),
    ):
        if name.startswith(prefix):
            return backend
    return type(store).__name__


def probe(name: str, store: Any) -> StoreStatus:
    check = getattr(store, "health", None)
    try:
        problem = check() if callable(check) else None
    except Exception as exc:  # a probe must answer, never raise
        problem = f"{name} unavailable ({type(exc).__name__})"
    return StoreStatus(name, backend_of(store), problem)


def store_statuses(stores: dict[str, Any]) -> list[StoreStatus]:
    """Probes each present store (None values are skipped: not configured in this worker)."""
    return [probe(name, store) for name, store in stores.items() if store is not None]
