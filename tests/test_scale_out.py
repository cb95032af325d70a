"""Two replicas behind nginx sharing Redis, PostgreSQL and one deployment key (tests/cluster.py).

What scale-out must guarantee (issue 12): a nonce or a challenge used on any replica is
refused on all of them, every replica's ledger rows land in the shared database, the abuse
limits count across replicas, and a replica stopped during a burst costs (almost) no
requests and never lets a consumed nonce through again.

One cluster for the module (start-up loads the models in each replica); the SIGTERM test runs
last because it stops a replica. Requests sent straight to a replica carry an
X-Forwarded-For (the replicas trust loopback as a proxy) so that each test is its own client
for the abuse limits.
"""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.timeout(900)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PORTRAIT = DATA / "misc/other_faces/dlib__Tom_Cruise_avp_2014_4.jpg"
SECURE_AS = "/api/v1/secure/face/as"
_clients = itertools.count(1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from cluster import nginx_binary, running_cluster
    from pg_server import pg_bindir
    from redis_server import redis_binary

    missing = [
        name
        for name, found in (
            ("redis-server", redis_binary()),
            ("nginx", nginx_binary()),
            ("postgresql", pg_bindir()),
        )
        if found is None
    ]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (scripts/install.sh --dev)")
    with running_cluster(replicas=2) as c:
        yield c


@pytest.fixture(scope="module")
def jwk(cluster: Any) -> dict[str, str]:
    """The deployment key as an SDK gets it: through nginx (either replica)."""
    r = httpx.post(cluster.url + "/api/v1/pub_key", timeout=30)
    assert r.status_code == 200
    out: dict[str, str] = r.json()["jwk"]
    return out


def new_client() -> dict[str, str]:
    """Headers of a distinct client (its own address for the abuse limits)."""
    n = next(_clients)
    return {"X-Forwarded-For": f"203.0.113.{n}"}


def portrait_frame() -> bytes:
    from faceproof.client.frames import capture_frame

    return capture_frame(PORTRAIT, fit=True)  # 480×640, as the SDK captures


def small_frame() -> bytes:
    """A frame the server refuses from its header (901, wrong resolution) after the nonce
    was claimed: the cheapest request that still consumes a nonce."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(out, format="JPEG")
    return out.getvalue()


def envelope(jwk: dict[str, str], frame: bytes, **kw: Any) -> bytes:
    from faceproof.crypto.envelope import build_envelope

    return build_envelope([frame], jwk, **kw)


def post(base: str, token: bytes, headers: dict[str, str], timeout: float = 120) -> httpx.Response:
    return httpx.post(
        base + SECURE_AS,
        files={"file": ("capture.jwe", token, "application/octet-stream")},
        headers=headers,
        timeout=timeout,
    )


def code(r: httpx.Response) -> int | None:
    try:
        value = r.json().get("code")
    except ValueError:
        return None
    return int(value) if isinstance(value, int) else None


def test_replicas_share_the_key_and_report_shared_stores(cluster: Any) -> None:
    from cluster import health

    kids, backends = set(), []
    for replica in cluster.replicas:
        body = health(replica.port)
        assert body["http_status"] == 200, body
        kids.add(body["kid"])
        backends.append({k: v["backend"] for k, v in body["stores"].items()})  # type: ignore[attr-defined]
    assert len(kids) == 1  # one deployment key for every replica
    expected = {"ledger": "postgresql", "nonces": "redis", "challenges": "redis"}
    for b in backends:
        assert {k: b[k] for k in expected} == expected
        assert b.get("gallery") == "postgresql"
    for replica in cluster.replicas:  # no private keys, no private single-use stores
        assert not (replica.data_dir / "keys").exists()
        assert not (replica.data_dir / "nonces.sqlite3").exists()
        assert not (replica.data_dir / "challenges.sqlite3").exists()
        assert not (replica.data_dir / "ledger.sqlite3").exists()


def test_envelope_accepted_by_one_replica_is_a_replay_on_the_other(
    cluster: Any, jwk: dict[str, str]
) -> None:
    a, b = cluster.replicas
    headers = new_client()
    token = envelope(jwk, portrait_frame(), device={"userAgent": "scale-out replay"})
    first = post(a.url, token, headers)
    assert code(first) != 601 and first.status_code < 500, first.text[:300]  # judged
    again_b = post(b.url, token, headers)
    assert (again_b.status_code, code(again_b)) == (400, 601), again_b.text[:300]
    again_lb = post(cluster.url, token, headers)  # and through the balancer, either replica
    assert code(again_lb) == 601


def test_challenge_issued_by_one_replica_is_redeemed_on_the_other_once(
    cluster: Any, jwk: dict[str, str]
) -> None:
    a, b = cluster.replicas
    headers = new_client()
    issued = httpx.post(a.url + "/api/v1/challenge", headers=headers, timeout=30)
    assert issued.status_code == 200, issued.text[:300]
    ch = issued.json()["challenge"]
    frame = portrait_frame()
    binding = {"id": ch["id"], "light_start_t": 0}
    device = {"userAgent": "scale-out challenge"}
    answer = post(
        b.url, envelope(jwk, frame, nonce=ch["nonce"], challenge=binding, device=device), headers
    )
    assert answer.status_code < 500 and code(answer) != 601, answer.text[:300]
    reasons = answer.json()["liveness"]["reasons"]
    # Redeemed on B: judged (this still frame fails the challenge's checks), not unknown.
    assert "challenge_unknown_or_used" not in reasons and reasons, reasons
    reuse = post(a.url, envelope(jwk, frame, challenge=binding, device=device), headers)
    assert reuse.status_code < 500, reuse.text[:300]
    assert "challenge_unknown_or_used" in reuse.json()["liveness"]["reasons"]


def test_ledger_rows_of_both_replicas_land_in_postgresql(cluster: Any, jwk: dict[str, str]) -> None:
    tag = f"ledger-{time.time_ns()}"
    frame = small_frame()
    for replica in cluster.replicas:
        for i in range(3):
            headers = {**new_client(), "requestID": f"{tag}-{replica.name}-{i}"}
            r = post(replica.url, envelope(jwk, frame), headers)
            assert code(r) == 901, r.text[:300]
    with psycopg.connect(cluster.database_url) as conn:
        rows = conn.execute(
            "SELECT request_id, code FROM faceproof_ledger WHERE request_id LIKE %s",
            (tag + "-%",),
        ).fetchall()
    got = Counter(rid.rsplit("-", 1)[0] for rid, _ in rows)
    assert got == {f"{tag}-{r.name}": 3 for r in cluster.replicas}
    assert {c for _, c in rows} == {901}


def test_failed_attempts_are_limited_across_replicas(cluster: Any, jwk: dict[str, str]) -> None:
    """FACEPROOF_ABUSE_FAILURES (5 per 180 s by default) counts in Redis, so failures spread
    over both replicas add up: the 6th attempt, on either replica, is refused with 429."""
    a, b = cluster.replicas
    headers = new_client()
    device = {"userAgent": "scale-out abuse", "flags": ["webdriver"]}  # refused as insecure
    frame = portrait_frame()
    for replica in (a, b, a, b, a):
        r = post(replica.url, envelope(jwk, frame, device=device), headers)
        assert (code(r), r.json().get("message")) == (401, "FEEDBACK_RETRY_INSECURE"), r.text[:300]
    for base in (b.url, cluster.url):
        limited = post(base, envelope(jwk, frame, device=device), headers)
        assert (limited.status_code, code(limited)) == (429, 429), limited.text[:300]
        assert 0 < int(limited.headers["Retry-After"]) <= 180
    # Another client with another device is not affected.
    other = post(b.url, envelope(jwk, frame, device={"userAgent": "another"}), new_client())
    assert other.status_code != 429, other.text[:300]


def test_template_enrolled_on_one_replica_is_found_by_the_other(cluster: Any) -> None:
    """The gallery is shared (PostgreSQL) and so is its template key (the mounted secret):
    a template sealed by one replica opens on the other."""
    from faceproof.client import FaceproofClient

    a, b = cluster.replicas
    gallery = f"scale{time.time_ns()}"
    with FaceproofClient(a.url, timeout=120) as fa, FaceproofClient(b.url, timeout=120) as fb:
        enrolled = fa.enrol(gallery, "tom", image=PORTRAIT)
        assert enrolled.code == 200
        found = fb.identify(gallery, "MEDIUM", image=PORTRAIT)
        assert found.identified and [c.subjectId for c in found.candidates][:1] == ["tom"]
        assert fb.subjects(gallery).total == 1


def test_sigterm_during_a_burst_loses_under_1_percent_and_no_nonce_twice(
    cluster: Any, jwk: dict[str, str]
) -> None:
    """Runs last: stops replica 1 while 4 clients send 400 captures through nginx."""
    total, clients = 400, 4
    tag = f"burst-{time.time_ns()}"
    frame = small_frame()
    tokens = [envelope(jwk, frame) for _ in range(total)]
    outcomes: list[tuple[int, int | None] | str] = [""] * total
    done = itertools.count()
    done_n = [0]
    lock = threading.Lock()
    jobs = iter(range(total))

    def client(n: int) -> None:
        headers = {"X-Forwarded-For": f"198.51.100.{n + 1}"}
        with httpx.Client(timeout=120) as http:
            while True:
                with lock:
                    i = next(jobs, None)
                if i is None:
                    return
                try:
                    r = http.post(
                        cluster.url + SECURE_AS,
                        files={"file": ("c.jwe", tokens[i], "application/octet-stream")},
                        headers={**headers, "requestID": f"{tag}-{i}"},
                    )
                    outcomes[i] = (r.status_code, code(r))
                except httpx.HTTPError as exc:
                    outcomes[i] = type(exc).__name__
                done_n[0] = next(done) + 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    while done_n[0] < total // 4 and any(t.is_alive() for t in threads):
        time.sleep(0.01)
    stopping = cluster.replicas[0]
    t_stop = time.monotonic()
    rc = stopping.stop()  # SIGTERM: stop accepting, finish in-flight requests, exit
    stop_s = time.monotonic() - t_stop
    for t in threads:
        t.join(timeout=600)
    assert not stopping.alive() and stop_s < 60, (rc, stop_s)

    ok = [o for o in outcomes if o == (400, 901)]
    replays = [o for o in outcomes if isinstance(o, tuple) and o[1] == 601]
    failed = [o for o in outcomes if o != (400, 901)]
    assert not replays  # a consumed nonce was never presented again by the proxy
    assert len(failed) / total < 0.01, Counter(map(str, failed))
    # Both replicas served the burst: replica 1 before its stop, replica 2 throughout.
    served = Counter(
        line.split()[3] for line in cluster.nginx_log() if SECURE_AS in line and " 400 " in line
    )
    assert all(any(str(r.port) in addr for addr in served) for r in cluster.replicas), served
    # Each capture is in the ledger once (a resent request would have left a second row).
    with psycopg.connect(cluster.database_url) as conn:
        rows = conn.execute(
            "SELECT request_id, count(*) FROM faceproof_ledger WHERE request_id LIKE %s "
            "GROUP BY request_id",
            (tag + "-%",),
        ).fetchall()
    assert max(n for _, n in rows) == 1 and len(rows) >= len(ok)
    # Every nonce of the burst, whichever replica consumed it, is refused by the survivor.
    survivor = cluster.replicas[1]
    with httpx.Client(timeout=120) as http:
        again = [
            http.post(
                survivor.url + SECURE_AS,
                files={"file": ("c.jwe", tok, "application/octet-stream")},
                headers={"X-Forwarded-For": "198.51.100.99"},
            )
            for tok, o in zip(tokens, outcomes, strict=True)
            if o == (400, 901)
        ]
    assert [code(r) for r in again] == [601] * len(ok)
