"""Sliding-window event counters shared by every worker (SQLite) or every replica (Redis).

The abuse limits (:mod:`faceproof.api.abuse`) ask two questions of a subject (a client
address, a device, an origin): "how many events in the last ``window`` seconds, and when
does the oldest one that matters leave the window?" and "admit one more if under the
limit". Both are exact sliding windows, kept as a log of event times per subject, trimmed
on every access so that a subject never holds more than ``limit`` events: storage stays
bounded whatever a client sends.

* :class:`SqliteCounters`: one WAL file in the data dir, shared by all workers of a host;
  each operation is one ``BEGIN IMMEDIATE`` transaction. ``synchronous=OFF``: counters lost
  in a power cut only forgive a few failed attempts, and no request waits for an fsync.
* :class:`RedisCounters`: one sorted set per subject, updated by one Lua script (atomic on
  the server, on the *server's* clock so replicas with skewed clocks agree), expiring with
  the window.

Subjects are hashed (SHA-256) before they are stored: the files and keys hold no client
address or device description.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from faceproof.storage.redis_client import is_redis_url, key, shared_redis
from faceproof.storage.sqlite_file import ProcessLocalSqlite

if TYPE_CHECKING:
    import redis


@dataclass(frozen=True)
class Verdict:
    """``count`` events in the window (after the operation); ``retry_after`` seconds until
    the subject is under its limit again (0 when it is now)."""

    count: int
    retry_after: float

    @property
    def blocked(self) -> bool:
        return self.retry_after > 0


class Counters(Protocol):
    def check(self, subject: str, limit: int, window_s: float) -> Verdict:
        """Blocked when ``limit`` events or more are in the window; records nothing."""
        ...

    def add(self, subject: str, limit: int, window_s: float) -> Verdict:
        """Records one event (keeping at most the newest ``limit``)."""
        ...

    def acquire(self, subject: str, limit: int, window_s: float) -> Verdict:
        """Records one event only if fewer than ``limit`` are in the window."""
        ...

    def close(self) -> None: ...


def subject_hash(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\x00{value}".encode()).hexdigest()[:32]


def _retry_after(times: list[float], limit: int, window_s: float, now: float) -> float:
    """Seconds until fewer than ``limit`` of the (ascending) ``times`` are in the window."""
    if len(times) < limit:
        return 0.0
    # The window must lose len - limit + 1 events: wait for that one to leave.
    leaving = times[len(times) - limit]
    return max(0.001, leaving + window_s - now)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (subject TEXT NOT NULL, ts REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_subject_ts ON events (subject, ts)",
)
#: Rows older than this many windows are swept from the whole table now and then.
_SWEEP_EVERY = 500


class _Modes:
    """The three operations of :class:`Counters`, as one ``_op`` per store."""

    def check(self, subject: str, limit: int, window_s: float) -> Verdict:
        return self._op(subject, limit, window_s, "check")

    def add(self, subject: str, limit: int, window_s: float) -> Verdict:
        return self._op(subject, limit, window_s, "add")

    def acquire(self, subject: str, limit: int, window_s: float) -> Verdict:
        return self._op(subject, limit, window_s, "acquire")

    def _op(self, subject: str, limit: int, window_s: float, mode: str) -> Verdict:
        raise NotImplementedError


class SqliteCounters(_Modes):
    def __init__(self, path: Path) -> None:
        self._db = ProcessLocalSqlite(path, _SCHEMA, synchronous="OFF")
        self._lock = threading.Lock()
        self._ops = 0
        self._longest_window = 0.0

    def _op(self, subject: str, limit: int, window_s: float, mode: str) -> Verdict:
        now = time.time()
        with self._lock:
            conn = self._db.connection()
            self._ops += 1
            self._longest_window = max(self._longest_window, window_s)
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self._ops % _SWEEP_EVERY == 0:
                    conn.execute("DELETE FROM events WHERE ts < ?", (now - self._longest_window,))
                conn.execute(
                    "DELETE FROM events WHERE subject = ? AND ts <= ?", (subject, now - window_s)
                )
                times = [
                    float(r[0])
                    for r in conn.execute(
                        "SELECT ts FROM events WHERE subject = ? ORDER BY ts", (subject,)
                    )
                ]
                verdict = self._apply(conn, subject, times, limit, window_s, now, mode)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return verdict

    @staticmethod
    def _apply(
        conn: Any,
        subject: str,
        times: list[float],
        limit: int,
        window_s: float,
        now: float,
        mode: str,
    ) -> Verdict:
        wait = _retry_after(times, limit, window_s, now)
        if mode == "check" or (mode == "acquire" and wait > 0):
            return Verdict(len(times), wait)
        conn.execute("INSERT INTO events (subject, ts) VALUES (?, ?)", (subject, now))
        times.append(now)
        if len(times) > limit:  # keep the newest `limit`: storage bounded per subject
            cut = times[len(times) - limit - 1]
            conn.execute("DELETE FROM events WHERE subject = ? AND ts <= ?", (subject, cut))
            times = times[len(times) - limit :]
        return Verdict(
            len(times), 0.0 if mode == "acquire" else _retry_after(times, limit, window_s, now)
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()


# KEYS[1]: the subject's sorted set. ARGV: window (s), limit, mode, a unique member.
# Returns {count, retry_after as a string} (Lua numbers lose fractions through RESP).
_LUA = """
local key = KEYS[1]
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local mode = ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
local function wait_for(count)
  if count < limit then return 0 end
  local leaving = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  local w = tonumber(leaving[2]) + window - now
  if w < 0.001 then w = 0.001 end
  return w
end
local wait = wait_for(n)
if mode == 'check' or (mode == 'acquire' and wait > 0) then
  return {n, tostring(wait)}
end
redis.call('ZADD', key, now, ARGV[4])
n = n + 1
if n > limit then
  redis.call('ZREMRANGEBYRANK', key, 0, n - limit - 1)
  n = limit
end
redis.call('PEXPIRE', key, math.ceil(window * 1000))
if mode == 'acquire' then return {n, '0'} end
return {n, tostring(wait_for(n))}
"""


class RedisCounters(_Modes):
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._script = client.register_script(_LUA)

    def _op(self, subject: str, limit: int, window_s: float, mode: str) -> Verdict:
        member = f"{time.time_ns()}-{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}"
        count, wait = self._script(
            keys=[key("abuse", subject)], args=[float(window_s), int(limit), mode, member]
        )
        return Verdict(int(count), float(wait))

    def close(self) -> None:
        """The client is shared per process (storage.redis_client); nothing to close here."""


def open_counters(data_dir: Path, redis_url: str | None) -> Counters:
    """Redis when ``FACEPROOF_REDIS_URL`` is set, else ``<data_dir>/abuse.sqlite3``."""
    if is_redis_url(redis_url):
        assert redis_url is not None
        return RedisCounters(shared_redis(redis_url))
    return SqliteCounters(Path(data_dir) / "abuse.sqlite3")
