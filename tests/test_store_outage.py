"""A shared store stopped under a running app: 503 ERROR_STORE_UNAVAILABLE, never a 500.

Real Redis and PostgreSQL servers (Debian's packages) are stopped in the middle of a run and
started again on the same port. What is checked is what docs/api-decisions.md ("A store that
does not answer") promises a caller: HTTP 503 with ``Retry-After`` in the documented body, a
message naming the store without driver text or address, one JSON log line per outage, no
ledger row for the refusal, ``/face_health`` naming the failing store, and that no capture
is used without an answer: a request refused before any work can be sent again as it is,
and one in flight when the ledger database fails is answered, its row kept in the
replica's spool until the database is back.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from faceproof.api.app import create_app
from faceproof.client import FaceproofClient
from faceproof.client import errors as client_errors
from faceproof.config import Settings
from faceproof.crypto.envelope import CaptureOptions, CapturePayload, Frame, new_nonce, seal
from faceproof.ledger import Transaction
from faceproof.ledger.pg import PgLedger
from faceproof.storage import outage, redis_client
from imaging import DATA, encode, video_frames
from pg_server import PgServer
from test_abuse_limits import _rejected  # faceproof_rejected_total{reason} of this process

API = "/api/v1"
DRIVER_TEXTS = ("Connection refused", "Error 111", "psycopg", "redis.", "Traceback", "127.0.0.1")


@pytest.fixture(autouse=True)
def _fresh_outages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A short retry window keeps the test quick; the message and header say the same.
    monkeypatch.setattr(outage, "RETRY_AFTER_S", 1)
    outage.OUTAGES.clear()
    yield
    outage.OUTAGES.clear()
    redis_client.close_all()


@pytest.fixture(scope="module")
def face() -> bytes:
    from conftest import model_dir

    if not (model_dir() / "face_detection_short_range.tflite").is_file():
        pytest.skip("model store is empty: run `faceproof models fetch`")
    if not DATA.is_dir():
        pytest.skip("../shared/data is not present on this machine")
    return encode(video_frames()[0])


@pytest.fixture
def pg() -> Iterator[tuple[PgServer, str]]:
    """A PostgreSQL server the test may stop and start, and the URL of a fresh database."""
    from pg_server import pg_bindir, postgres_control

    if pg_bindir() is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    with postgres_control() as server:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE outage")
        yield server, server.url.rsplit("/", 1)[0] + "/outage"


def _seal(c: TestClient, frame: bytes) -> bytes:
    payload = CapturePayload(
        nonce=new_nonce(),
        ts=int(time.time() * 1000),
        frames=[Frame(jpeg=base64.b64encode(frame).decode("ascii"), t=0)],
        options=CaptureOptions(asThreshold="LOW"),
    )
    return seal(payload, c.app.state.services.keystore.public_jwk())  # type: ignore[attr-defined]


def _send(c: TestClient, token: bytes) -> Response:
    return c.post(API + "/secure/face/as", files={"file": ("bdata", token)})


def _app(make_settings: Callable[..., Settings], **overrides: object) -> TestClient:
    settings = make_settings(require_models=True, abuse_failures=0, **overrides)
    return TestClient(create_app(settings), raise_server_exceptions=False)


def _assert_store_refusal(r: Response, store_words: str, effect: str) -> dict[str, Any]:
    """The documented refusal: 503, code 500 ERROR_STORE_UNAVAILABLE, Retry-After, the store
    named, what became of the request, and nothing of the driver's."""
    assert r.status_code == 503, r.text
    body = r.json()
    name = body.get("message") or body.get("feedbackCode")  # capture / JSON endpoints
    assert body["code"] == 500 and name == "ERROR_STORE_UNAVAILABLE", body
    assert r.headers["Retry-After"] == "1"
    assert body["refid"] and r.headers["X-Refid"] == body["refid"]
    assert store_words in body["description"] and effect in body["description"], body
    assert body["description"].endswith("Retry in 1 s."), body
    for text in DRIVER_TEXTS:
        assert text not in r.text, (text, r.text)
    return body


class Logs:
    """The app's log lines as the server writes them (JSON, one per line, on stderr)."""

    def __init__(self, capfd: pytest.CaptureFixture[str]) -> None:
        self.capfd = capfd
        self.lines: list[dict[str, Any]] = []

    def events(self, event: str) -> list[dict[str, Any]]:
        for raw in self.capfd.readouterr().err.splitlines():
            if raw.startswith("{"):
                self.lines.append(json.loads(raw))  # every faceproof line is JSON
        return [line for line in self.lines if line.get("event") == event]


def _sqlite_outcomes(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "ledger.sqlite3") as conn:
        return [str(r[0]) for r in conn.execute("SELECT outcome FROM transactions")]


def test_redis_stopped_mid_run_refuses_with_503_and_the_capture_stays_usable(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    face: bytes,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from redis_server import free_port, redis_binary, redis_server

    if redis_binary() is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    data_dir = tmp_path / "data"
    logs = Logs(capfd)
    with redis_server(port) as url:
        c = _app(make_settings, data_dir=data_dir, redis_url=url)
        c.__enter__()
        assert _send(c, _seal(c, face)).status_code == 200
    try:
        rejected_before = _rejected("store")
        # Redis is gone. The nonce is the first single-use thing the request touches, and a
        # refused connection claimed nothing: the same capture may be sent again later.
        token = _seal(c, face)
        first = _send(c, token)
        _assert_store_refusal(first, "envelope nonce store (Redis)", "nothing in it was used")
        # Known down now: refused before the body is read, again nothing used.
        again = _send(c, token)
        _assert_store_refusal(again, "envelope nonce store (Redis)", "nothing in it was used")
        # The Python client: its StoreUnavailable (a ServerBusy) with the wait.
        fp = FaceproofClient("http://testserver", http=c)  # not closed: the app's client
        with pytest.raises(client_errors.StoreUnavailable) as refused:
            fp.secure_liveness(token)
        assert isinstance(refused.value, client_errors.ServerBusy)
        assert refused.value.retry_after == 1 and refused.value.http_status == 503
        health = c.get(API + "/face_health")
        assert health.status_code == 503
        stores = health.json()["stores"]
        assert stores["nonces"]["status"] == "ERROR" and "Redis" in stores["nonces"]["reason"]
        assert "127.0.0.1" not in health.text
        # /challenge writes to the same Redis: the same answer (the SDK retries it once).
        challenge = c.post(API + "/challenge")
        _assert_store_refusal(challenge, "liveness challenge store (Redis)", "")
        assert _rejected("store") - rejected_before == 4  # /metrics: faceproof_rejected_total
        # A request that carries no capture does not need Redis: served as usual.
        made = c.post(
            API + "/face/generateTemplateFromImage",
            json={"image": base64.b64encode(face).decode(), "qualityMode": "DISABLED"},
        )
        assert made.status_code == 200, made.text
        # Refusals are not billed: the ledger has the two answers given, not the refusals.
        assert len(_sqlite_outcomes(data_dir)) == 2
        down = logs.events("store_unavailable")
        assert [line["store"] for line in down if line["store"] == "nonces"] == ["nonces"]
        assert all(line["backend"] == "redis" and line["error_type"] for line in down)

        with redis_server(port):  # the same Redis address, back (empty, as after a crash)
            time.sleep(1.1)  # the Retry-After given
            resent = _send(c, token)
            assert resent.status_code == 200, resent.text  # the capture was not used
            replayed = _send(c, token)
            assert replayed.status_code == 400 and replayed.json()["code"] == 601  # now it is
            assert c.get(API + "/face_health").status_code == 200
        up = logs.events("store_recovered")
        assert [line["store"] for line in up if line["store"] == "nonces"] == ["nonces"]
    finally:
        c.__exit__(None, None, None)


def test_ledger_database_stopped_mid_run_spools_the_request_in_flight_and_refuses_new_ones(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    face: bytes,
    capfd: pytest.CaptureFixture[str],
    pg: tuple[PgServer, str],
) -> None:
    logs = Logs(capfd)
    server, db = pg
    # The ledger in PostgreSQL, the nonces in the data dir's SQLite file.
    with _app(make_settings, data_dir=tmp_path / "data", ledger_url=db) as c:
        ledger = c.app.state.services.ledger  # type: ignore[attr-defined]
        assert _send(c, _seal(c, face)).status_code == 200
        server.stop()  # every connection cut, as a crashed or lost database host

        # In flight: the nonce is claimed and the answer computed when the row cannot be
        # written. The row waits in the replica's spool and the answer is sent.
        used = _send(c, _seal(c, face))
        assert used.status_code == 200, used.text
        spooled = logs.events("ledger_row_spooled")
        assert [line["refid"] for line in spooled] == [used.json()["refid"]]
        assert ledger.spooled() == 1
        # Known down now: refused before the body is read, nothing used.
        fresh = _seal(c, face)
        refused = _send(c, fresh)
        _assert_store_refusal(refused, "transaction ledger (PostgreSQL)", "nothing in it")
        health = c.get(API + "/face_health")
        assert health.status_code == 503
        body = health.json()
        assert body["ledger"] == "ERROR" and body["stores"]["ledger"]["status"] == "ERROR"
        assert "ledger database unavailable" in body["stores"]["ledger"]["reason"]
        assert "127.0.0.1" not in health.text
        down = logs.events("store_unavailable")
        assert [line["store"] for line in down] == ["ledger"], down
        assert down[0]["backend"] == "postgresql" and down[0]["error_type"]

        server.start()
        time.sleep(1.1)  # the Retry-After given
        # The capture refused before any work goes through as it is; its write succeeds and
        # moves the spooled row to PostgreSQL too.
        ok = _send(c, fresh)
        assert ok.status_code == 200, ok.text
        assert ledger.spooled() == 0
        assert [line["rows"] for line in logs.events("ledger_spool_moved")] == [1]
        assert c.get(API + "/face_health").status_code == 200
    assert [line["store"] for line in logs.events("store_recovered")] == ["ledger"]
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT refid, outcome FROM faceproof_ledger").fetchall()
    refids = [r for r, _ in rows]
    # The three answered captures, each once; the refusal has no row.
    assert len(rows) == 3 and len(set(refids)) == 3, rows
    assert used.json()["refid"] in refids and ok.json()["refid"] in refids
    assert "ERROR_STORE_UNAVAILABLE" not in [o for _, o in rows]


def test_gallery_database_stopped_mid_run_refuses_enrolment_and_stores_nothing(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    face: bytes,
    capfd: pytest.CaptureFixture[str],
    pg: tuple[PgServer, str],
) -> None:
    logs = Logs(capfd)
    server, db = pg
    # FACEPROOF_DATABASE_URL: the ledger and the galleries in PostgreSQL.
    with _app(make_settings, data_dir=tmp_path / "data", database_url=db) as c:
        made = c.post(
            API + "/face/generateTemplateFromImage",
            json={"image": base64.b64encode(face).decode(), "qualityMode": "DISABLED"},
        )
        assert made.status_code == 200, made.text
        enrol = {"subjectId": "s1", "template": made.json()["data"]["templates"]["FACEPROOF_T1"]}
        server.stop()
        refused = c.post(API + "/galleries/g1/subjects", json=enrol)
        _assert_store_refusal(refused, "gallery database (PostgreSQL)", "any other request")
        health = c.get(API + "/face_health").json()
        assert health["stores"]["gallery"]["status"] == "ERROR"
        assert [line["store"] for line in logs.events("store_unavailable")][:1] == ["gallery"]

        server.start()
        time.sleep(1.1)
        # One transaction per write: the refused enrolment stored nothing, so the same request
        # goes through once, and the gallery holds one subject with one template.
        again = c.post(API + "/galleries/g1/subjects", json=enrol)
        assert again.status_code == 200, again.text
        listed = c.get(API + "/galleries/g1/subjects").json()
        assert listed["total"] == 1 and listed["subjects"][0]["templates"] == 1, listed


def _tx(refid: str) -> Transaction:
    return Transaction(
        refid=refid,
        action="LIVENESS",
        ts_ms=int(time.time() * 1000),
        outcome="FEEDBACK_LIVE",
        code=200,
        http_status=200,
        endpoint="/api/v1/face/as",
        latency_ms=12.5,
        quality={"brightness": 0.5},
    )


def test_spooled_rows_survive_a_restart_and_move_once(
    tmp_path: Path, pg: tuple[PgServer, str]
) -> None:
    """The spool is a file: rows kept while the database was down move at the next start;
    without a spool, or with one that cannot be written, the write is refused (503)."""
    server, db = pg
    spool = tmp_path / "ledger-spool.sqlite3"
    led = PgLedger(db, spool=spool)
    led.record(_tx("a"))
    reader = PgLedger(db, must_exist=True)  # no spool: what the report CLI opens
    blocked = tmp_path / "not-a-file"
    blocked.mkdir()
    broken = PgLedger(db, spool=blocked)
    server.stop()
    led.record(_tx("b"))
    led.record(_tx("c"))
    assert led.spooled() == 2
    with pytest.raises(outage.StoreUnavailable):
        reader.record(_tx("x"))
    with pytest.raises(outage.StoreUnavailable):
        broken.record(_tx("y"))
    for ledger in (led, reader, broken):
        ledger.close()
    server.start()
    again = PgLedger(db, spool=spool)  # start-up moves what the last run kept
    assert again.spooled() == 0
    got = list(again.query(None, None))
    assert [t.refid for t in got] == ["a", "b", "c"]
    assert got[1].quality == {"brightness": 0.5}
    again.close()


def test_an_answer_no_store_can_keep_is_withheld_with_503(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    face: bytes,
    pg: tuple[PgServer, str],
) -> None:
    """The database down and the spool unwritable: an unrecorded request is never
    acknowledged. The refusal says the capture was used; re-sent, it is a replay (601)."""
    server, db = pg
    data_dir = tmp_path / "data"
    (data_dir / "ledger-spool.sqlite3").mkdir(parents=True)  # no file can be made there
    with _app(make_settings, data_dir=data_dir, ledger_url=db) as c:
        assert _send(c, _seal(c, face)).status_code == 200
        server.stop()
        used = _seal(c, face)
        withheld = _send(c, used)
        _assert_store_refusal(withheld, "transaction ledger (PostgreSQL)", "was used")
        assert "withheld" in withheld.json()["description"]
        server.start()
        time.sleep(1.1)
        replay = _send(c, used)
        assert replay.status_code == 400 and replay.json()["code"] == 601
