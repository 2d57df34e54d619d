"""Load the rule set and protocol definitions from YAML (validated by the domain models)."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..domain.protocols import ProtocolSpec
from ..domain.rules import RuleSet

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def load_ruleset(path: Path | None = None) -> RuleSet:
    data = yaml.safe_load((path or CONFIG_DIR / "rules.yaml").read_text(encoding="utf-8"))
    return RuleSet.model_validate(data)


def load_protocols(directory: Path | None = None) -> dict[str, ProtocolSpec]:
    protocols: dict[str, ProtocolSpec] = {}
    for file in sorted((directory or CONFIG_DIR / "protocols").glob("*.yaml")):
        spec = ProtocolSpec.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))
        if spec.id in protocols:
            raise ValueError(f"protocol {spec.id} is defined twice")
        protocols[spec.id] = spec
    return protocols
