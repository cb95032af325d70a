"""deploy/helm/faceproof: rendered by Helm itself (Helm's Go SDK, PyPI helm-python-sdk),
every manifest validated against the Kubernetes JSON schemas (PyPI kubernetes-validate, strict:
an unknown field is an error) for the oldest and newest Kubernetes the chart supports, then
cross-checked: references resolve, the settings are ones the server reads and accepts, and
the init container's key copy is run on a Secret-shaped folder. No cluster runs here:
scheduling, probes and autoscaling at run time are not tested."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from deploy_support import DEPLOY, settings_from, settings_names
from faceproof.crypto.keystore import KeyStore
from faceproof.identification.sealing import GalleryKeyring
from faceproof.license import load_deployment

CHART = DEPLOY / "helm" / "faceproof"
KUBE_VERSIONS = ("1.25.0", "1.37.0")  # Chart.yaml kubeVersion >=1.25, and the newest schemas
IMAGE_UID = 998  # deploy/docker/Dockerfile: USER 998:998

SHARED = {
    "redis": {"url": "redis://:pw@redis.data:6379/0"},
    "postgresql": {"url": "postgresql://faceproof:pw@pg.data:5432/faceproof"},
    "deploymentKey": {"existingSecret": "faceproof-keys"},
}
VALUE_SETS: dict[str, dict[str, Any]] = {
    "ha-inline": {**SHARED, "metrics": {"token": "t0ken"}},
    "ha-existing-secrets": {
        "redis": {"existingSecret": "redis-auth", "existingSecretKey": "url"},
        "postgresql": {"existingSecret": "pg-auth", "existingSecretKey": "uri"},
        "metrics": {"existingSecret": "metrics", "existingSecretKey": "token"},
        "deploymentKey": {"files": {"index.json": "{}", "a.pem": "-----BEGIN..."}},
    },
    "single-pod": {
        "autoscaling": {"enabled": False},
        "replicaCount": 1,
        "persistence": {"enabled": True, "storageClass": "fast"},
    },
    "everything-set": {
        **SHARED,
        "autoscaling": {"enabled": False},
        "replicaCount": 3,
        "workers": 2,
        "config": {
            "logLevel": "WARNING",
            "allowedOrigins": "app.example.com",
            "trustedProxies": "10.0.0.0/8",
            "metricsAllow": "10.42.0.0/16",
            "templateEncryption": {"enabled": True, "publicKey": "MIIBIjANBg..."},
            "extraEnv": {"FACEPROOF_QUEUE_SIZE": 16, "FACEPROOF_ABUSE_FAILURES": "5"},
        },
        "licenseConfig": {"face": {"url": ["app.example.com", "www.example.com"]}},
        "imagePullSecrets": [{"name": "registry"}],
        "nodeSelector": {"kubernetes.io/arch": "amd64"},
        "tolerations": [{"key": "biometrics", "operator": "Exists", "effect": "NoSchedule"}],
        "service": {"type": "LoadBalancer", "annotations": {"a": "b"}},
        "networkPolicy": {
            "enabled": True,
            "ingressFrom": [{"namespaceSelector": {"matchLabels": {"name": "ingress"}}}],
        },
    },
}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(values, name="demo", namespace="prod")
    docs = []
    for name, text in sorted(out.items()):
        if name.endswith(".yaml"):
            docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def kinds(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def schema_errors(docs: list[dict[str, Any]]) -> list[str]:
    errors = []
    for doc in docs:
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                errors.append(f"{doc['kind']}/{doc['metadata']['name']} @{version}: {exc.message}")
    return errors


def pod_of(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = kinds(docs, "Deployment")
    return deployment["spec"]["template"]  # type: ignore[no-any-return]


def container_env(docs: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, str]:
    """The server container's environment with every reference resolved (Secrets of the
    chart decoded, existing Secrets given stand-in values)."""
    pod = pod_of(docs)["spec"]
    (server,) = (c for c in pod["containers"] if c["name"] == "faceproof")
    configmaps = {d["metadata"]["name"]: d["data"] for d in kinds(docs, "ConfigMap")}
    secrets = {d["metadata"]["name"]: d.get("data", {}) for d in kinds(docs, "Secret")}
    env: dict[str, str] = {}
    for source in server.get("envFrom", []):
        data = configmaps[source["configMapRef"]["name"]]
        env.update({k: v for k, v in data.items() if k != "lic_config.json"})
    existing = {v.get("existingSecret") for v in values.values() if isinstance(v, dict)}
    for item in server["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        if ref["name"] in secrets:
            import base64

            env[item["name"]] = base64.b64decode(secrets[ref["name"]][ref["key"]]).decode()
        else:
            assert ref["name"] in existing, f"{item['name']}: Secret {ref['name']} nowhere"
            env[item["name"]] = {
                "FACEPROOF_REDIS_URL": "redis://:x@r:6379/0",
                "FACEPROOF_DATABASE_URL": "postgresql://u:x@p:5432/d",
            }.get(item["name"], "stand-in")
    return env


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values = VALUE_SETS[request.param]
    return values, render(values)


def test_manifests_match_the_kubernetes_schemas(rendered: Any) -> None:
    _, docs = rendered
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "ConfigMap", "ServiceAccount"}
    assert schema_errors(docs) == []


def test_references_resolve(rendered: Any) -> None:
    values, docs = rendered
    pod = pod_of(docs)
    (deployment,) = kinds(docs, "Deployment")
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (service,) = kinds(docs, "Service")
    assert service["spec"]["selector"].items() <= labels.items()
    (server,) = (c for c in pod["spec"]["containers"] if c["name"] == "faceproof")
    port_names = {p["name"] for p in server["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    for c in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
        assert {m["name"] for m in c["volumeMounts"]} <= set(volumes)
    secrets = {d["metadata"]["name"] for d in kinds(docs, "Secret")}
    existing = {v.get("existingSecret") for v in values.values() if isinstance(v, dict)} - {None}
    for v in volumes.values():
        if "secret" in v:
            assert v["secret"]["secretName"] in secrets | existing
        if "persistentVolumeClaim" in v:
            claims = {d["metadata"]["name"] for d in kinds(docs, "PersistentVolumeClaim")}
            assert v["persistentVolumeClaim"]["claimName"] in claims
    for hpa in kinds(docs, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
    for policy in kinds(docs, "NetworkPolicy"):  # out: only DNS and the shared stores
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        (rule,) = policy["spec"]["egress"]
        allowed = {p["port"] for p in rule["ports"]}
        for store in ("redis", "postgresql"):
            url = values.get(store, {}).get("url")
            if url:
                assert urlsplit(url).port in allowed, store
        assert {p["port"] for r in policy["spec"]["ingress"] for p in r["ports"]} <= port_names
    for pdb in kinds(docs, "PodDisruptionBudget"):
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_server_reads_and_accepts_its_settings(rendered: Any, tmp_path: Path) -> None:
    values, docs = rendered
    env = container_env(docs, values)
    assert set(env) - settings_names() == set()
    settings = settings_from(env)
    assert settings.port == 8080 and str(settings.data_dir).startswith("/app/data/")
    pod = pod_of(docs)["spec"]
    (server,) = (c for c in pod["containers"] if c["name"] == "faceproof")
    mounts = {m["mountPath"]: m for m in server["volumeMounts"]}
    assert str(settings.server_config_path) in mounts  # lic_config.json is where it is read
    (configmap,) = kinds(docs, "ConfigMap")
    lic = tmp_path / "lic_config.json"
    lic.write_text(configmap["data"]["lic_config.json"])
    deployment = load_deployment(lic, settings)  # the server's own parser and checks
    assert deployment.url_domains
    multi = values.get("autoscaling", {}).get("enabled", True) or values.get("replicaCount", 2) > 1
    if multi:  # shared state for several pods
        assert settings.redis_url and settings.database_url


def test_pods_run_as_the_image_user_with_probes_and_limits(rendered: Any) -> None:
    _, docs = rendered
    pod = pod_of(docs)["spec"]
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == IMAGE_UID
    assert pod["automountServiceAccountToken"] is False
    for c in pod["containers"] + pod.get("initContainers", []):
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(c["resources"]["requests"]) & set(c["resources"]["limits"])
    (server,) = (c for c in pod["containers"] if c["name"] == "faceproof")
    for probe in ("startupProbe", "readinessProbe"):
        assert server[probe]["httpGet"] == {"path": "/api/v1/face_health", "port": "http"}
    assert "tcpSocket" in server["livenessProbe"]  # not face_health: see values.yaml
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert tmp["emptyDir"]["medium"] == "Memory"  # spooled request bodies never touch a disk
    grace = pod["terminationGracePeriodSeconds"]
    pause = int(server["lifecycle"]["preStop"]["exec"]["command"][1])
    assert grace >= pause + settings_from({}).shutdown_timeout_seconds


RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_problems(pod: dict[str, Any]) -> list[str]:
    """Kubernetes' Pod Security Standard "restricted" (the rules a pod spec can break)."""
    problems = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            problems.append(key)
    for volume in pod.get("volumes", []):
        kind = (set(volume) - {"name"}).pop()
        if kind not in RESTRICTED_VOLUMES:
            problems.append(f"volume type {kind}")
    pod_sc = pod.get("securityContext", {})
    for c in pod["containers"] + pod.get("initContainers", []):
        sc = c.get("securityContext", {})
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            problems.append(f"{c['name']}: runAsNonRoot")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"{c['name']}: runAsUser 0")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{c['name']}: allowPrivilegeEscalation")
        if sc.get("privileged"):
            problems.append(f"{c['name']}: privileged")
        if sc.get("capabilities", {}).get("drop") != ["ALL"] or set(
            sc.get("capabilities", {}).get("add", [])
        ) - {"NET_BIND_SERVICE"}:
            problems.append(f"{c['name']}: capabilities")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{c['name']}: seccompProfile")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            problems.append(f"{c['name']}: hostPort")
    return problems


def test_every_pod_meets_the_restricted_pod_security_standard(rendered: Any) -> None:
    _, docs = rendered
    pods = [pod_of(docs)["spec"]] + [d["spec"] for d in kinds(docs, "Pod")]
    assert len(pods) == 2  # the server and the `helm test` pod
    for pod in pods:
        assert restricted_problems(pod) == []
    broken = copy.deepcopy(pods[0])
    broken["volumes"].append({"name": "host", "hostPath": {"path": "/var/lib"}})
    broken["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    del broken["securityContext"]["seccompProfile"]
    assert len(restricted_problems(broken)) == 3


def test_several_pods_require_shared_state() -> None:
    def refused(values: dict[str, Any]) -> str:
        with pytest.raises(helm.HelmError) as exc:
            render(values)
        return str(exc.value)

    assert "redis" in refused({})  # the defaults autoscale: Redis, PostgreSQL and a key needed
    assert "postgresql" in refused({"redis": SHARED["redis"]})
    no_key = {k: v for k, v in SHARED.items() if k != "deploymentKey"}
    assert "deploymentKey" in refused(no_key)
    assert "ReadWriteOnce" in refused({**SHARED, "persistence": {"enabled": True}})
    assert "minReplicas" in refused({**SHARED, "autoscaling": {"minReplicas": 5, "maxReplicas": 2}})
    # Values are checked against values.schema.json: a misspelt or mistyped value stops.
    assert "replicas" in refused({**SHARED, "replicas": 3})
    assert "replicaCount" in refused({**SHARED, "replicaCount": "two"})
    assert "LOG_LEVL" in refused({**SHARED, "config": {"extraEnv": {"LOG_LEVL": "x"}}})
    one = {"autoscaling": {"enabled": False}, "replicaCount": 1}
    docs = render(one)  # one pod may keep its own key and SQLite files
    assert not kinds(docs, "PodDisruptionBudget") and not kinds(docs, "HorizontalPodAutoscaler")


def test_a_broken_manifest_is_rejected() -> None:
    docs = render(VALUE_SETS["ha-inline"])
    (deployment,) = kinds(docs, "Deployment")
    typo = copy.deepcopy(deployment)
    server = typo["spec"]["template"]["spec"]["containers"][0]
    server["livenessProbes"] = server.pop("livenessProbe")
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["revisionHistoryLimit"] = "five"
    (hpa,) = kinds(docs, "HorizontalPodAutoscaler")
    old_api = copy.deepcopy(hpa)
    old_api["spec"]["targetCPUUtilizationPercentage"] = 70  # autoscaling/v1's field in v2
    for broken in (typo, wrong_type, old_api):
        assert schema_errors([broken]), broken["kind"]


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_finds_no_errors(name: str) -> None:
    result = helm.lint(str(CHART), VALUE_SETS[name], strict=True)
    assert result["errors"] == [] and result["total_charts_linted"] == 1
    assert all(m["severity"] <= 1 for m in result["messages"]), result["messages"]  # info only


def _kubelet_secret(mount: Path, files: dict[str, bytes], stamp: str) -> None:
    """Lays ``files`` out as kubelet does for a Secret volume: a timestamped folder, ``..data``
    pointing at it, one link per key through ``..data``; a later call swaps ``..data``
    atomically, as an updated Secret does."""
    data = mount / f"..{stamp}"
    data.mkdir(parents=True)
    for name, content in files.items():
        (data / name).write_bytes(content)
        (data / name).chmod(0o400)
    tmp = mount / "..data_tmp"
    tmp.symlink_to(data.name)
    os.replace(tmp, mount / "..data")
    for name in files:
        if not (mount / name).is_symlink():
            (mount / name).symlink_to(Path("..data") / name)


def _key_files(keys: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in keys.iterdir() if not p.name.startswith(".")}


def test_server_reads_the_key_secret_where_the_chart_mounts_it(tmp_path: Path) -> None:
    """The rendered pod's key settings and mount, applied to a Secret-shaped folder, opened
    by the server's own key stores; an updated Secret is a rotation without a restart."""
    docs = render(VALUE_SETS["ha-inline"])
    pod = pod_of(docs)["spec"]
    (server,) = (c for c in pod["containers"] if c["name"] == "faceproof")
    mount = next(m for m in server["volumeMounts"] if m["name"] == "deployment-key")
    volume = next(v for v in pod["volumes"] if v["name"] == "deployment-key")
    assert mount["readOnly"] is True and volume["secret"]["defaultMode"] == 0o400
    env = container_env(docs, VALUE_SETS["ha-inline"])
    settings = settings_from(env)
    assert settings.keys_read_only is True
    assert str(settings.keys_path) == mount["mountPath"]
    assert not pod.get("initContainers")

    made = tmp_path / "made"  # what `faceproof keys list` + `gallery rotate-key` make
    store = KeyStore.open(made / "keys")
    GalleryKeyring.rotate(made / "keys")
    secret = tmp_path / "secret"
    _kubelet_secret(secret, _key_files(made / "keys"), "2026_12_01_20_00_00.1")
    served = KeyStore.open(secret, read_only=True)
    assert served.current_kid == store.current_kid
    ring = GalleryKeyring.open(secret, read_only=True)
    assert ring.current == GalleryKeyring.open(made / "keys").current
    before = sorted(p.name for p in secret.iterdir())

    old = store.current_kid
    new = store.rotate()  # rotated where the keys are made, then the Secret updated
    _kubelet_secret(secret, _key_files(made / "keys"), "2026_12_01_21_00_00.2")
    assert served.current_kid == new  # picked up by the running store
    assert served.private_key_for(old) is not None  # the previous key within its grace
    assert sorted(p.name for p in (secret / "..data").iterdir()) == sorted(
        _key_files(made / "keys")
    )
    assert {p.name for p in secret.iterdir()} >= set(before)  # nothing removed by the server


def test_values_schema_is_valid_json_schema() -> None:
    import jsonschema

    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert list(jsonschema.Draft7Validator(schema).iter_errors(values)) == []


def test_versions_agree() -> None:
    """The chart's appVersion, the package version and the image tag compose builds."""
    import tomllib

    from deploy_support import read_env_file

    version = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version
    compose = (DEPLOY / "compose" / "docker-compose.yml").read_text()
    assert f"${{FACEPROOF_IMAGE:-faceproof:{version}}}" in compose
    env = read_env_file(DEPLOY / "compose" / ".env.example")
    assert env["FACEPROOF_IMAGE"] == f"faceproof:{version}"


def test_helm_lint_reports_bad_values() -> None:
    bad = {"autoscaling": {"enabled": False}, "replicaCount": "two"}
    result = helm.lint(str(CHART), bad, strict=True)
    assert any("replicaCount" in e for e in result["errors"])
