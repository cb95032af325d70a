"""Abuse limits on one server: failed liveness attempts per client, device and origin, and
the challenge rate; the counters in SQLite (shared by processes) and in a real Redis.

The cross-replica check (two servers behind nginx, one Redis) is in the scale-out tests.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from faceproof.api.abuse import client_address, device_key, parse_networks
from faceproof.config import Settings
from faceproof.crypto.envelope import DeviceInfo, build_envelope
from faceproof.storage.counters import Counters, RedisCounters, SqliteCounters
from imaging import LIVE_VIDEO, encode, video_frames

# -- the client address ---------------------------------------------------------------------


def test_client_address_is_the_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    trusted = parse_networks("10.0.0.0/8, ::1")
    xff = ["198.51.100.7, 10.0.0.5"]
    assert client_address("203.0.113.9", xff, []) == "203.0.113.9"  # nothing trusted
    assert client_address("203.0.113.9", xff, trusted) == "203.0.113.9"  # peer not trusted
    # Trusted peer: the right-most hop that is not a trusted proxy.
    assert client_address("10.0.0.1", xff, trusted) == "198.51.100.7"
    # What the client wrote on the left cannot choose its address.
    spoofed = ["1.1.1.1, 198.51.100.7"]
    assert client_address("10.0.0.1", spoofed, trusted) == "198.51.100.7"
    # Several headers are one list; IPv6 peers; a hop with a port.
    assert client_address("::1", ["192.0.2.1", "10.1.1.1"], trusted) == "192.0.2.1"
    assert client_address("10.0.0.1", ["192.0.2.44:5123"], trusted) == "192.0.2.44"
    # A malformed hop: nothing to its left is believed.
    assert client_address("10.0.0.1", ["192.0.2.1, junk, 10.0.0.9"], trusted) == "10.0.0.9"
    # No header: the proxy itself.
    assert client_address("10.0.0.1", [], trusted) == "10.0.0.1"


def test_device_key_ignores_an_empty_device_and_tells_devices_apart() -> None:
    assert device_key(DeviceInfo()) is None
    a = device_key(DeviceInfo(cameraLabel="Integrated Camera", userAgent="UA 1"))
    b = device_key(DeviceInfo(cameraLabel="Integrated Camera", userAgent="UA 2"))
    assert a and b and a != b
    assert a == device_key(DeviceInfo(userAgent="UA 1", cameraLabel="Integrated Camera"))


# -- the counters -----------------------------------------------------------------------------


def _exercise(counters: Counters, window: float) -> None:
    """check/add/acquire semantics of an exact sliding window (shared by both stores)."""
    s = "subject-a"
    for _ in range(3):
        assert not counters.check(s, 3, window).blocked
        counters.add(s, 3, window)
    verdict = counters.check(s, 3, window)
    assert verdict.blocked and verdict.count == 3
    assert 0 < verdict.retry_after <= window
    assert not counters.check("subject-b", 3, window).blocked  # subjects are separate
    # acquire: admitted while under the limit, refused after, with the wait.
    for _ in range(2):
        assert not counters.acquire("rate", 2, window).blocked
    refused = counters.acquire("rate", 2, window)
    assert refused.blocked and refused.count == 2
    # add beyond the limit keeps only the newest events (bounded storage).
    for _ in range(20):
        counters.add("flood", 3, window)
    assert counters.check("flood", 3, window).count == 3
    time.sleep(window + 0.1)
    assert not counters.check(s, 3, window).blocked  # the events left the window
    assert counters.check(s, 3, window).count == 0
    assert not counters.acquire("rate", 2, window).blocked


def test_sqlite_counters_slide(tmp_path: Path) -> None:
    counters = SqliteCounters(tmp_path / "abuse.sqlite3")
    _exercise(counters, window=1.0)
    counters.close()
    # Subjects are stored as given (already hashed by the policy); nothing else is kept.
    with sqlite3.connect(tmp_path / "abuse.sqlite3") as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
    assert columns == ["subject", "ts"]


def _add_from_child(path: str, n: int) -> None:
    counters = SqliteCounters(Path(path))
    for _ in range(n):
        counters.add("shared", 100, 60.0)
    counters.close()


def test_sqlite_counters_are_shared_by_processes(tmp_path: Path) -> None:
    path = tmp_path / "abuse.sqlite3"
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_add_from_child, args=(str(path), 7)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert SqliteCounters(path).check("shared", 100, 60.0).count == 21


def test_redis_counters_slide_on_a_real_redis() -> None:
    from redis_server import redis_binary, redis_server

    if redis_binary() is None:
        pytest.skip("redis-server not installed (scripts/install.sh --dev installs it)")
    from faceproof.storage.redis_client import close_all, shared_redis

    with redis_server() as url:
        try:
            client = shared_redis(url)
            _exercise(RedisCounters(client), window=1.0)
            keys = [k.decode() for k in client.keys("*")]
            assert keys and all(k.startswith("faceproof:abuse:") for k in keys)
            assert all(0 < client.pttl(k) <= 1000 for k in keys)  # expire with the window
        finally:
            close_all()


# -- through the API --------------------------------------------------------------------------

PROXY = ("127.0.0.1", 40000)  # the test client's address, configured as a trusted proxy


@pytest.fixture
def limited_app(
    make_settings: Callable[..., Settings], models_path: Path, data_root: Path
) -> Iterator[Callable[..., TestClient]]:
    from faceproof.api.app import create_app

    made: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = make_settings(
            require_models=True, model_dir=models_path, trusted_proxies="127.0.0.1", **overrides
        )
        client = TestClient(create_app(settings), client=PROXY)
        client.__enter__()
        made.append(client)
        return client

    yield make
    for client in made:
        client.__exit__(None, None, None)


def _frame() -> bytes:
    if not LIVE_VIDEO.is_file():
        pytest.skip("live video not present")
    return encode(video_frames()[3])


def _insecure(client: TestClient, ip: str, device: dict[str, Any] | None = None) -> Any:
    """A capture from ``ip`` that liveness refuses for sure (a webdriver-flagged camera)."""
    jwk = client.app.state.services.keystore.public_jwk()  # type: ignore[attr-defined]
    device = device or {"cameraLabel": "Integrated Camera", "userAgent": f"UA of {ip}"}
    token = build_envelope([_frame()], jwk, device={**device, "flags": ["webdriver"]})
    return client.post(
        "/api/v1/secure/face/as",
        files={"file": ("bdata", token)},
        headers={"X-Forwarded-For": ip},
    )


def _rejected(reason: str) -> float:
    """``faceproof_rejected_total{reason}`` of this process (no multi-process dir in tests)."""
    from prometheus_client import REGISTRY

    from faceproof.api.metrics import metrics

    metrics()
    return REGISTRY.get_sample_value("faceproof_rejected_total", {"reason": reason}) or 0.0


def _assert_429(r: Any, name: str, window: int) -> None:
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["code"] == 429 and body["message"] == name
    assert body["refid"].startswith("W-face-") and body["description"]
    assert 1 <= int(r.headers["Retry-After"]) <= window


@pytest.mark.models
def test_failed_attempts_per_client_then_429_with_retry_after(
    limited_app: Callable[..., TestClient],
) -> None:
    c = limited_app(abuse_failures=3, abuse_window_seconds=120)
    for _ in range(3):
        r = _insecure(c, "198.51.100.1", device={"userAgent": f"agent {time.time_ns()}"})
        assert r.status_code == 400 and r.json()["message"] == "FEEDBACK_RETRY_INSECURE"
    # The 4th attempt of that client is refused before any image work, whatever its device.
    r = _insecure(c, "198.51.100.1", device={"userAgent": "a brand new device"})
    _assert_429(r, "ERROR_TOO_MANY_ATTEMPTS", 120)
    # Another client is not affected.
    r = _insecure(c, "198.51.100.2")
    assert r.status_code == 400 and r.json()["message"] == "FEEDBACK_RETRY_INSECURE"
    # The refusal is in the ledger as such (billed endpoint, refused request).
    rows = list(c.app.state.services.ledger.query(None, None))  # type: ignore[attr-defined]
    assert any(row.code == 429 and row.outcome == "ERROR_TOO_MANY_ATTEMPTS" for row in rows)


@pytest.mark.models
def test_failed_attempts_per_device_across_client_addresses(
    limited_app: Callable[..., TestClient],
) -> None:
    c = limited_app(abuse_failures=2, abuse_window_seconds=120)
    device = {"cameraLabel": "Camera 7", "userAgent": "same phone", "platform": "Linux"}
    for ip in ("192.0.2.1", "192.0.2.2"):
        assert _insecure(c, ip, device).status_code == 400
    # A third address, same device: refused once the envelope is open (and counted).
    before = _rejected("attempts")
    _assert_429(_insecure(c, "192.0.2.3", device), "ERROR_TOO_MANY_ATTEMPTS", 120)
    assert _rejected("attempts") == before + 1
    assert _insecure(c, "192.0.2.3", {"userAgent": "another phone"}).status_code == 400


@pytest.mark.models
def test_failed_attempts_per_origin_when_enabled(
    limited_app: Callable[..., TestClient],
) -> None:
    c = limited_app(abuse_failures=100, abuse_origin_failures=2, abuse_window_seconds=120)
    origin = {"Origin": "http://localhost:5173"}
    jwk = c.app.state.services.keystore.public_jwk()  # type: ignore[attr-defined]
    for i in range(3):
        token = build_envelope(
            [_frame()], jwk, device={"userAgent": f"ua {i}", "flags": ["webdriver"]}
        )
        r = c.post(
            "/api/v1/secure/face/as",
            files={"file": ("bdata", token)},
            headers={**origin, "X-Forwarded-For": f"203.0.113.{i + 1}"},
        )
        if i < 2:
            assert r.status_code == 400, r.text
    _assert_429(r, "ERROR_TOO_MANY_ATTEMPTS", 120)
    assert r.headers["Access-Control-Allow-Origin"] == origin["Origin"]
    assert "Retry-After" in r.headers["Access-Control-Expose-Headers"]


@pytest.mark.models
def test_challenge_rate_per_client(limited_app: Callable[..., TestClient]) -> None:
    c = limited_app(challenge_rate=3, challenge_rate_window_seconds=60)
    a = {"X-Forwarded-For": "198.51.100.9"}
    for _ in range(3):
        assert c.post("/api/v1/challenge", headers=a).status_code == 200
    before = _rejected("challenges")
    r = c.post("/api/v1/challenge", headers=a)
    _assert_429(r, "ERROR_TOO_MANY_REQUESTS", 60)
    assert _rejected("challenges") == before + 1
    assert (
        c.post("/api/v1/challenge", headers={"X-Forwarded-For": "198.51.100.10"}).status_code == 200
    )
    # An untrusted peer cannot pick its address with the header.
    stranger = TestClient(c.app, client=("192.0.2.50", 1234))
    for i in range(3):
        assert (
            stranger.post(
                "/api/v1/challenge", headers={"X-Forwarded-For": f"10.9.9.{i}"}
            ).status_code
            == 200
        )
    _assert_429(
        stranger.post("/api/v1/challenge", headers={"X-Forwarded-For": "10.9.9.99"}),
        "ERROR_TOO_MANY_REQUESTS",
        60,
    )


@pytest.mark.models
def test_limits_off_when_zero(limited_app: Callable[..., TestClient]) -> None:
    c = limited_app(abuse_failures=0, challenge_rate=0)
    for _ in range(4):
        assert _insecure(c, "198.51.100.1").status_code == 400
    for _ in range(5):
        assert c.post("/api/v1/challenge").status_code == 200
