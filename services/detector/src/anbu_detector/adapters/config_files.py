"""Load the rule set and protocol definitions from YAML (validated by the domain models)."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..domain.protocols import ProtocolSpec
from ..domain.rules import RuleCatalog, RuleSet

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def load_catalog(path: Path | None = None) -> RuleCatalog:
    data = yaml.safe_load((path or CONFIG_DIR / "rules.yaml").read_text(encoding="utf-8"))
    catalog = RuleCatalog.model_validate(data)
    for programme in catalog.programmes:  # every programme's overrides must be valid
        catalog.for_household(programme, {})
    return catalog


def load_ruleset(path: Path | None = None) -> RuleSet:
    """The default programme's rules."""
    return load_catalog(path).default


def load_protocols(directory: Path | None = None) -> dict[str, ProtocolSpec]:
    protocols: dict[str, ProtocolSpec] = {}
    for file in sorted((directory or CONFIG_DIR / "protocols").glob("*.yaml")):
        spec = ProtocolSpec.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))
        if spec.id in protocols:
            raise ValueError(f"protocol {spec.id} is defined twice")
        protocols[spec.id] = spec
    return protocols


def check(catalog: RuleCatalog, protocols: dict[str, ProtocolSpec]) -> None:
    """Every protocol the rules name exists."""
    named = {t.protocol_id for t in catalog.default.protocols}
    missing = named - set(protocols)
    if missing:
        raise ValueError(f"rules.yaml names protocols that do not exist: {sorted(missing)}")
