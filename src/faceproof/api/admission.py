"""The bounded queue of one worker: beyond it, 503 ``ERROR_SERVER_BUSY`` with ``Retry-After``.

A compute request (a billed ``POST``: every endpoint that runs the models) holds one of the
worker's ``FACEPROOF_WORKER_THREADS`` threads while it runs; more may be admitted and wait,
up to ``FACEPROOF_QUEUE_SIZE``. A request that would wait beyond that is answered at once,
before its body is read: under overload, clients get a fast refusal they can retry (or a
load balancer can send elsewhere) instead of a latency that grows without bound. Cheap
requests (health, public key, time, challenge, SDK assets, /metrics) are never queued here.

``Retry-After`` is the time the queue ahead needs to drain, from a moving average of how
long compute requests take: ``ceil(admitted × mean_seconds / threads)``, between 1 and 30.

A compute request is also refused before its body is read while a store it needs (the
ledger; for a capture, the envelope nonces and challenges too) is known to be down: 503
``ERROR_STORE_UNAVAILABLE``, nothing in the request used (:func:`check_stores`,
:mod:`faceproof.storage.outage`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import anyio

from faceproof.api.metrics import metrics
from faceproof.storage.health import CRITICAL
from faceproof.storage.outage import NOT_USED, OUTAGES, StoreUnavailable

#: Weight of the newest observation in the moving average of service time.
_ALPHA = 0.1
MAX_RETRY_AFTER_S = 30


@dataclass
class Admission:
    threads: int
    queue_size: int
    in_flight: int = 0
    mean_seconds: float = 0.25  # prior until the first requests are measured

    @property
    def capacity(self) -> int:
        return self.threads + self.queue_size

    @property
    def depth(self) -> int:
        """Admitted requests that are waiting for a thread (an upper bound: some of the
        running ones may still be reading their body)."""
        return max(0, self.in_flight - self.threads)

    def try_enter(self) -> bool:
        """Admits one request (the event loop is single-threaded: no lock needed)."""
        if self.in_flight >= self.capacity:
            return False
        self.in_flight += 1
        self._publish()
        return True

    def leave(self, started: float) -> None:
        self.in_flight -= 1
        elapsed = time.perf_counter() - started
        self.mean_seconds += _ALPHA * (elapsed - self.mean_seconds)
        self._publish()

    def retry_after(self) -> int:
        wait = self.in_flight * self.mean_seconds / max(1, self.threads)
        return int(min(MAX_RETRY_AFTER_S, max(1, math.ceil(wait))))

    def _publish(self) -> None:
        m = metrics()
        m.in_flight.set(self.in_flight)
        m.queue_depth.set(self.depth)


#: What every billed request writes to; a capture (a multipart body: the envelope) also
#: claims its nonce and redeems its challenge. JSON requests carry no capture.
_ALWAYS = frozenset({"ledger"})
_CAPTURE = CRITICAL


async def check_stores(content_type: str) -> None:
    """Raises 503 ``ERROR_STORE_UNAVAILABLE`` while a store this billed request needs is down
    (a Redis outage does not stop /matchWithSelfie, which never touches Redis).

    Called before the body is read, so the refused request used nothing (its capture can be
    sent again as it is). Once the store's ``Retry-After`` has passed, one request probes it
    (one round trip, in a thread) and goes on if it answers; the others are refused until
    then. With every store up this is one dictionary check.
    """
    multipart = content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"
    needed = _CAPTURE if multipart else _ALWAYS
    while (blocked := OUTAGES.blocking(needed)) is not None:
        store, backend, cause, probe = blocked
        if probe is None or not await anyio.to_thread.run_sync(OUTAGES.probe, store, probe):
            raise StoreUnavailable(store, backend, cause, NOT_USED)
