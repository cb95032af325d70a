"""A throwaway Redis server on loopback for tests (Debian's ``redis-server``).

Started in a fresh temporary directory, no persistence, on a free port; stopped (SIGTERM,
then SIGKILL) and removed afterwards. Callers skip only when the binary is absent
(``scripts/install.sh --dev`` installs it).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def redis_binary() -> str | None:
    return shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError("redis-server did not answer PING")


@contextlib.contextmanager
def redis_server(port: int | None = None) -> Iterator[str]:
    """Yields ``redis://127.0.0.1:<port>/0`` of a fresh server; stops and deletes it after.

    ``port``: where to listen (a test restarting "the same" Redis); a free one by default."""
    binary = redis_binary()
    if binary is None:
        raise FileNotFoundError("redis-server not installed")
    root = Path(tempfile.mkdtemp(prefix="faceproof-redis-"))
    port = port or free_port()
    log = root / "redis.log"
    args = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(root),
        "--save", "",
        "--appendonly", "no",
        "--logfile", str(log),
        "--daemonize", "no",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(port, proc, log, 30)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)
