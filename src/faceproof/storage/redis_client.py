"""The Redis connection shared by replicas (``FACEPROOF_REDIS_URL``).

When set, the single-use stores (envelope nonces, liveness challenges) and the abuse-limit
counters live in one Redis that every replica reaches, so a nonce or challenge used on one
replica is refused on all of them. Unset, they stay in SQLite files in the data dir (one
host). Every caller goes through :func:`shared_redis`, so one process holds one connection
pool per URL whatever the number of stores.

Timeouts are short on purpose: a request waiting on a dead Redis should fail within seconds
(503 ``ERROR_STORE_UNAVAILABLE`` naming the store, :mod:`faceproof.storage.outage`;
``/face_health`` says why), not hang a worker thread. The URL may
hold a password, so it is never echoed in an error or a log line: :func:`describe` gives
the printable part (scheme, host, port, db).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from faceproof.config import ConfigError
from faceproof.storage.outage import NOT_USED, OUTAGES, StoreUnavailable, error_name

if TYPE_CHECKING:
    import redis

SCHEMES = frozenset({"redis", "rediss", "unix"})
#: Every key faceproof writes starts with this, so a Redis shared with other applications
#: (better: a database number of its own, ``redis://host/2``) can be audited and flushed.
KEY_PREFIX = "faceproof:"
CONNECT_TIMEOUT_S = 2.0
SOCKET_TIMEOUT_S = 2.0
HEALTH_CHECK_INTERVAL_S = 15
MAX_CONNECTIONS = 64  # per process; requests block for a free one rather than open more

log = logging.getLogger("faceproof.storage")
_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def is_redis_url(url: str | None) -> bool:
    """True when ``url`` names Redis (``redis://``, ``rediss://`` or ``unix://``)."""
    if url is None or not url.strip():
        return False
    return urlsplit(url.strip()).scheme.lower() in SCHEMES


def describe(url: str) -> str:
    """``redis://host:port/db`` without user or password: safe for logs and errors."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() == "unix":
        return f"unix://{parts.path}"
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "localhost"
    return f"{parts.scheme.lower()}://{host}:{port or 6379}{parts.path or '/0'}"


def key(*parts: str) -> str:
    """A namespaced key: ``key("nonce", n)`` -> ``faceproof:nonce:<n>``."""
    return KEY_PREFIX + ":".join(parts)


def open_redis(url: str, *, check: bool = True) -> redis.Redis:
    """A new client for ``url`` with bounded timeouts; ``check`` pings it once.

    Raises ConfigError (one line, no password) for a bad scheme, a missing ``redis``
    package, or a server that does not answer.
    """
    url = url.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(
            f"FACEPROOF_REDIS_URL: unsupported scheme {scheme or '(none)'!r}; "
            "expected redis://host:port/db, rediss://… (TLS) or unix:///path.sock"
        )
    try:
        # lazy: redis-py (~0.8 s) only when FACEPROOF_REDIS_URL is set
        import redis
    except ImportError:  # pragma: no cover - a dependency in pyproject.toml
        raise ConfigError("FACEPROOF_REDIS_URL is set but the redis package is missing") from None
    kwargs: dict[str, Any] = {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "max_connections": MAX_CONNECTIONS,
    }
    if scheme != "unix":
        kwargs["socket_connect_timeout"] = CONNECT_TIMEOUT_S
        kwargs["socket_keepalive"] = True
    try:
        client = _client_class().from_url(url, **kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"FACEPROOF_REDIS_URL: malformed URL ({type(exc).__name__})") from None
    if check:
        try:  # the plain client's PING: a start-up failure is a ConfigError, not an outage
            reason = None if redis.Redis.execute_command(client, "PING") else "no PONG"
        except Exception as exc:
            reason = type(exc).__name__
        if reason is not None:
            client.close()
            raise ConfigError(f"FACEPROOF_REDIS_URL: {describe(url)} unreachable: {reason}")
    return client


#: Key kind (``faceproof:<kind>:…``) → the store it belongs to, to name it in refusals.
_STORE_OF_KIND = {"nonce": "nonces", "challenge": "challenges", "abuse": "counters"}


def store_of(args: tuple[Any, ...]) -> str:
    """The store a Redis command works on, from its first faceproof key ("redis" if none)."""
    prefix = KEY_PREFIX.encode()
    for arg in args[1:]:
        raw = arg.encode() if isinstance(arg, str) else arg
        if isinstance(raw, bytes) and raw.startswith(prefix):
            kind = raw[len(prefix) :].split(b":", 1)[0].decode("ascii", "replace")
            return _STORE_OF_KIND.get(kind, "redis")
    return "redis"


_client_cls: type[redis.Redis] | None = None


def _client_class() -> type[redis.Redis]:
    """redis.Redis whose every command turns a connection failure into StoreUnavailable.

    Every command, scripts included, goes through ``execute_command``: the one place to
    translate redis-py's ConnectionError/TimeoutError (refused, reset, timed out, Redis
    loading or shutting down) and to tell the outage registry that the store answered.
    """
    global _client_cls
    if _client_cls is not None:
        return _client_cls
    # lazy: redis-py (~0.8 s) only when FACEPROOF_REDIS_URL is set
    import redis

    failures = (redis.ConnectionError, redis.TimeoutError)

    class StoreRedis(redis.Redis):
        def execute_command(self, *args: Any, **options: Any) -> Any:
            store = store_of(args)
            try:
                result = super().execute_command(*args, **options)
            except failures as exc:
                cause = type(exc).__name__
                OUTAGES.failed(store, "redis", cause, self._probe)
                # redis-py replaces a pooled connection it finds closed before sending and
                # never re-sends a command: a failure to connect means the claim was not
                # sent, so the nonce (a capture's first single-use step) is unused.
                unused = store == "nonces" and "connecting" in str(exc)
                raise StoreUnavailable(
                    store, "redis", cause, NOT_USED if unused else None
                ) from None
            if OUTAGES.is_down(store):
                OUTAGES.answered(store)
            return result

        def _probe(self) -> None:
            if not self.ping():
                raise StoreUnavailable("redis", "redis", "no PONG")

    _client_cls = StoreRedis
    return StoreRedis


def shared_redis(url: str) -> redis.Redis:
    """This process's client for ``url`` (created and pinged on first use).

    redis-py's connection pool notices a fork and reconnects in the child, so a client made
    before uvicorn forks its workers is safe to keep.
    """
    url = url.strip()
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = open_redis(url)
            warning = eviction_warning(client)
            if warning is not None:
                log.warning(json.dumps({"event": "redis_eviction_policy", "message": warning}))
        return client


def eviction_warning(client: redis.Redis) -> str | None:
    """Why this Redis may drop a key before it expires, or None.

    Under memory pressure any policy but ``noeviction`` may evict our keys (all of them have
    an expiry, so the ``volatile-*`` policies too): an evicted nonce or challenge could be used
    a second time. Managed services that refuse ``CONFIG GET`` are not second-guessed.
    """
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except Exception:
        return None
    if policy in (None, "noeviction"):
        return None
    return (
        f"Redis maxmemory-policy is {policy}: under memory pressure it may evict nonces and "
        "challenges, which could then be used twice; set maxmemory-policy noeviction"
    )


def health(client: redis.Redis) -> str | None:
    """None when Redis answers PING now, else a short reason (no URL, no password)."""
    try:
        ok = client.ping()
    except Exception as exc:  # StoreUnavailable, AuthenticationError…
        return f"Redis not answering ({error_name(exc)})"
    return None if ok else "Redis not answering (no PONG)"


def close_all() -> None:
    """Closes every shared client of this process (tests, orderly shutdown)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()
