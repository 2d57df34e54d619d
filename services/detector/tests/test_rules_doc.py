"""docs/rules.md is generated from the rules the detector runs, and drift is caught."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from anbu_detector.adapters.config_files import load_catalog

ROOT = Path(__file__).resolve().parents[3]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_rules_doc", ROOT / "tools/gen_rules_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_shows_the_windows_quiet_hours_double_check_and_severities() -> None:
    rules = load_catalog().default
    text = _generator().render()
    assert f"Rules version `{rules.version}`" in text
    assert "## 한국어" in text and "## English" in text
    for channel, hours in rules.absence.windows_hours.items():
        assert f"| `{channel.value}` | {hours:g} h |" in text
        assert f"| `{channel.value}` | {hours:g}시간 |" in text
    assert rules.absence.quiet_start.strftime("%H:%M") in text
    double = rules.arrears
    assert (
        f"{double.double_check_min_types} or more distinct arrears types within "
        f"{double.double_check_window_days} days (double check) | "
        f"{double.double_check_severity.value} |"
    ) in text
    assert "| `sos.button` | SOS button | critical |" in text


def test_the_check_fails_on_a_stale_page_and_passes_on_a_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generator = _generator()
    page = tmp_path / "rules.md"
    monkeypatch.setattr(generator, "OUT", page)
    monkeypatch.setattr(sys, "argv", ["gen_rules_doc.py", "--check"])
    page.write_text(generator.render().replace("24 h", "48 h"), encoding="utf-8")
    assert generator.main() == 1
    page.write_text(generator.render(), encoding="utf-8")
    assert generator.main() == 0
