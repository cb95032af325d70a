"""One real `faceproof serve` process per test run, shared by the tests that need a live
server (client, examples, logs). Started on a free port with a temporary data dir; its stderr
goes to a file the log tests read; stopped when the test process exits."""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from conftest import model_dir
from test_serve_cli import _free_port


@dataclass(frozen=True)
class LiveServer:
    url: str
    stderr: Path
    data_dir: Path

    def log_lines(self) -> list[str]:
        return [line for line in self.stderr.read_text().splitlines() if line.strip()]


_server: LiveServer | None = None


def live_server() -> LiveServer:
    """The shared server, started on first use (about 20 s: the models load)."""
    global _server
    if _server is not None:
        return _server
    root = Path(tempfile.mkdtemp(prefix="faceproof-live-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEPROOF_")}
    for key in ("SERVER_CONFIG_PATH", "TEMPLATE_ENCRYPTION_ENABLED", "TEMPLATE_ENCRYPTION_KEY"):
        env.pop(key, None)
    env.update(
        {
            "FACEPROOF_DATA_DIR": str(root / "data"),
            "FACEPROOF_MODEL_DIR": str(model_dir()),
            "LOG_LEVEL": "INFO",
        }
    )
    port = _free_port()
    stderr = root / "stderr.log"
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "faceproof", "serve", "--port", str(port), "--workers", "1"],
            env=env,
            cwd=root,
            stdout=err,
            stderr=err,
        )
    atexit.register(_stop, proc)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"faceproof serve exited: {stderr.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/api/v1/face_health", timeout=2) as r:
                if json.loads(r.read()).get("status") == "OK":
                    break
        except OSError:
            time.sleep(0.5)
    else:
        _stop(proc)
        raise RuntimeError("faceproof serve did not come up in 180 s")
    _server = LiveServer(url, stderr, root / "data")
    return _server


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
