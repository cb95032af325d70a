"""The Redis single-use stores (FACEPROOF_REDIS_URL) against a real redis-server.

Each "replica" below has its own client (own connection pool), as separate hosts would; the
races start every claimant at one barrier so the claims really overlap.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis

from faceproof.config import ConfigError, Settings
from faceproof.crypto.envelope import new_nonce
from faceproof.crypto.replay import (
    CLOCK_SKEW_MS,
    RedisNonceStore,
    SqliteNonceStore,
    open_nonce_store,
)
from faceproof.liveness.challenge import (
    TTL_MS,
    RedisChallengeStore,
    SqliteChallengeStore,
    open_challenge_store,
)
from faceproof.storage import redis_client
from faceproof.storage.outage import StoreUnavailable


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    from redis_server import redis_binary, redis_server

    if redis_binary() is None:
        pytest.skip("redis-server is not installed (scripts/install.sh --dev)")
    with redis_server() as url:
        yield url


def replica(url: str) -> redis.Redis:
    """A client of its own, as another host would have."""
    return redis_client.open_redis(url)


def now_ms() -> int:
    return int(time.time() * 1000)


# -- client ---------------------------------------------------------------------------------
def test_client_health_and_errors_never_show_the_password(redis_url: str) -> None:
    client = redis_client.shared_redis(redis_url)
    assert redis_client.shared_redis(redis_url) is client  # one pool per URL and process
    assert redis_client.health(client) is None
    dead = f"redis://user:s3cret@127.0.0.1:{_closed_port()}/0"
    with pytest.raises(ConfigError) as info:
        redis_client.open_redis(dead)
    assert "s3cret" not in str(info.value) and "unreachable" in str(info.value)
    with pytest.raises(ConfigError, match="unsupported scheme"):
        redis_client.open_redis("http://127.0.0.1:6379")
    assert redis_client.describe("rediss://u:pw@h:7000/2") == "rediss://h:7000/2"
    assert redis_client.is_redis_url(" redis://x ") and not redis_client.is_redis_url("")


def _closed_port() -> int:
    from redis_server import free_port

    return free_port()  # bound and released: nothing listens there


def test_health_reports_a_stopped_server_quickly() -> None:
    from redis_server import redis_binary, redis_server

    if redis_binary() is None:
        pytest.skip("redis-server is not installed")
    with redis_server() as url:
        client = replica(url)
        store = RedisNonceStore(client)
        assert store.health() is None
    t0 = time.monotonic()
    reason = store.health()
    assert reason is not None and "Error" in reason
    assert time.monotonic() - t0 < 3 * redis_client.SOCKET_TIMEOUT_S
    # Never "accepted" when the store cannot answer: the documented 503 naming the store.
    with pytest.raises(StoreUnavailable) as refused:
        store.claim(new_nonce(), now_ms() + 60_000)
    assert refused.value.store == "nonces" and refused.value.kind.http_status == 503


# -- nonces ---------------------------------------------------------------------------------
def test_nonce_single_use_across_replicas_and_expiry(redis_url: str) -> None:
    a, b = RedisNonceStore(replica(redis_url)), RedisNonceStore(replica(redis_url))
    nonce = new_nonce()
    expires = now_ms() + 120_000
    assert a.claim(nonce, expires)
    assert not b.claim(nonce, expires)
    assert not a.claim(nonce, expires)
    assert b.claim(new_nonce(), expires)
    # Kept until the envelope's expiry plus the clock-skew margin, then dropped by Redis.
    ttl = a.client.pttl(RedisNonceStore._key(nonce))
    assert 120_000 + CLOCK_SKEW_MS - 5_000 < ttl <= 120_000 + CLOCK_SKEW_MS
    past = new_nonce()
    assert a.claim(past, now_ms() - 10_000)
    assert 0 < a.client.pttl(RedisNonceStore._key(past)) <= CLOCK_SKEW_MS
    assert not b.claim(past, now_ms())
    keys = a.client.keys("faceproof:nonce:*")
    assert len(keys) >= 3 and all(len(k) == len("faceproof:nonce:") + 64 for k in keys)


def race(calls: list[Callable[[], object]]) -> list[object]:
    """Runs every call in its own thread, all released at once by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_one_nonce_raced_by_many_replicas_is_claimed_once(redis_url: str) -> None:
    stores = [RedisNonceStore(replica(redis_url)) for _ in range(8)]
    for _ in range(20):
        nonce, expires = new_nonce(), now_ms() + 60_000
        wins = race([partial(s.claim, nonce, expires) for s in stores])
        assert sum(w is True for w in wins) == 1 and all(isinstance(w, bool) for w in wins)


def _claim_many(url: str, nonces: list[str], barrier: Any, queue: Any) -> None:
    store = RedisNonceStore(redis_client.open_redis(url))
    barrier.wait()
    queue.put([n for n in nonces if store.claim(n, int(time.time() * 1000) + 60_000)])


def test_nonce_claims_are_atomic_across_processes(redis_url: str) -> None:
    nonces = [new_nonce() for _ in range(300)]
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    procs = [
        ctx.Process(target=_claim_many, args=(redis_url, nonces, barrier, queue)) for _ in "abc"
    ]
    for p in procs:
        p.start()
    won = [n for _ in procs for n in queue.get(timeout=60)]
    for p in procs:
        p.join(timeout=60)
    assert sorted(won) == sorted(nonces)  # every nonce claimed exactly once in total


# -- challenges -----------------------------------------------------------------------------
def test_challenge_issued_on_one_replica_is_redeemed_once_on_another(redis_url: str) -> None:
    a, b = RedisChallengeStore(replica(redis_url)), RedisChallengeStore(replica(redis_url))
    ch = a.issue()
    ttl = a.client.pttl(RedisChallengeStore._key(ch.id))
    assert 2 * TTL_MS - 5_000 < ttl <= 2 * TTL_MS  # expired ones stay to be named expired
    got = b.claim(ch.id)
    assert got is not None
    assert (got.nonce, got.order, got.issued_ms, got.expires_ms) == (
        ch.nonce,
        ch.order,
        ch.issued_ms,
        ch.expires_ms,
    )
    assert got.params() == ch.params()
    assert a.claim(ch.id) is None and b.claim(ch.id) is None
    assert b.claim("no-such-id") is None and b.claim("") is None and b.claim("x" * 65) is None
    # An expired challenge is still handed out once (check_binding reports it as expired).
    old = a.issue(now_ms=now_ms() - TTL_MS - 1_000)
    late = b.claim(old.id)
    assert late is not None and late.expires_ms < now_ms()


def test_one_challenge_raced_by_many_replicas_is_redeemed_once(redis_url: str) -> None:
    stores = [RedisChallengeStore(replica(redis_url)) for _ in range(8)]
    for _ in range(20):
        cid = stores[0].issue().id
        got = race([partial(s.claim, cid) for s in stores])
        assert sum(g is not None for g in got) == 1


# -- selection by settings ------------------------------------------------------------------
def test_settings_pick_the_backend(
    redis_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    embedded = make_settings(data_dir=tmp_path / "embedded")
    assert isinstance(open_nonce_store(embedded), SqliteNonceStore)
    assert isinstance(open_challenge_store(embedded), SqliteChallengeStore)
    shared = make_settings(data_dir=tmp_path / "shared", redis_url=redis_url)
    nonces, challenges = open_nonce_store(shared), open_challenge_store(shared)
    assert isinstance(nonces, RedisNonceStore) and isinstance(challenges, RedisChallengeStore)
    assert nonces.health() is None and challenges.health() is None
    assert not (shared.data_dir / "nonces.sqlite3").exists()
    with pytest.raises(ConfigError, match="unsupported scheme"):
        open_nonce_store(make_settings(redis_url="postgresql://x/y"))


# -- /face_health ---------------------------------------------------------------------------
def test_face_health_names_the_stores_and_fails_when_redis_is_down(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from faceproof.api.app import create_app
    from redis_server import redis_binary, redis_server

    if redis_binary() is None:
        pytest.skip("redis-server is not installed")
    embedded = create_app(make_settings(data_dir=tmp_path / "embedded"))
    with TestClient(embedded, raise_server_exceptions=False) as c:
        body = c.get("/api/v1/face_health").json()
    assert body["stores"]["ledger"] == {"backend": "sqlite", "status": "OK"}
    assert body["stores"]["nonces"] == {"backend": "sqlite", "status": "OK"}
    with contextlib.ExitStack() as server:
        url = server.enter_context(redis_server())
        app = create_app(make_settings(data_dir=tmp_path / "shared", redis_url=url))
        with TestClient(app, raise_server_exceptions=False) as c:
            r = c.get("/api/v1/face_health")
            assert r.status_code == 200, r.text
            assert r.json()["stores"]["nonces"] == {"backend": "redis", "status": "OK"}
            assert r.json()["stores"]["challenges"] == {"backend": "redis", "status": "OK"}
            server.close()  # Redis stops under the running app
            r = c.get("/api/v1/face_health")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "ERROR" and body["ledger"] == "OK"
    assert body["stores"]["nonces"]["status"] == "ERROR" and "Error" in body["reason"]
    assert "127.0.0.1" not in r.text  # no address (nor password) in the probe's answer


def test_an_evicting_redis_is_reported_at_start(caplog: pytest.LogCaptureFixture) -> None:
    from redis_server import redis_binary, redis_server

    if redis_binary() is None:
        pytest.skip("redis-server is not installed")
    with redis_server() as url:
        client = replica(url)
        assert redis_client.eviction_warning(client) is None  # redis-server's default
        client.config_set("maxmemory-policy", "volatile-lru")
        warning = redis_client.eviction_warning(client)
        assert warning is not None and "volatile-lru" in warning and "noeviction" in warning
        with caplog.at_level("WARNING", logger="faceproof.storage"):
            redis_client.shared_redis(url)
        assert any("redis_eviction_policy" in r.getMessage() for r in caplog.records)
        redis_client.close_all()


def test_serve_refuses_to_start_without_its_redis(tmp_path: Path) -> None:
    """One line naming the setting, exit status 2, no password, before any model loads."""
    import os
    import subprocess
    import sys

    from redis_server import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEPROOF_")}
    env.update(
        FACEPROOF_DATA_DIR=str(tmp_path / "data"),
        FACEPROOF_REDIS_URL=f"redis://:s3cret@127.0.0.1:{free_port()}/0",
    )
    port = str(free_port())
    done = subprocess.run(
        [sys.executable, "-m", "faceproof", "serve", "--port", port],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "FACEPROOF_REDIS_URL" in done.stderr and "unreachable" in done.stderr
    assert "s3cret" not in done.stderr + done.stdout
