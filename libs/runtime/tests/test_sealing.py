"""Sealed fields open only with their key and in their own context; rotation keeps old ones."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from anbu_runtime.sealing import FieldSealer, sealer_from_setting

OLD, NEW = os.urandom(32), os.urandom(32)


def test_a_sealed_value_hides_its_text_and_opens_only_in_its_context() -> None:
    sealer = FieldSealer([("k1", OLD)])
    token = sealer.seal("우편함에 고지서가 쌓임", context="report.note")
    assert "고지서" not in token and FieldSealer.is_sealed(token)
    assert sealer.open(token, context="report.note") == "우편함에 고지서가 쌓임"
    with pytest.raises(InvalidTag):
        sealer.open(token, context="report.address")


def test_after_a_rotation_old_values_still_open(tmp_path: Path) -> None:
    old = FieldSealer([("k1", OLD)]).seal("x", context="c")
    setting = ",".join(f"{i}:{base64.b64encode(k).decode()}" for i, k in [("k2", NEW), ("k1", OLD)])
    rotated = sealer_from_setting(setting, tmp_path / "unused.json")
    assert rotated.current_key_id == "k2" and rotated.open(old, context="c") == "x"
    assert not (tmp_path / "unused.json").exists()


def test_without_a_setting_a_development_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = sealer_from_setting("", tmp_path / "secrets" / "dev.json")
    token = first.seal("note", context="c")
    again = sealer_from_setting("", tmp_path / "secrets" / "dev.json")
    assert again.open(token, context="c") == "note"
    assert (tmp_path / "secrets" / "dev.json").stat().st_mode & 0o777 == 0o600
