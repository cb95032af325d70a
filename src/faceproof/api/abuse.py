"""Abuse limits: failed liveness attempts per client, device and origin; challenges per client.

An attacker tuning a presentation attack needs many tries; a person who fails liveness a
few times in a row needs to be told to stop and wait, not scored again and again. So:

* **failed attempts**: a capture or image refused by liveness on a liveness endpoint (401
  ``FEEDBACK_RETRY`` / ``FEEDBACK_RETRY_INSECURE``, or ``is_spoof: true`` on /face/as and
  /secure/face/as) counts one failure for its client address, its device (when the
  envelope describes one) and, if enabled, its ``Origin``.
  Once a subject has ``FACEPROOF_ABUSE_FAILURES`` failures in the last
  ``FACEPROOF_ABUSE_WINDOW_SECONDS`` (5 in 180 s by default), its next attempts are answered
  429 ``ERROR_TOO_MANY_ATTEMPTS`` with ``Retry-After`` before any image is looked at, until
  the oldest failure leaves the window. Successes do not reset the count: a success between
  attempts is no reason to grant more attempts.
* **challenges**: ``POST /api/v1/challenge`` writes a row per call, so it is rate-limited per
  client address (``FACEPROOF_CHALLENGE_RATE`` per ``FACEPROOF_CHALLENGE_RATE_WINDOW_SECONDS``,
  30 per minute by default): 429 ``ERROR_TOO_MANY_REQUESTS`` with ``Retry-After``.

The client address is the TCP peer, or, only when the peer is one of
``FACEPROOF_TRUSTED_PROXIES``, the right-most ``X-Forwarded-For`` address that is not itself a
trusted proxy (the left-most entries are whatever the client wrote). The device is a hash of
the envelope's ``device`` block (type, camera label, user agent, platform, track settings):
whatever the sender wrote, so it only slows a careless attacker, as the docs say; the client
address is the limit that holds. The origin limit is off by default: an ``Origin`` header is
free to forge outside a browser, and a per-origin lock would let anyone lock a whole site out.

Counters are shared by all workers of a host (SQLite in the data dir) or by all replicas
(``FACEPROOF_REDIS_URL``), :mod:`faceproof.storage.counters`. If the counter store fails,
the request is served (a log line says so: for Redis not answering, the one
``store_unavailable`` line of the outage): the limits are a brake, not an authentication.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from faceproof.api.routes import API
from faceproof.errors import ApiError, Err
from faceproof.storage.counters import Counters, Verdict, open_counters, subject_hash
from faceproof.storage.outage import StoreUnavailable

if TYPE_CHECKING:
    from faceproof.config import Settings
    from faceproof.crypto.envelope import DeviceInfo

log = logging.getLogger("faceproof.abuse")

#: Endpoints whose 401 answers are failed liveness attempts.
LIVENESS_PATHS = frozenset(
    f"{API}/{p}" for p in ("process", "secure/face/as", "face/as", "verifyWithPictureId")
)
CHALLENGE_PATH = f"{API}/challenge"
#: Outcomes that count as a failed attempt: the 401 refusals, and the spoof verdict that
#: /face/as and /secure/face/as answer 200 with ``is_spoof: true`` (as documented there).
FAILED_OUTCOMES = frozenset({"FEEDBACK_RETRY", "FEEDBACK_RETRY_INSECURE", "FEEDBACK_SPOOF"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> list[Network]:
    return [ipaddress.ip_network(x.strip(), strict=False) for x in spec.split(",") if x.strip()]


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def in_networks(address: str | None, networks: Iterable[Network]) -> bool:
    ip = _ip(address) if address else None
    return ip is not None and any(ip in net for net in networks)


def client_address(peer: str | None, forwarded_for: list[str], trusted: list[Network]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy (see module doc)."""
    address = peer or "unknown"
    if not trusted or not in_networks(peer, trusted):
        return address
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            return address  # a malformed hop: trust nothing to its left
        address = str(ip)
        if not any(ip in net for net in trusted):
            return address
    return address


def device_key(device: DeviceInfo) -> str | None:
    """A stable description of the capturing device, or None when the envelope gives none."""
    described = {
        "type": device.type,
        "cameraLabel": device.cameraLabel,
        "userAgent": device.userAgent,
        "platform": device.platform,
        "track": device.track,
    }
    if not any(v for k, v in described.items() if k != "type") and device.type == "unknown":
        return None
    return json.dumps(described, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class Attempt:
    """One liveness request's subjects; the device is filled in when the envelope opens."""

    limits: AbuseLimits
    subjects: list[tuple[str, int]] = field(default_factory=list)  # (hashed subject, limit)
    device: str | None = None
    retry_after: float = 0.0

    def check_device(self, device: DeviceInfo) -> None:
        self.limits.check_device(self, device)

    @property
    def retry_after_header(self) -> int | None:
        """Whole seconds for ``Retry-After`` once a limit refused the attempt."""
        return max(1, math.ceil(self.retry_after)) if self.retry_after > 0 else None


class AbuseLimits:
    def __init__(self, settings: Settings, counters: Counters) -> None:
        self.counters = counters
        self.failures = settings.abuse_failures
        self.origin_failures = settings.abuse_origin_failures
        self.window = float(settings.abuse_window_seconds)
        self.challenge_rate = settings.challenge_rate
        self.challenge_window = float(settings.challenge_rate_window_seconds)
        self.trusted = parse_networks(settings.trusted_proxies)

    def client(self, scope: dict[str, Any]) -> str:
        peer = scope.get("client")
        forwarded = [
            v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"
        ]
        return client_address(peer[0] if peer else None, forwarded, self.trusted)

    # -- failed liveness attempts -----------------------------------------------------------

    def begin_attempt(self, scope: dict[str, Any], origin: str | None) -> Attempt | None:
        """Checks the client and origin limits of a liveness request (raises 429 when over);
        returns the attempt to record a failure against, None when the limits are off."""
        if self.failures <= 0 and self.origin_failures <= 0:
            return None
        attempt = Attempt(self)
        if self.failures > 0:
            attempt.subjects.append((subject_hash("client", self.client(scope)), self.failures))
        if self.origin_failures > 0 and origin:
            attempt.subjects.append(
                (subject_hash("origin", origin.strip().lower()), self.origin_failures)
            )
        self._check(attempt, attempt.subjects)
        return attempt

    def check_device(self, attempt: Attempt, device: DeviceInfo) -> None:
        if self.failures <= 0:
            return
        described = device_key(device)
        if described is None:
            return
        attempt.device = subject_hash("device", described)
        self._check(attempt, [(attempt.device, self.failures)])

    def record_failure(self, attempt: Attempt) -> None:
        subjects = list(attempt.subjects)
        if attempt.device is not None:
            subjects.append((attempt.device, self.failures))
        for subject, limit in subjects:
            self._call("add", subject, limit, self.window)

    def _check(self, attempt: Attempt, subjects: list[tuple[str, int]]) -> None:
        waits = [self._call("check", s, limit, self.window).retry_after for s, limit in subjects]
        wait = max(waits, default=0.0)
        if wait > 0:
            attempt.retry_after = wait
            raise LimitExceeded(Err.TOO_MANY_ATTEMPTS, wait)

    # -- challenges ---------------------------------------------------------------------

    def acquire_challenge(self, scope: dict[str, Any]) -> None:
        if self.challenge_rate <= 0:
            return
        subject = subject_hash("challenge", self.client(scope))
        verdict = self._call("acquire", subject, self.challenge_rate, self.challenge_window)
        if verdict.blocked:
            raise LimitExceeded(Err.TOO_MANY_REQUESTS, verdict.retry_after)

    def _call(self, op: str, subject: str, limit: int, window: float) -> Verdict:
        try:
            result: Verdict = getattr(self.counters, op)(subject, limit, window)
            return result
        except StoreUnavailable:  # fail open; the outage has its one log line (storage/outage)
            return Verdict(0, 0.0)
        except Exception as exc:  # fail open: see the module docstring
            log.error(
                json.dumps({"event": "abuse_counter_failed", "error_type": type(exc).__name__})
            )
            return Verdict(0, 0.0)

    def close(self) -> None:
        self.counters.close()


class LimitExceeded(ApiError):
    """A 429 refusal; ``retry_after`` whole seconds go into the ``Retry-After`` header."""

    def __init__(self, kind: Err, wait_s: float) -> None:
        self.retry_after = max(1, math.ceil(wait_s))
        super().__init__(kind, f"{kind.value.default_description} (in {self.retry_after} s)")


def build_abuse_limits(settings: Settings) -> AbuseLimits:
    return AbuseLimits(settings, open_counters(settings.data_dir, settings.redis_url))
