"""A real ``faceproof serve`` for the benches and the tests (tests/live_server.py loads this
file): one way to start it, wait for it and stop it.

The benches measure the server as an operator runs it (its own processes, all threads), so
each starts the CLI in a private temporary data dir, with the caller's deployment settings
removed (licence file, template encryption, other ``FACEPROOF_*``) so that numbers do not
depend on whoever ran them. The server's stderr goes to a file in that dir, never to an
unread pipe that could fill and stall it; its tail is shown when start-up fails.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_DROPPED = ("SERVER_CONFIG_PATH", "TEMPLATE_ENCRYPTION_ENABLED", "TEMPLATE_ENCRYPTION_KEY")


@dataclass(frozen=True)
class Served:
    port: int
    proc: subprocess.Popen[bytes]
    data_dir: Path
    log: Path  # the server's stdout and stderr

    def log_lines(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.strip()]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (threads' children included): a multi-process server
    counts whole."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def worker_pids(pid: int) -> list[int]:
    """Worker processes of a uvicorn parent (not multiprocessing's resource tracker)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(x) for x in (task / "children").read_text().split()]
    workers = []
    for kid in sorted(set(kids)):
        with contextlib.suppress(OSError):
            if b"resource_tracker" not in Path(f"/proc/{kid}/cmdline").read_bytes():
                workers.append(kid)
    return workers


@contextmanager
def running_server(
    *,
    workers: int = 1,
    port: int = 0,
    model_dir: Path | None = None,
    src: Path | None = None,
    env_extra: dict[str, str] | None = None,
    ready_timeout: float = 300.0,
) -> Iterator[Served]:
    """``faceproof serve`` on loopback until the block ends.

    ``src``: serve another source tree (its ``src/`` first on PYTHONPATH), for before/after
    comparisons. Ready means ``/api/v1/face_health`` answers 200 and, with several workers,
    that they have all started and had time to load their models.
    """
    port = port or free_port()
    models = model_dir or Path(os.environ.get("FACEPROOF_MODEL_DIR", REPO / "var" / "models"))
    with tempfile.TemporaryDirectory(prefix="faceproof-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("FACEPROOF_") and k not in _DROPPED
        }
        env.update(
            {
                "FACEPROOF_DATA_DIR": str(data_dir),
                "FACEPROOF_MODEL_DIR": str(Path(models).resolve()),
                "LOG_LEVEL": "WARNING",
            }
        )
        if src is not None:
            env["PYTHONPATH"] = str(Path(src) / "src")
        env.update(env_extra or {})
        log_path = Path(tmp) / "server.log"
        cmd = [sys.executable, "-m", "faceproof", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--workers", str(workers)]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                cmd, env=env, cwd=tmp, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
            try:
                _wait_ready(proc, port, workers, ready_timeout, log_path)
                yield Served(port, proc, data_dir, log_path)
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_ready(
    proc: subprocess.Popen[bytes], port: int, workers: int, timeout: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise SystemExit(f"server exited with {proc.returncode} during start-up:\n{tail}")
        if time.monotonic() > deadline:
            raise SystemExit(f"server did not come up within {timeout:.0f} s")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/face_health")
            ok = conn.getresponse().status == 200
            conn.close()
        except OSError:
            ok = False
        if ok and (workers == 1 or len(worker_pids(proc.pid)) >= workers):
            time.sleep(2 if workers == 1 else 15)  # let every worker finish loading
            return
        time.sleep(0.5)
