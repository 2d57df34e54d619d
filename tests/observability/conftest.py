"""What the services export and what the rules record, read from the source of truth."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))

_DECLARATION = re.compile(
    r"\b(Counter|MetricCounter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"", re.S
)
_REFERENCE = re.compile(r"\banbu[_:][a-zA-Z0-9_:]*")


def exported_metric_names() -> set[str]:
    """Every series name a service can expose, from the prometheus-client declarations."""
    sources = [*(ROOT / "libs" / "runtime" / "src").rglob("*.py")]
    sources += [p for p in (ROOT / "services").glob("*/src/**/*.py")]
    names: set[str] = set()
    for path in sources:
        for kind, name in _DECLARATION.findall(path.read_text()):
            if kind in ("Counter", "MetricCounter"):
                names.add(name if name.endswith("_total") else f"{name}_total")
            elif kind in ("Histogram", "Summary"):
                names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count", name})
            else:
                names.add(name)
    return names


def recorded_metric_names() -> set[str]:
    return {
        rule["record"]
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def referenced_names(expr: str) -> set[str]:
    """The anbu_* metrics and anbu:* recording rules a PromQL expression reads."""
    return set(_REFERENCE.findall(expr))


@pytest.fixture(scope="session")
def known_metrics() -> set[str]:
    names = exported_metric_names() | recorded_metric_names()
    assert "anbu_consumer_lag" in names, "the metric declarations were not found"
    return names
