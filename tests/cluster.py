"""A scale-out deployment on loopback for tests: Redis, PostgreSQL, N `faceproof serve`
replicas and nginx round-robin in front, all from Debian's packages and our CLI.

Each replica has a private data directory (nothing shared through the file system but the
deployment key) and the same settings an operator would give several hosts:
``FACEPROOF_REDIS_URL`` (nonces, challenges, abuse counters), ``FACEPROOF_DATABASE_URL``
(ledger, gallery) and one deployment key, made once and mounted read-only
(``FACEPROOF_KEYS_DIR`` + ``FACEPROOF_KEYS_READ_ONLY``) as a Kubernetes Secret would be.

The nginx configuration has what docs/deployment.md ("Scale-out") asks of a balancer, as in
deploy/compose/nginx.conf: round robin with upstream keep-alive, a replica that refuses the
connection is skipped, and a request that was already sent is never sent to another replica
(``proxy_next_upstream error timeout`` without ``non_idempotent``): a resent request would
present a consumed nonce again.

Everything is torn down when the context ends: replicas (SIGTERM, then SIGKILL), nginx,
the servers and their temporary directories.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from conftest import model_dir
from pg_server import postgres_server
from redis_server import free_port, redis_server

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")
READY_TIMEOUT_S = 300.0


def nginx_binary() -> str | None:
    for cand in NGINX_CANDIDATES:
        found = shutil.which(cand)
        if found:
            return found
    return None


@dataclass
class Replica:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    data_dir: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Sends ``sig`` and waits; SIGKILL after ``timeout``. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return int(self.proc.returncode)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


@dataclass
class Cluster:
    root: Path
    redis_url: str
    database_url: str
    keys_dir: Path
    nginx_port: int
    replicas: list[Replica] = field(default_factory=list)

    @property
    def url(self) -> str:
        """nginx, in front of every replica."""
        return f"http://127.0.0.1:{self.nginx_port}"

    def nginx_log(self) -> list[str]:
        path = self.root / "nginx" / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []


NGINX_CONF = """\
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    log_format fp '$request_method $uri $status $upstream_addr $upstream_status';
    access_log {root}/access.log fp;

    upstream faceproof {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 16m;
        client_body_buffer_size 16m;
        location / {{
            proxy_pass http://faceproof;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_max_temp_file_size 0;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 2;
        }}
    }}
}}
"""


def _nginx_conf(root: Path, port: int, replicas: list[Replica]) -> str:
    servers = "\n".join(
        f"        server 127.0.0.1:{r.port} max_fails=1 fail_timeout=10s;" for r in replicas
    )
    return NGINX_CONF.format(root=root, port=port, servers=servers)


def _get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _wait_healthy(replica: Replica, deadline: float) -> None:
    while True:
        if not replica.alive():
            raise RuntimeError(f"{replica.name} exited during start-up:\n{replica.log_tail()}")
        with contextlib.suppress(OSError):
            status, body = _get(replica.port, "/api/v1/face_health")
            if status == 200:
                return
            if status == 503 and time.monotonic() > deadline:
                raise RuntimeError(f"{replica.name} unhealthy: {body[:500]!r}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{replica.name} not up in time:\n{replica.log_tail()}")
        time.sleep(0.5)


def _replica_env(cluster: Cluster, data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEPROOF_")}
    for key in ("SERVER_CONFIG_PATH", "TEMPLATE_ENCRYPTION_ENABLED", "TEMPLATE_ENCRYPTION_KEY"):
        env.pop(key, None)
    env.update(
        {
            "FACEPROOF_DATA_DIR": str(data_dir),
            "FACEPROOF_MODEL_DIR": str(model_dir()),
            "FACEPROOF_REDIS_URL": cluster.redis_url,
            "FACEPROOF_DATABASE_URL": cluster.database_url,
            "FACEPROOF_KEYS_DIR": str(cluster.keys_dir),
            "FACEPROOF_KEYS_READ_ONLY": "true",
            # nginx (and the tests, which play other clients) connect from loopback.
            "FACEPROOF_TRUSTED_PROXIES": "127.0.0.1",
            "FACEPROOF_WORKERS": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


def start_replica(cluster: Cluster, name: str, extra: dict[str, str] | None = None) -> Replica:
    """Starts one more ``faceproof serve`` (not yet behind nginx); returns without waiting."""
    data_dir = cluster.root / name / "data"
    data_dir.parent.mkdir(parents=True)
    log = cluster.root / name / "serve.log"
    port = free_port()
    cmd = [sys.executable, "-m", "faceproof", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            env=_replica_env(cluster, data_dir, extra or {}),
            cwd=cluster.root / name,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    return Replica(name, port, proc, data_dir, log)


@contextlib.contextmanager
def running_cluster(replicas: int = 2, extra: dict[str, str] | None = None) -> Iterator[Cluster]:
    """The whole deployment, ready (every replica healthy, nginx answering)."""
    nginx = nginx_binary()
    if nginx is None:
        raise FileNotFoundError("nginx not installed")
    from faceproof.crypto.keystore import KeyStore
    from faceproof.identification.sealing import GalleryKeyring

    root = Path(tempfile.mkdtemp(prefix="faceproof-cluster-"))
    nginx_proc: subprocess.Popen[bytes] | None = None
    cluster: Cluster | None = None
    try:
        with redis_server() as redis_url, postgres_server() as database_url:
            keys = root / "secret" / "keys"
            # Made once, where keys are managed, then mounted read-only by every replica:
            # the envelope key pair and the gallery's template key.
            KeyStore.open(keys)
            GalleryKeyring.open(keys)
            (keys / ".lock").unlink(missing_ok=True)
            cluster = Cluster(root, redis_url, database_url, keys, free_port())
            try:
                for i in range(replicas):
                    cluster.replicas.append(start_replica(cluster, f"replica-{i + 1}", extra))
                deadline = time.monotonic() + READY_TIMEOUT_S
                for replica in cluster.replicas:
                    _wait_healthy(replica, deadline)
                nroot = root / "nginx"
                (nroot / "tmp").mkdir(parents=True)
                conf = nroot / "nginx.conf"
                conf.write_text(_nginx_conf(nroot, cluster.nginx_port, cluster.replicas))
                nginx_proc = subprocess.Popen(
                    [nginx, "-p", str(nroot), "-c", str(conf), "-g", "daemon off;"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=(nroot / "stderr.log").open("wb"),
                )
                while True:
                    if nginx_proc.poll() is not None:
                        err = (nroot / "stderr.log").read_text(errors="replace")
                        raise RuntimeError(f"nginx exited: {err[-2000:]}")
                    with contextlib.suppress(OSError):
                        if _get(cluster.nginx_port, "/api/v1/face_health")[0] == 200:
                            break
                    if time.monotonic() > deadline:
                        raise TimeoutError("nginx not answering")
                    time.sleep(0.2)
                yield cluster
            finally:
                if nginx_proc is not None:
                    nginx_proc.send_signal(signal.SIGQUIT)  # graceful: finish, then exit
                    try:
                        nginx_proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        nginx_proc.kill()
                        nginx_proc.wait(timeout=10)
                for replica in cluster.replicas:
                    replica.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def health(port: int) -> dict[str, object]:
    status, body = _get(port, "/api/v1/face_health")
    out: dict[str, object] = json.loads(body)
    out["http_status"] = status
    return out
