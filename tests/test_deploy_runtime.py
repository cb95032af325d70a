"""The image's run-time contract, without Docker: the real ``faceproof serve`` with the
runtime stage's environment (read from deploy/docker/Dockerfile), as uid 998, with the root
filesystem read-only and a memory-backed /tmp (what the Helm chart's securityContext and
the compose file's ``read_only``/``tmpfs`` impose), answering the image's own health probe
and shutting down cleanly on SIGTERM, with no network but its own loopback (no model or
anything else is fetched at run time). Private mount and network namespaces (``unshare``)
stand in for the container; they need root, as CI has."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import dockerfile
import pytest

from deploy_support import DEPLOY, REPO
from faceproof.cli.serve import PINNED_ENV

IMAGE_UID = 998
HEALTHCHECK = DEPLOY / "docker" / "healthcheck.py"


def runtime_env() -> dict[str, str]:
    """ENV of the Dockerfile's runtime stage."""
    env: dict[str, str] = {}
    stage = ""
    for cmd in dockerfile.parse_file(str(DEPLOY / "docker" / "Dockerfile")):
        if cmd.cmd == "FROM":
            stage = cmd.value[-1]
        elif cmd.cmd == "ENV" and stage == "runtime":
            env.update(zip(cmd.value[0::2], cmd.value[1::2], strict=True))
    return env


def _reach_interpreter() -> list[str]:
    """Mounts that let uid 998 reach this checkout's interpreter (inside the namespace only).

    A venv's python is a link to the interpreter it was made from; on this kind of machine
    that is under /root (0700). The image has its own under /usr/local. The namespace puts
    a 0755 tmpfs over the closed folder and binds the interpreter's subtree back into it.
    """
    real = Path(os.path.realpath(sys.executable))
    for parent in reversed(real.parents):
        if parent != Path("/") and not parent.stat().st_mode & 0o001:
            child = real.relative_to(parent).parts[0]
            keep = shlex.quote(str(parent / child))
            return [
                "hold=$(mktemp -d)",
                f'mount --bind {keep} "$hold"',
                f"mount -t tmpfs -o mode=0755 tmpfs {shlex.quote(str(parent))}",
                f"mkdir {keep}",
                f'mount --bind "$hold" {keep}',
            ]
    return []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # /dev/shm stays writable inside the namespace (a container has it too); /tmp does not
    # show through, it is replaced by an empty tmpfs there.
    path = Path(tempfile.mkdtemp(prefix="faceproof-deploy-", dir="/dev/shm"))
    os.chown(path, IMAGE_UID, IMAGE_UID)
    os.chmod(path, 0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_server_runs_as_the_image_does(models_path: Path, data_dir: Path, data_root: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
        pytest.skip("needs root with unshare and setpriv (util-linux), as CI has")
    port = _free_port()
    image = runtime_env()
    assert image["FACEPROOF_DATA_DIR"] == "/app/data" and image["HOME"] == "/tmp"
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **image,
        # The image's paths, mapped to this checkout; everything else exactly as the image.
        "PATH": image["PATH"]
        .replace("/app/.venv/bin", venv_bin)
        .replace("${PATH}", "/usr/bin:/bin"),
        "FACEPROOF_DATA_DIR": str(data_dir / "data"),
        "FACEPROOF_MODEL_DIR": str(models_path),
        "FACEPROOF_HOST": "127.0.0.1",
        "FACEPROOF_PORT": str(port),
        "FACEPROOF_WORKERS": "1",  # one worker is enough here (the image: one per core)
    }
    for name, value in PINNED_ENV.items():
        assert env[name] == value  # so serve does not re-execute itself
    assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(env.items()))
    # A checkout, venv or model store under /tmp would vanish under the new tmpfs: hold it
    # (read-only) in /dev/shm and bind it back into the tmpfs at the same path.
    hold, put_back = [], []
    roots = {REPO, Path(sys.prefix), models_path.resolve()}
    for n, path in enumerate(sorted(p for p in roots if p.is_relative_to("/tmp"))):
        q = shlex.quote(str(path))
        hold += [
            f"h{n}=$(mktemp -d -p /dev/shm)",
            f'mount --bind {q} "$h{n}"',
            f'mount -o remount,bind,ro "$h{n}"',
        ]
        put_back += [f"mkdir -p {q}", f'mount --bind "$h{n}" {q}']
    script = "; ".join(
        [
            "set -e",
            "ip link set lo up",  # a network namespace of its own: loopback, nothing else
            *_reach_interpreter(),
            "mount -o remount,bind,ro /",  # the whole root filesystem, this checkout included
            *hold,
            "mount -t tmpfs -o mode=1777,size=256m tmpfs /tmp",
            *put_back,
            f"for d in /etc {shlex.quote(str(REPO))}; do if touch $d/.fp-rw 2>/dev/null; "
            'then echo "$d is writable" >&2; exit 3; fi; done',
            f"exec setpriv --reuid {IMAGE_UID} --regid {IMAGE_UID} --clear-groups "
            f"env -i {assignments} {shlex.quote(venv_bin)}/faceproof serve",
        ]
    )
    log = data_dir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", script],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd="/",
        )
    try:
        deadline = time.monotonic() + 240  # models load; the machine may be busy
        # Every call from inside the server's network namespace (nsenter), its only network.
        inside = ["nsenter", "--target", str(proc.pid), "--net", sys.executable]
        url = f"http://127.0.0.1:{port}/api/v1"
        probe = [*inside, str(HEALTHCHECK), f"{url}/face_health"]
        while True:
            done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
            if done.returncode == 0:
                break
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, done.stdout
            time.sleep(1)
        fetch = (
            "import base64, json, sys, urllib.request as u; "
            f"key = u.urlopen(u.Request('{url}/pub_key', data=b''), timeout=30).read(); "
            f"health = u.urlopen('{url}/face_health', timeout=30).read(); "
            f"img = base64.b64encode(open(sys.argv[1], 'rb').read()).decode(); "
            f"req = u.Request('{url}/face/generateTemplateFromImage', "
            "data=json.dumps({'image': img}).encode(), "
            "headers={'Content-Type': 'application/json'}); "
            "made = u.urlopen(req, timeout=120).read(); "
            "print(json.dumps([json.loads(key), json.loads(health), json.loads(made)]))"
        )
        portrait = data_root / "misc/other_faces/dlib__Tom_Cruise_avp_2014_4.jpg"
        calls = subprocess.run(
            [*inside, "-c", fetch, str(portrait)], capture_output=True, text=True, timeout=180
        )
        assert calls.returncode == 0, calls.stderr
        pub, health, made = json.loads(calls.stdout)
        # The models run: a template from a real portrait, read-only and offline.
        assert made["code"] == 200 and made["feedbackCode"] == "FEEDBACK_CAPTURED", made
        assert made["data"]["templates"]
        links = subprocess.run(
            ["nsenter", "--target", str(proc.pid), "--net", "ip", "-o", "link"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert [line.split(":")[1].strip() for line in links.stdout.splitlines()] == ["lo"]
        assert health["status"] == "OK" and health["kid"] == pub["kid"]
        # Written only into the data dir, as the image's user, private.
        keys = data_dir / "data" / "keys"
        assert (keys / "index.json").stat().st_uid == IMAGE_UID
        assert ((data_dir / "data").stat().st_mode & 0o777) == 0o700
        assert health["kid"] in (keys / "index.json").read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    text = log.read_text(errors="replace")
    # A clean shutdown (uvicorn re-raises the SIGTERM it handled once it has finished).
    assert rc in (0, -signal.SIGTERM), text[-3000:]
    assert "Application shutdown complete" in text, text[-3000:]
    assert "Read-only file system" not in text, text[-3000:]
