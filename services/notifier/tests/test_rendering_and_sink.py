from __future__ import annotations

import json
from pathlib import Path

import pytest

from anbu_contracts import Locale
from anbu_contracts.notify import Channel
from anbu_notifier.adapters.channels import ConsoleSink, OutgoingMessage, mask
from anbu_notifier.domain.rendering import TEMPLATE_DIR, Renderer, TemplateError

TASK_VARS = {
    "task_type": "home_visit",
    "deadline": "2026-11-26T00:00:00+00:00",
    "timezone": "Asia/Seoul",
    "link": "http://x/app/tasks/1",
    "name": "담당자",
}


def test_a_task_offer_reads_in_korean_by_default_and_in_english_on_request() -> None:
    renderer = Renderer()
    ko = renderer.render("task.offered", Locale.KO, TASK_VARS)
    en = renderer.render("task.offered", Locale.EN, TASK_VARS)
    assert "가정 방문" in ko and "2026-11-26 09:00" in ko
    assert "home visit" in en and "http://x/app/tasks/1" in en


def test_a_missing_variable_is_an_error_not_a_blank() -> None:
    with pytest.raises(TemplateError, match="link"):
        Renderer().render(
            "task.offered", Locale.KO, {k: v for k, v in TASK_VARS.items() if k != "link"}
        )


def test_an_unknown_template_is_an_error() -> None:
    with pytest.raises(TemplateError, match="no template"):
        Renderer().render("nope", Locale.KO, {})


def test_every_template_exists_in_both_languages() -> None:
    ko = {p.name for p in (TEMPLATE_DIR / "ko").iterdir()}
    en = {p.name for p in (TEMPLATE_DIR / "en").iterdir()}
    assert ko == en and ko


def test_addresses_are_masked_in_the_console_sink(tmp_path: Path) -> None:
    assert mask("010-1234-5678") == "010-****-5678"
    assert mask("kim@example.org") == "k***@example.org"


async def test_the_console_sink_writes_one_line_per_message(tmp_path: Path) -> None:
    sink = ConsoleSink(tmp_path / "sink.jsonl")
    result = await sink.send(
        OutgoingMessage("k1", Channel.CONSOLE, "010-1234-5678", "안녕하세요", "t", "high")
    )
    line = json.loads((tmp_path / "sink.jsonl").read_text(encoding="utf-8"))
    assert result.delivered and line["provider_message_id"] == result.provider_message_id
    assert line["to"] == "010-****-5678" and "1234" not in json.dumps(line)
