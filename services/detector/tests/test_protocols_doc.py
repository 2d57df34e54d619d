"""docs/protocols.md carries the one-response merge rules, written from domain/merging.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from anbu_detector.domain import merging

ROOT = Path(__file__).resolve().parents[3]


def _generator() -> ModuleType:
    path = ROOT / "tools/gen_protocols_doc.py"
    spec = importlib.util.spec_from_file_location("gen_protocols_doc", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_has_the_one_response_rules_in_both_languages_and_is_current() -> None:
    text = _generator().render()
    assert "#### 가구당 하나의 대응" in text and "#### One response per household" in text
    ladder = [text.index(f"(`{p}`) →") for p in merging.LADDER[:-1]]
    assert ladder == sorted(ladder)  # weakest first
    for rule in merging.RULES:
        assert f"| `{rule.name}` | {rule.when.en} | {rule.effect.en} |" in text
        assert f"| `{rule.name}` | {rule.when.ko} | {rule.effect.ko} |" in text
    assert (ROOT / "docs/protocols.md").read_text(encoding="utf-8") == text
