"""deploy/compose: the Compose file against the Compose Specification's JSON schema (as
vendored by check-jsonschema), its references, the settings it hands the servers (loaded by
config.Settings as a container would), and nginx.conf run for real in front of two stand-in
servers. No Docker engine runs here; what needs one (pulling images, starting the stack) is
not tested."""

from __future__ import annotations

import copy
import http.server
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from deploy_support import (
    DEPLOY,
    PROCESS_ENV,
    MissingVariable,
    interpolate,
    read_env_file,
    settings_from,
    settings_names,
)
from faceproof.crypto.keystore import KeyStore
from faceproof.identification.sealing import GalleryKeyring

COMPOSE_DIR = DEPLOY / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
FACEPROOF_SERVICES = ("faceproof-1", "faceproof-2")
SECRETS = {
    "REDIS_PASSWORD": "r3dis",
    "POSTGRES_PASSWORD": "pg5ecret",
    "FACEPROOF_METRICS_TOKEN": "t0ken",
}


def compose_schema() -> dict[str, Any]:
    path = resources.files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    return json.loads(path.read_text("utf-8"))  # type: ignore[no-any-return]


def schema_errors(doc: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(compose_schema())
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def reference_errors(doc: dict[str, Any]) -> list[str]:
    """What the schema cannot see: names that must point at something defined."""
    problems = []
    services = doc.get("services", {})
    for top in ("volumes", "networks", "secrets"):
        defined = set(doc.get(top) or {})
        for name, svc in services.items():
            entries = svc.get(top) or []
            keys = entries if isinstance(entries, list) else list(entries)
            for entry in keys:
                ref = entry if isinstance(entry, str) else entry.get("source", "")
                if top == "volumes":
                    ref = ref.split(":", 1)[0]
                    if ref.startswith((".", "/", "$")):  # host path or interpolated
                        continue
                if ref and ref not in defined:
                    problems.append(f"service {name}: {top[:-1]} {ref!r} is not defined")
    for name, svc in services.items():
        deps = svc.get("depends_on") or []
        for dep in deps if isinstance(deps, list) else list(deps):
            if dep not in services:
                problems.append(f"service {name}: depends_on undefined service {dep!r}")
    return problems


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text("utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    example = read_env_file(COMPOSE_DIR / ".env.example")
    return {**example, **SECRETS}


@pytest.fixture(scope="module")
def effective(raw: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    return interpolate(raw, env)  # type: ignore[no-any-return]


def test_compose_file_matches_the_compose_specification(
    raw: dict[str, Any], effective: dict[str, Any]
) -> None:
    assert schema_errors(raw) == []
    assert schema_errors(effective) == []
    assert reference_errors(effective) == []


def test_check_jsonschema_accepts_the_file_and_rejects_a_broken_one(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    ok = subprocess.run([*cli, str(COMPOSE_FILE)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        COMPOSE_FILE.read_text("utf-8").replace("stop_grace_period:", "stop_grace_periods:")
    )
    bad = subprocess.run([*cli, str(broken)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "stop_grace_periods" in bad.stdout, bad.stdout + bad.stderr


def test_the_checks_can_fail(raw: dict[str, Any], env: dict[str, str]) -> None:
    doc = copy.deepcopy(raw)
    doc["services"]["nginx"]["ports"] = {"8080": 80}  # a mapping where a list is due
    doc["services"]["redis"]["restart"] = ["always"]
    assert len(schema_errors(doc)) >= 2
    doc = interpolate(copy.deepcopy(raw), env)
    doc["services"]["nginx"]["depends_on"]["faceproof-3"] = {"condition": "service_healthy"}
    doc["services"]["faceproof-2"]["volumes"].append("cache:/cache")
    assert len(reference_errors(doc)) == 2


def test_secrets_are_required_and_documented(raw: dict[str, Any]) -> None:
    example = read_env_file(COMPOSE_DIR / ".env.example")
    # Shipped blank: `up` stops with the variable's message until the operator sets it.
    for name in SECRETS:
        assert example.get(name) == "", name
        with pytest.raises(MissingVariable, match=name):
            interpolate(raw, {**example, **{k: v for k, v in SECRETS.items() if k != name}})
    # Every variable the file reads is in .env.example, so the example documents them all.
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text("utf-8")))
    assert used - set(example) == set()


def test_servers_get_settings_the_server_knows(effective: dict[str, Any]) -> None:
    known = settings_names() | PROCESS_ENV
    for name in FACEPROOF_SERVICES:
        svc = effective["services"][name]
        environment = {k: str(v) for k, v in svc["environment"].items()}
        assert set(environment) - known == set(), name
        settings = settings_from(environment)  # raises on a value the server would refuse
        # The reference's deployment story: its names, its lic_config path and data folder.
        assert settings.server_config_path == Path("/opt/data/lic_config.json")
        assert f"{settings.server_config_path}:ro" in " ".join(svc["volumes"])
        assert any(v.endswith(":/app/data") for v in svc["volumes"])
        assert settings.log_level == "INFO" and settings.template_encryption_enabled is False
        # Shared state for two replicas, and nginx trusted for the client address.
        assert settings.redis_url == "redis://:r3dis@redis:6379/0"
        assert settings.database_url == "postgresql://faceproof:pg5ecret@postgres:5432/faceproof"
        nginx = effective["services"]["nginx"]["networks"]["backend"]["ipv4_address"]
        assert settings.trusted_proxies == nginx
        assert svc["read_only"] is True and "ALL" in svc["cap_drop"]
    one, two = (
        {**effective["services"][n], "networks": None, "volumes": None} for n in FACEPROOF_SERVICES
    )
    assert one == two  # the same server twice, at two fixed addresses in the backend subnet
    data = [effective["services"][n]["volumes"][0] for n in FACEPROOF_SERVICES]
    assert all(v.endswith(":/app/data") for v in data) and data[0] != data[1]  # each its own
    subnet = ipaddress.ip_network(effective["networks"]["backend"]["ipam"]["config"][0]["subnet"])
    addresses = [
        effective["services"][n]["networks"]["backend"]["ipv4_address"]
        for n in (*FACEPROOF_SERVICES, "nginx")
    ]
    assert len(set(addresses)) == 3
    assert all(ipaddress.ip_address(a) in subnet for a in addresses)
    assert effective["networks"]["backend"]["internal"] is True  # no route out at run time


def test_one_deployment_key_made_once_and_mounted_read_only(
    effective: dict[str, Any], tmp_path: Path
) -> None:
    services = effective["services"]
    keys = services["keys"]
    assert keys["network_mode"] == "none" and keys["read_only"] is True
    (key_volume,) = keys["volumes"]
    volume, key_home = key_volume.split(":")
    assert volume in effective["volumes"]
    for name in FACEPROOF_SERVICES:
        svc = services[name]
        assert svc["depends_on"]["keys"]["condition"] == "service_completed_successfully"
        mounts = dict(v.split(":", 1) for v in svc["volumes"])
        target, mode = mounts[volume].split(":")
        assert mode == "ro"
        settings = settings_from({k: str(v) for k, v in svc["environment"].items()})
        assert settings.keys_read_only is True
        # The servers read the folder the keys service writes, through the shared volume.
        assert settings.keys_path == Path(target) / Path(
            keys["environment"]["FACEPROOF_DATA_DIR"], "keys"
        ).relative_to(key_home)

    # The keys service's command, run twice on a folder standing in for its volume.
    (script,) = keys["command"]
    home = tmp_path / "key-volume"
    env = {
        **os.environ,
        "FACEPROOF_DATA_DIR": str(home),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [keys["entrypoint"][0], keys["entrypoint"][1], script.replace(key_home, str(home))],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        runs.append({p.name: p.read_bytes() for p in (home / "keys").iterdir()})
    assert runs[0] == runs[1]  # made once; a second start changes nothing
    assert {"index.json", "gallery-keys.json"} <= set(runs[0])
    store = KeyStore.open(home / "keys", read_only=True)  # what each server opens
    assert f"{store.current_kid}.pem" in runs[0]
    GalleryKeyring.open(home / "keys", read_only=True)


def test_lic_config_is_mounted_where_server_config_path_says(
    raw: dict[str, Any], env: dict[str, str]
) -> None:
    for path in ("/opt/data/lic_config.json", "/etc/faceproof/lic.json"):
        doc = interpolate(raw, {**env, "SERVER_CONFIG_PATH": path})
        svc = doc["services"]["faceproof-1"]
        assert svc["environment"]["SERVER_CONFIG_PATH"] == path
        assert f"./lic_config.json:{path}:ro" in svc["volumes"]


def test_servers_nginx_and_prometheus_list_the_same_servers(effective: dict[str, Any]) -> None:
    servers = {
        name
        for name, svc in effective["services"].items()
        if "FACEPROOF_REDIS_URL" in (svc.get("environment") or {})
    }
    assert servers == set(FACEPROOF_SERVICES)
    conf = (COMPOSE_DIR / "nginx.conf").read_text("utf-8")
    upstream = re.search(r"upstream faceproof \{(.*?)\}", conf, re.S)
    assert upstream is not None
    assert set(re.findall(r"^\s*server ([\w-]+):8080\b", upstream.group(1), re.M)) == servers
    prom = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text("utf-8"))
    targets = {
        t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    assert targets == {f"{name}:8080" for name in servers}


def test_reference_port_name_publishes_nginx(raw: dict[str, Any], env: dict[str, str]) -> None:
    def published(extra: dict[str, str]) -> str:
        ports = interpolate(raw, {**env, **extra})["services"]["nginx"]["ports"]
        return str(ports[0]).split(":")[0]

    base = {k: v for k, v in env.items() if k not in ("TOMCAT_HTTP", "FACEPROOF_HTTP_PORT")}
    assert published(base) == "8080"
    assert published({**base, "TOMCAT_HTTP": "9000"}) == "9000"
    assert published({**base, "TOMCAT_HTTP": "9000", "FACEPROOF_HTTP_PORT": "9100"}) == "9100"


def test_prometheus_scrapes_every_server_with_the_token(effective: dict[str, Any]) -> None:
    prom = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text("utf-8"))
    (job,) = prom["scrape_configs"]
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"{name}:8080" for name in FACEPROOF_SERVICES}
    assert job["metrics_path"] == "/metrics"
    secret = effective["services"]["prometheus"]["secrets"][0]
    assert job["authorization"]["credentials_file"] == f"/run/secrets/{secret}"
    assert effective["secrets"][secret]["environment"] == "FACEPROOF_METRICS_TOKEN"
    assert "FACEPROOF_METRICS_TOKEN" in effective["services"]["faceproof-1"]["environment"]


def test_grafana_provisioning_points_at_the_dashboards(effective: dict[str, Any]) -> None:
    grafana = effective["services"]["grafana"]
    assert grafana["profiles"] == ["grafana"]  # optional
    prov = COMPOSE_DIR / "grafana" / "provisioning"
    (source,) = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090" and source["uid"] == "prometheus"
    (provider,) = yaml.safe_load((prov / "dashboards" / "faceproof.yml").read_text())["providers"]
    mounts = dict(v.rsplit(":", 2)[:2] for v in grafana["volumes"] if v.count(":") == 2)
    host = mounts.get("../grafana") or ""
    assert host == provider["options"]["path"]
    assert (COMPOSE_DIR / "../grafana").resolve() == (DEPLOY / "grafana").resolve()
    # Every datasource the shipped dashboards name is the one provisioned here.
    dashboards = sorted((DEPLOY / "grafana").glob("*.json"))
    assert dashboards
    for path in dashboards:
        refs = list(_datasources(json.loads(path.read_text("utf-8"))))
        assert refs, path.name
        for ref in refs:
            assert ref == {"type": "prometheus", "uid": source["uid"]}, (path.name, ref)


def _datasources(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        if "datasource" in node:
            yield node["datasource"]
        for value in node.values():
            yield from _datasources(value)
    elif isinstance(node, list):
        for value in node:
            yield from _datasources(value)


# ------------------------------------------------------------------ nginx.conf, run for real
class _Stub(http.server.BaseHTTPRequestHandler):
    """A stand-in server: answers with its name and what nginx forwarded."""

    name = ""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        doc = {
            "server": self.name,
            "path": self.path,
            "bytes": len(body),
            "xff": self.headers.get("X-Forwarded-For"),
            "origin": self.headers.get("Origin"),
        }
        data = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nginx_in_front(tmp_path: Path) -> Iterator[tuple[str, list[Any]]]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is missing: scripts/install.sh --dev installs it")
    servers = []
    ports = []
    for name in FACEPROOF_SERVICES:
        handler = type(f"Stub_{name}", (_Stub,), {"name": name})
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        ports.append(srv.server_address[1])
    listen = _free_port()
    conf = (COMPOSE_DIR / "nginx.conf").read_text("utf-8")
    # The only changes: loopback addresses for the compose service names, a free port, and
    # the pid/temp files inside the test's directory.
    for name, port in zip(FACEPROOF_SERVICES, ports, strict=True):
        conf = conf.replace(f"server {name}:8080", f"server 127.0.0.1:{port}")
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    conf = conf.replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
    conf = conf.replace(
        "http {",
        f"http {{\n    client_body_temp_path {tmp_path}/body;\n"
        f"    proxy_temp_path {tmp_path}/proxy;",
        1,
    )
    assert conf.count("127.0.0.1:") == 3
    (tmp_path / "nginx.conf").write_text(conf)
    base = [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"]
    check = subprocess.run([*base, "-t"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([*base, "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{listen}"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v1/face_health", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "nginx did not start"
                time.sleep(0.1)
        yield url, servers
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        for srv in servers:
            srv.shutdown()
            srv.server_close()
        assert not list((tmp_path / "body").glob("**/0*")), "a request body was spooled to disk"


def _post(
    url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def test_nginx_balances_forwards_and_limits(nginx_in_front: tuple[str, list[Any]]) -> None:
    url, _ = nginx_in_front
    seen = [_post(f"{url}/api/v1/face/as?x=1", b"x" * 1000)[1]["server"] for _ in range(10)]
    assert set(seen) == set(FACEPROOF_SERVICES)  # round robin over both servers
    assert seen.count("faceproof-1") == 5
    # A 15 MiB body (the server's own limit) passes whole, from memory; a bigger one is 413.
    status, doc = _post(
        f"{url}/api/v1/process",
        b"\0" * (15 * 1024 * 1024),
        {"Origin": "https://app.example.com", "X-Forwarded-For": "198.51.100.7"},
    )
    assert status == 200 and doc["bytes"] == 15 * 1024 * 1024
    assert doc["origin"] == "https://app.example.com"  # the origin check needs it
    assert doc["xff"] == "198.51.100.7, 127.0.0.1"  # the server trusts only nginx's hop
    assert _post(f"{url}/api/v1/process", b"\0" * (17 * 1024 * 1024))[0] == 413
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(f"{url}/metrics", timeout=10)
    assert exc.value.code == 404  # metrics are scraped from each server, not from outside


def test_nginx_skips_a_stopped_server(nginx_in_front: tuple[str, list[Any]]) -> None:
    url, servers = nginx_in_front
    servers[1].shutdown()
    servers[1].server_close()  # refuses connections now, as a stopping replica does
    answers = [_post(f"{url}/api/v1/face/as", b"x" * 100) for _ in range(8)]
    assert [status for status, _ in answers] == [200] * 8  # a POST not yet sent is retried
    assert {doc["server"] for _, doc in answers} == {"faceproof-1"}
