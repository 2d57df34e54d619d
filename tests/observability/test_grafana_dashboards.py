"""The provisioned Grafana dashboards: valid JSON, the provisioned data source, and only
metrics that a service exports or a recording rule records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .conftest import ROOT, referenced_names

GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def datasource_uids() -> set[str]:
    uids: set[str] = set()
    for path in (GRAFANA / "provisioning" / "datasources").glob("*.yml"):
        uids |= {d["uid"] for d in yaml.safe_load(path.read_text())["datasources"]}
    return uids


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def load(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text())
    assert isinstance(doc, dict)
    return doc


def test_dashboards_parse_with_unique_uids_and_panel_ids() -> None:
    assert DASHBOARDS, "no dashboards in deploy/grafana/dashboards/"
    uids = [load(path)["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids)), uids
    for path in DASHBOARDS:
        panels = list(all_panels(load(path)["panels"]))
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in panels:
            assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]


def test_panels_query_the_provisioned_prometheus(known_metrics: set[str]) -> None:
    uids = datasource_uids()
    queried: set[str] = set()
    for path in DASHBOARDS:
        for panel in all_panels(load(path)["panels"]):
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] in uids, f"{path.name}: {panel['title']}"
            assert panel.get("targets"), f"{path.name}: {panel['title']} has no query"
            for target in panel["targets"]:
                names = referenced_names(target["expr"])
                assert names or target["expr"].startswith("up{"), (
                    f"{panel['title']}: {target['expr']} reads no anbu metric"
                )
                unknown = names - known_metrics
                assert not unknown, f"{panel['title']} reads unknown metrics {unknown}"
                queried |= names
    # The figures of every alert, and throughput per service, are on a dashboard.
    assert queried >= {
        "anbu:partner_signals:last_seen_timestamp_seconds",
        "anbu_consumer_lag",
        "anbu_detector_overdue_steps",
        "anbu_outreach_open_tasks",
        "anbu:notify_requests:failure_ratio15m",
        "anbu:records_consumed:rate5m",
        "anbu:events_published:rate5m",
    }


def test_provider_path_is_where_compose_mounts_the_dashboards() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "anbu.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in grafana
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    prometheus = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in prometheus
