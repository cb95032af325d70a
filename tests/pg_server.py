"""A throwaway PostgreSQL server on loopback for tests (Debian's packages, pgvector).

Started in a fresh temporary directory with ``initdb``/``pg_ctl`` and removed afterwards.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system
user (created by Debian's package) through ``runuser``. Callers skip only when the server
binaries are absent; a missing pgvector extension is a failure (``scripts/install.sh --dev``
installs it).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def pg_bindir() -> Path | None:
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(cand) / "initdb").is_file() and (Path(cand) / "pg_ctl").is_file():
            return Path(cand)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """A running test server that a test may stop and start again (same port, same data)."""

    def __init__(self, bindir: Path, root: Path, port: int, prefix: list[str]) -> None:
        self.bindir, self.root, self.port, self.prefix = bindir, root, port, prefix
        self.data = root / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        pg_ctl = str(self.bindir / "pg_ctl")
        log = str(self.root / "log")
        self._run(pg_ctl, "-D", str(self.data), "-o", opts, "-w", "-t", "60", "-l", log, "start")

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: connections cut at once, as a crash or a lost host would."""
        subprocess.run(
            [
                *self.prefix,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                mode,
                "-w",
                "stop",
            ],
            capture_output=True,
            timeout=60,
        )


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a ``postgresql://`` URL of a fresh database; stops and deletes it after."""
    with postgres_control() as server:
        yield server.url


@contextlib.contextmanager
def postgres_control() -> Iterator[PgServer]:
    """A fresh server as a :class:`PgServer` (stop/start it mid-test); deleted after."""
    bindir = pg_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server binaries not installed")
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    user = "postgres"
    if as_root:
        pw = pwd.getpwnam(user)
        prefix = ["runuser", "-u", user, "--"]
    root = Path(tempfile.mkdtemp(prefix="faceproof-pg-"))
    if as_root:
        os.chown(root, pw.pw_uid, pw.pw_gid)
    server = PgServer(bindir, root, _free_port(), prefix)
    try:
        server._run(
            str(bindir / "initdb"),
            "-D",
            str(server.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
