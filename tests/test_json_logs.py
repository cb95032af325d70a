"""Every line a real server writes to stderr is JSON (ours, uvicorn's, LiteRT's native start-up
line), and each request gets one access line: method, path, status, ms, refid, no payload."""

from __future__ import annotations

import base64
import json
import logging
import logging.config
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from faceproof.logging_setup import native_stderr_as_json, uvicorn_log_config
from live_server import live_server

MARKER = "PAYLOAD-MARKER-7f3a"  # must never reach a log line


def _post(url: str, body: bytes, ctype: str = "application/json") -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.headers.get("X-Refid", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("X-Refid", "")


def test_every_stderr_line_is_json_with_an_access_line_per_request(
    models_path: Path, data_root: Path
) -> None:
    server = live_server()
    api = server.url + "/api/v1"
    image = base64.b64encode((data_root / "misc/no_face/skimage__brick.png").read_bytes())
    sent: list[tuple[str, str, int, str]] = []
    with urllib.request.urlopen(api + "/face_health", timeout=30) as r:
        sent.append(("GET", "/api/v1/face_health", r.status, r.headers["X-Refid"]))
    body = json.dumps(
        {
            "image": {"template": image.decode(), "format": "PNG"},
            "imageToVerifyAgainst": {"template": MARKER, "format": "JPEG"},
            "level": MARKER,
        }
    ).encode()
    status, refid = _post(api + "/matchWithSelfie", body)
    sent.append(("POST", "/api/v1/matchWithSelfie", status, refid))
    status, refid = _post(
        api + "/face/as",
        f"image={MARKER}&threshold=HIGH".encode(),
        "application/x-www-form-urlencoded",
    )
    sent.append(("POST", "/api/v1/face/as", status, refid))
    status, refid = _post(api + "/no/such/endpoint?secret=" + MARKER, b"{}")
    sent.append(("POST", "/api/v1/no/such/endpoint", status, refid))
    assert [s[2] for s in sent] == [200, 400, 400, 404]

    time.sleep(0.5)  # the access line is written as the answer leaves
    lines = server.log_lines()
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON log line: {line[:200]!r}")
        assert MARKER not in line and image.decode()[:64] not in line
    assert any(r.get("logger") == "uvicorn.error" for r in records), "uvicorn's lines are JSON too"
    access = [r for r in records if r.get("event") == "access"]
    for method, path, status, refid in sent:
        mine = [a for a in access if a.get("refid") == refid]
        assert len(mine) == 1, f"no single access line for {path} ({refid})"
        line = mine[0]
        assert (line["method"], line["path"], line["status"]) == (method, path, status)
        assert isinstance(line["ms"], float | int) and line["ms"] >= 0
        assert set(line) == {
            "ts",
            "level",
            "logger",
            "event",
            "method",
            "path",
            "status",
            "ms",
            "refid",
            "code",  # the documented code and its name, as in the answer
            "outcome",
        }
        if status in (200, 404):
            assert line["code"] == status
        else:  # the documented error code of the refusal (505 level, 504 image …)
            assert 501 <= line["code"] <= 510 and line["outcome"].startswith("ERROR_")


def test_native_lines_are_reemitted_as_json(capfd: pytest.CaptureFixture[str]) -> None:
    with native_stderr_as_json():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b'{"already": "json"}\n')
        os.write(2, b"some other native text\n")
    err = capfd.readouterr().err.splitlines()
    parsed = [json.loads(line) for line in err if line.strip()]
    assert parsed[0]["logger"] == "faceproof.native" and parsed[0]["level"] == "INFO"
    assert parsed[0]["message"] == "Created TensorFlow Lite XNNPACK delegate for CPU."
    assert parsed[1] == {"already": "json"}
    assert parsed[2]["message"] == "some other native text"


def test_uvicorn_log_config_uses_our_formatter() -> None:
    logging.config.dictConfig(uvicorn_log_config("INFO"))
    handler = logging.getLogger("uvicorn.error").handlers[0]
    record = logging.LogRecord("uvicorn.error", logging.INFO, "x", 1, "Started %s", ("it",), None)
    assert json.loads(handler.format(record))["message"] == "Started it"
