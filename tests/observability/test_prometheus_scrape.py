"""A real Prometheus scrapes every service, started as processes on a broker of their own.

The scrape configuration is ``deploy/prometheus/prometheus.yml`` with its targets rewritten
to this test's ports (and a one-second interval); the rule files are the real ones, so a
rule Prometheus refuses to load fails here too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from anbu_runtime.processes import Stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
KAFKA_PORT = 29892  # its controller listens on 29893
PROMETHEUS_PORT = 19989
PORTS = {
    "console": 19980,
    "registry": 19981,
    "gateway": 19982,
    "detector": 19983,
    "outreach": 19984,
    "notifier": 19985,
}
PROM = f"http://127.0.0.1:{PROMETHEUS_PORT}"


def prometheus_binary() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail(
            "the prometheus binary is not on PATH: install the Debian package "
            "(`apt-get install -y prometheus`, done by deploy/install.sh)"
        )
    return binary


def local_rules(work: Path) -> Path:
    """The real rule files, with group intervals dropped so they evaluate every second."""
    rules_dir = work / "rules"
    rules_dir.mkdir()
    for source in sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml")):
        doc = yaml.safe_load(source.read_text())
        for group in doc["groups"]:
            group.pop("interval", None)
        (rules_dir / source.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return rules_dir


def local_config(rules_dir: Path) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with every service job pointed at this test's ports."""
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    missing = set(PORTS) - set(jobs)
    assert not missing, f"prometheus.yml has no scrape job for {sorted(missing)}"
    for name, port in PORTS.items():
        jobs[name]["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    jobs["prometheus"]["static_configs"] = [{"targets": [f"127.0.0.1:{PROMETHEUS_PORT}"]}]
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules_dir / "*.yml")]
    return config


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    sys.path.insert(0, str(ROOT))
    from tests.e2e.conftest import own_broker, started_stack

    with own_broker(KAFKA_PORT, tmp_path_factory.mktemp("obs-kafka")) as bootstrap:
        stack = started_stack(
            tmp_path_factory.mktemp("obs-var"), PORTS, {"ANBU_KAFKA_BOOTSTRAP": bootstrap}
        )
        try:
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="module")
def prometheus(services: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = prometheus_binary()
    work = tmp_path_factory.mktemp("prometheus")
    config = work / "prometheus.yml"
    config.write_text(yaml.safe_dump(local_config(local_rules(work))))
    log_path = work / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"prometheus exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{PROM}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prometheus not ready in 20 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield PROM
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def api(path: str, **params: str) -> Any:
    response = httpx.get(f"{PROM}/api/v1/{path}", params=params, timeout=5)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]


def wait_for(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        ok, last = check()
        if ok:
            return last
        time.sleep(0.5)
    pytest.fail(f"{what} not reached in {timeout:.0f} s; last seen: {last}")


def test_every_service_is_scraped_and_up(prometheus: str) -> None:
    def targets_up() -> tuple[bool, Any]:
        active = api("targets", state="active")["activeTargets"]
        health = {t["labels"]["job"]: (t["health"], t.get("lastError", "")) for t in active}
        return all(health.get(job, ("?",))[0] == "up" for job in PORTS), health

    wait_for("every service target up", targets_up)

    up = {r["metric"]["job"]: r["value"][1] for r in api("query", query="up")["result"]}
    assert {job: up.get(job) for job in PORTS} == dict.fromkeys(PORTS, "1")

    # Scraped for real: each service's own runtime series are in the database.
    def exported() -> tuple[bool, Any]:
        result = api("query", query='count by (job) ({__name__=~"anbu_.+"})')["result"]
        counts = {r["metric"]["job"]: int(r["value"][1]) for r in result}
        return all(counts.get(job, 0) > 0 for job in PORTS), counts

    wait_for("anbu_* series from every service", exported)


def test_figures_behind_the_alerts_are_exported(prometheus: str) -> None:
    """The gauges the alert rules read exist from start-up (zeros, not absent series)."""
    for query, job in (
        ("anbu_detector_overdue_steps", "detector"),
        ('anbu_outreach_open_tasks{status="unassigned", urgency="critical"}', "outreach"),
        ("anbu_detector_open_alerts", "detector"),
    ):

        def present(q: str = query) -> tuple[bool, Any]:
            result = api("query", query=q)["result"]
            return bool(result), result

        result = wait_for(f"{query} scraped", present)
        assert {r["metric"]["job"] for r in result} == {job}
        assert all(float(r["value"][1]) == 0 for r in result), result


def test_the_rules_load_and_evaluate(prometheus: str) -> None:
    def evaluated() -> tuple[bool, Any]:
        groups = api("rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        unhealthy = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
        return bool(rules) and not unhealthy, unhealthy or [g["name"] for g in groups]

    wait_for("every rule evaluated without error", evaluated, timeout=15)
    firing = [
        a["labels"]["alertname"]
        for a in api("alerts")["alerts"]
        if a["labels"]["alertname"] == "AnbuServiceDown"
    ]
    assert firing == []


def test_every_dashboard_query_evaluates(prometheus: str) -> None:
    """Each panel's PromQL parses and runs in a real Prometheus (not only by name)."""
    for path in sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                response = httpx.get(
                    f"{PROM}/api/v1/query", params={"query": target["expr"]}, timeout=5
                )
                assert response.status_code == 200, (panel["title"], response.text)
