"""A shared store that stops answering: one exception, one answer, one log line per outage.

Redis (nonces, challenges, abuse counters) and PostgreSQL (ledger, galleries) are other
processes on other hosts; they restart, fail over and drop connections. When one does not
answer, the request is refused with HTTP 503 ``ERROR_STORE_UNAVAILABLE`` and a
``Retry-After`` (the documented error body, ``Problem.STORE_UNAVAILABLE``): a server that
works and will answer again, not a 500. The driver's exception is translated where the
store is reached (``redis_client``, ``postgres``), so no driver text, URL or stack trace
goes further; the message names the store and says whether the request may be sent again.

Each process remembers which stores are down (:data:`OUTAGES`). The first failure of a store
logs one JSON line (``store_unavailable``); its first success afterwards logs one line
(``store_recovered``); the requests in between are visible in the access log by their
outcome. While a store a billed request needs is down (the ledger; for a capture, the nonce
and challenge stores too), it is refused before its body is read, so nothing in it is used
(its capture's nonce and challenge stay unused and the same request can be sent again once
the store is back); after ``RETRY_AFTER_S`` one request probes the store and the others go
on waiting.
docs/api-decisions.md ("A store that does not answer") describes what a caller gets.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from faceproof.errors import ApiError, Err, Problem, problem
from faceproof.storage.health import CRITICAL  # the stores a billed request needs

log = logging.getLogger("faceproof.storage")

#: ``Retry-After`` of a store refusal: a restart or fail-over takes seconds, and a caller
#: retrying sooner would only meet the same refusal.
RETRY_AFTER_S = 5
#: Each store in the words of a message.
STORE_NAMES = {
    "nonces": "envelope nonce store",
    "challenges": "liveness challenge store",
    "counters": "abuse-limit counter store",
    "ledger": "transaction ledger",
    "gallery": "gallery database",
    "redis": "shared Redis",
}
BACKEND_NAMES = {"redis": "Redis", "postgresql": "PostgreSQL", "sqlite": "SQLite"}

#: What happened to the request, for the message.
NOT_USED = "the request was not processed and nothing in it was used; send the same request again."
MAYBE_USED = (
    "the request was not completed; a capture in it may have been used, so capture and seal "
    "it again; any other request can be sent again as it is."
)
WITHHELD = (
    "the answer could not be recorded, so it is withheld; the capture in it was used, so "
    "capture and seal it again; any other request can be sent again as it is."
)


class StoreUnavailable(ApiError):
    """A store did not answer (connection refused or lost, timeout, server shutting down).

    Raised by the storage layer in place of the driver's exception, already the documented
    refusal: 503 ``ERROR_STORE_UNAVAILABLE`` naming the store, with ``Retry-After``.
    ``cause`` keeps only the driver exception's type name (for the log line and
    ``/face_health``); ``effect`` says what became of the request: by default that a capture
    in it may have been used (the store failed somewhere after the request began).
    """

    def __init__(self, store: str, backend: str, cause: str, effect: str | None = None) -> None:
        self.store = store
        self.backend = backend
        self.cause = cause
        answer = problem(
            Problem.STORE_UNAVAILABLE,
            store=STORE_NAMES.get(store, store),
            backend=BACKEND_NAMES.get(backend, backend),
            effect=effect or MAYBE_USED,
            retry=RETRY_AFTER_S,
        )
        assert answer.kind == Err.STORE_UNAVAILABLE.value
        super().__init__(Err.STORE_UNAVAILABLE, answer.description)
        self.retry_after = RETRY_AFTER_S

    def saying(self, effect: str) -> StoreUnavailable:
        """The same refusal with another ``effect`` (the caller knows better)."""
        return StoreUnavailable(self.store, self.backend, self.cause, effect)


def error_name(exc: BaseException) -> str:
    """The type name to report for a store failure (the driver's, not ours)."""
    return exc.cause if isinstance(exc, StoreUnavailable) else type(exc).__name__


@dataclass
class _Down:
    backend: str
    cause: str
    probe: Callable[[], None] | None
    next_probe: float
    probing: bool = False


@dataclass
class Outages:
    """The stores this process has found down, and when to probe them again."""

    _down: dict[str, _Down] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def failed(
        self, store: str, backend: str, cause: str, probe: Callable[[], None] | None = None
    ) -> None:
        """``store`` did not answer: logs once per outage, schedules the next probe."""
        with self._lock:
            first = store not in self._down
            self._down[store] = _Down(
                backend, cause, probe, time.monotonic() + RETRY_AFTER_S, probing=False
            )
        if first:
            log.error(
                json.dumps(
                    {
                        "event": "store_unavailable",
                        "store": store,
                        "backend": backend,
                        "error_type": cause,
                        "retry_after_s": RETRY_AFTER_S,
                    }
                )
            )

    def answered(self, store: str) -> None:
        """``store`` answered: the end of its outage, if it had one (one log line)."""
        if store not in self._down:  # the common case: no lock, nothing to do
            return
        with self._lock:
            was = self._down.pop(store, None)
        if was is not None:
            log.warning(
                json.dumps({"event": "store_recovered", "store": store, "backend": was.backend})
            )

    def is_down(self, store: str) -> bool:
        return store in self._down

    def blocking(
        self, needed: Iterable[str] = CRITICAL
    ) -> tuple[str, str, str, Callable[[], None] | None] | None:
        """A ``needed`` store that is down: (store, backend, cause, probe to run now or None).

        The probe is handed to one caller once the store's retry time has passed (it runs
        it off the event loop, :meth:`probe`); until then, and while it runs, every caller
        gets no probe: refuse.
        """
        if not self._down:
            return None
        now = time.monotonic()
        needed = frozenset(needed)
        with self._lock:
            for store, down in self._down.items():
                if store not in needed:
                    continue
                if down.probe is not None and not down.probing and now >= down.next_probe:
                    down.probing = True
                    return store, down.backend, down.cause, down.probe
                return store, down.backend, down.cause, None
        return None

    def probe(self, store: str, run: Callable[[], None]) -> bool:
        """Runs ``run`` (blocking) for ``store``; True when it answered."""
        with self._lock:
            down = self._down.get(store)
            backend = down.backend if down is not None else ""
        try:
            run()
        except Exception as exc:
            self.failed(store, backend, error_name(exc), run)
            return False
        self.answered(store)
        return True

    def clear(self) -> None:
        """Forget every outage (tests)."""
        with self._lock:
            self._down.clear()


#: This process's view (each worker process finds and logs an outage on its own).
OUTAGES = Outages()
