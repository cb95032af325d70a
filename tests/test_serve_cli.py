"""`faceproof serve` as an operator runs it: a real uvicorn process; one-line start-up errors."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import model_dir

FACEPROOF = [sys.executable, "-m", "faceproof"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEPROOF_")}
    for key in ("SERVER_CONFIG_PATH", "TEMPLATE_ENCRYPTION_ENABLED", "TEMPLATE_ENCRYPTION_KEY"):
        env.pop(key, None)
    env.update(
        {"FACEPROOF_DATA_DIR": str(tmp_path / "data"), "FACEPROOF_MODEL_DIR": str(model_dir())}
    )
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.models
def test_serve_answers_health_and_stops_cleanly(tmp_path: Path, models_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [*FACEPROOF, "serve", "--port", str(port), "--workers", "1"],
        env=_env(tmp_path, FACEPROOF_KEEP_ALIVE_SECONDS="2"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/face_health", timeout=2
                ) as r:
                    body = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.3)
        assert body is not None, "server did not come up"
        assert body["status"] == "OK" and body["models"]["status"] == "ready"
        key_files = list((tmp_path / "data" / "keys").glob("*.pem"))
        assert key_files and all((p.stat().st_mode & 0o777) == 0o600 for p in key_files)
        # The server re-executed itself with the native thread pools and allocator pinned.
        environ = Path(f"/proc/{proc.pid}/environ")
        if environ.is_file():
            env = dict(
                item.split("=", 1) for item in environ.read_text().split("\0") if "=" in item
            )
            assert env.get("MALLOC_ARENA_MAX") == "2" and env.get("OMP_NUM_THREADS") == "1"
        # A socket that connects and sends nothing is closed after the idle timeout (2 s).
        with socket.create_connection(("127.0.0.1", port)) as idle:
            idle.settimeout(30)
            t0 = time.monotonic()
            assert idle.recv(1) == b""
            assert time.monotonic() - t0 <= 2 + 1.5
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _startup_error(tmp_path: Path, **env: str) -> str:
    r = subprocess.run(
        [*FACEPROOF, "serve", "--port", str(_free_port())],
        env=_env(tmp_path, **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_malformed_lic_config_fails_start_up_with_one_line(tmp_path: Path) -> None:
    lic = tmp_path / "lic_config.json"
    lic.write_text('{"face": {"url": "bank.example", "license": ')
    line = _startup_error(tmp_path, SERVER_CONFIG_PATH=str(lic))
    assert str(lic) in line and "JSON" in line


def test_missing_model_fails_start_up_naming_the_file(tmp_path: Path, models_path: Path) -> None:
    partial = tmp_path / "models"
    shutil.copytree(models_path, partial)
    (partial / "face_landmark.tflite").unlink()
    line = _startup_error(tmp_path, FACEPROOF_MODEL_DIR=str(partial))
    assert "face_landmark.tflite" in line


def test_corrupted_model_fails_start_up(tmp_path: Path, models_path: Path) -> None:
    partial = tmp_path / "models"
    shutil.copytree(models_path, partial)
    with (partial / "MobileFaceNet.tflite").open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    line = _startup_error(tmp_path, FACEPROOF_MODEL_DIR=str(partial))
    assert "MobileFaceNet.tflite" in line


def test_bad_template_key_fails_start_up(tmp_path: Path) -> None:
    line = _startup_error(
        tmp_path, TEMPLATE_ENCRYPTION_ENABLED="true", TEMPLATE_ENCRYPTION_KEY="not-a-key"
    )
    assert "TEMPLATE_ENCRYPTION_KEY" in line
