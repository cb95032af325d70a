"""The shipped Grafana dashboard (deploy/grafana/faceproof-dashboard.json) reads only
metrics the server exports, from the datasource uid the compose/Helm provisioning defines."""

from __future__ import annotations

import json
import re
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "faceproof-dashboard.json"


def _exported() -> dict[str, set[str]]:
    """Sample names the server exports → label names, from its own metric objects."""
    from faceproof.api.metrics import metrics

    m = metrics()
    names: dict[str, set[str]] = {}
    for metric in vars(m).values():
        for family in metric.describe():
            for suffix in ("", "_total", "_bucket", "_sum", "_count", "_created"):
                labels = set(getattr(metric, "_labelnames", ()))
                if suffix == "_bucket":
                    labels.add("le")
                names[family.name + suffix] = labels | {"instance", "job"}
    return names


def _targets(dashboard: dict[str, object]) -> list[dict[str, object]]:
    return [t for p in dashboard["panels"] for t in p["targets"]]  # type: ignore[attr-defined,index]


def test_dashboard_queries_exported_metrics_and_labels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = _exported()
    exprs = [str(t["expr"]) for t in _targets(dashboard)]
    exprs.append(dashboard["templating"]["list"][0]["definition"])  # type: ignore[index]
    used = set()
    for expr in exprs:
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
        for name in re.findall(r"\bfaceproof_[a-z_]+", expr):
            assert name in exported, f"{name} is not exported by faceproof.api.metrics"
            used.add(name)
            for selector in re.findall(name + r"\{([^}]*)\}", expr):
                for label in re.findall(r"(\w+)\s*=~?", selector):
                    assert label in exported[name], (name, label)
        for grouping in re.findall(r"by \(([^)]*)\)", expr):
            for label in (x.strip() for x in grouping.split(",")):
                assert any(label in exported[n] for n in used), (expr, label)
    families = {n.removesuffix("_bucket").removesuffix("_total") for n in used}
    for needed in (
        "faceproof_http_requests",
        "faceproof_http_request_duration_seconds",
        "faceproof_decisions",
        "faceproof_model_inference_seconds",
        "faceproof_queue_depth",
        "faceproof_requests_in_flight",
        "faceproof_rejected",
    ):
        assert needed in families, needed


def test_dashboard_is_importable_as_is() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] and dashboard["title"]
    # One datasource, by the uid the provisioning (deploy/compose, deploy/helm) names.
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "prometheus"
    # Panels do not overlap on the 24-column grid.
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
        area = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not cells & area, panel["title"]
        cells |= area
