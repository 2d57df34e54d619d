from __future__ import annotations

import json
from pathlib import Path

import pytest

from anbu_contracts import Locale
from anbu_contracts.notify import Channel
from anbu_notifier.adapters.channels import ConsoleSink, OutgoingMessage, mask, mask_name
from anbu_notifier.domain.rendering import TEMPLATE_DIR, Renderer, TemplateError

TASK_VARS = {
    "task_type": "home_visit",
    "deadline": "2026-11-26T00:00:00+00:00",
    "timezone": "Asia/Seoul",
    "link": "http://x/app/tasks/1",
    "name": "담당자",
}
OFFICE = {"office_name": "청운효자동 주민센터", "office_phone": "02-2148-5000"}
CASE = {"household_id": "HH-7K3M9Q2X", "dong_name": "청운효자동", "link": "https://a/c/1"}

# What each template needs from the request (required) and may use (optional); the notifier
# adds ``name`` and ``timezone`` from the recipient. docs/notifier.md lists the same. The
# required ones are what the protocols' producers send today (household_id, step, protocol).
TASK = {k: v for k, v in TASK_VARS.items() if k not in ("name", "timezone")}
EXAMPLES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "safety_check.day1_text": ({"name": "김안부"}, {}),
    "safety_check.reply_request": ({"name": "김안부"}, OFFICE),
    "safety_check.ai_call": ({"name": "김안부"}, {}),
    "safety_check.visit_notice": (
        {"name": "김안부", "visit_at": "2026-11-26T00:00:00Z"},
        OFFICE,
    ),
    "task.offered": (TASK, {}),
    "task.unassigned": (
        {"household_id": "HH-7K3M9Q2X"},
        {**TASK, "step": "즉시 — 119·112 통보 및 당직 출동"},
    ),
    "emergency.liaison_119": ({"household_id": "HH-7K3M9Q2X"}, {**CASE, "reason": "SOS"}),
    "emergency.liaison_112": ({"household_id": "HH-7K3M9Q2X"}, {**CASE, "reason": "개방"}),
    "guardian.safety_not_confirmed": ({"name": "박가족"}, OFFICE),
    "landlord.door_opening_notice": (
        {"name": "집주인"},
        {"visit_at": "2026-11-26T00:00:00Z", **OFFICE},
    ),
    "missing_person.report": (
        {"household_id": "HH-7K3M9Q2X"},
        {**CASE, "last_confirmed_at": "2026-11-24T05:00:00Z"},
    ),
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


def test_an_unreadable_instant_is_an_error_not_a_garbled_message() -> None:
    with pytest.raises(TemplateError, match="ISO 8601"):
        Renderer().render("task.offered", Locale.KO, {**TASK_VARS, "deadline": "tomorrow"})


def test_an_unknown_template_is_an_error() -> None:
    with pytest.raises(TemplateError, match="no template"):
        Renderer().render("nope", Locale.KO, {})


def test_every_template_exists_in_both_languages() -> None:
    ko = {p.name for p in (TEMPLATE_DIR / "ko").iterdir()}
    en = {p.name for p in (TEMPLATE_DIR / "en").iterdir()}
    assert ko == en and ko


def test_every_template_has_a_documented_example() -> None:
    assert set(Renderer().templates()) == set(EXAMPLES)


@pytest.mark.parametrize("template", sorted(EXAMPLES))
def test_every_template_renders_in_both_languages_and_needs_each_required_variable(
    template: str,
) -> None:
    renderer = Renderer()
    required, optional = EXAMPLES[template]
    for variables in (
        {"timezone": "Asia/Seoul", **required},
        {"timezone": "Asia/Seoul", **required, **optional},
    ):
        ko = renderer.render(template, Locale.KO, variables)
        en = renderer.render(template, Locale.EN, variables)
        assert ko != en and _hangul(ko)
        for text in (ko, en):  # no holes where an optional part was left out
            assert "  " not in text and " ." not in text and "()" not in text
        for value in variables.values():
            en = en.replace(value, "")
        assert not _hangul(en), "the English template itself is in English"
    full = renderer.render(template, Locale.KO, {"timezone": "Asia/Seoul", **required, **optional})
    assert all(
        v in full
        for k, v in optional.items()
        if k not in ("visit_at", "deadline", "last_confirmed_at", "task_type")
    )
    for name in required:
        partial = {k: v for k, v in {"timezone": "Asia/Seoul", **required}.items() if k != name}
        with pytest.raises(TemplateError):
            renderer.render(template, Locale.KO, partial)


def _hangul(text: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for c in text)


def test_addresses_are_masked_in_the_console_sink() -> None:
    assert mask("010-1234-5678") == "010-****-5678"
    assert mask("kim@example.org") == "k***@example.org"
    assert mask("fire_liaison") == "fire_liaison"  # a configured endpoint, not a person


async def test_the_console_sink_writes_one_line_per_message(tmp_path: Path) -> None:
    sink = ConsoleSink(tmp_path / "sink.jsonl")
    result = await sink.send(
        OutgoingMessage(
            request_key="k1",
            idempotency_key="abc123",
            channel=Channel.CONSOLE,
            address="010-1234-5678",
            text="안녕하세요",
            template="t",
            urgency="high",
        )
    )
    line = json.loads((tmp_path / "sink.jsonl").read_text(encoding="utf-8"))
    assert result.delivered and line["provider_message_id"] == result.provider_message_id
    assert line["to"] == "010-****-5678" and "1234" not in json.dumps(line)
    assert line["idempotency_key"] == "abc123"


def test_names_are_masked_like_addresses() -> None:
    assert mask_name("김민수") == "김*수"
    assert mask_name("남궁민수") == "남**수"
    assert mask_name("김수") == "김*"
    assert mask_name("Minsu Kim") == "M**** **m"
    assert mask_name("") == ""


async def test_the_console_sink_stores_the_text_with_the_recipients_name_masked(
    tmp_path: Path,
) -> None:
    sink = ConsoleSink(tmp_path / "sink.jsonl")
    renderer = Renderer(TEMPLATE_DIR)
    text = renderer.render("safety_check.day1_text", Locale.KO, {"name": "김민수"})
    await sink.send(
        OutgoingMessage(
            request_key="k1",
            idempotency_key="abc123",
            channel=Channel.CONSOLE,
            address="010-1234-5678",
            text=text,
            template="safety_check.day1_text",
            urgency="high",
            recipient_name="김민수",
        )
    )
    stored = (tmp_path / "sink.jsonl").read_text(encoding="utf-8")
    assert "김민수" not in stored
    assert json.loads(stored)["text"].startswith("[안부 확인] 김*수님, 안녕하세요.")


def test_an_outgoing_message_never_shows_its_address_or_text() -> None:
    message = OutgoingMessage("k1", "key", Channel.SMS, "010-1234-5678", "김안부님", "t", "high")
    assert "1234" not in repr(message) and "김안부" not in repr(message)


async def test_the_console_sink_appends_a_message_resent_under_its_key_only_once(
    tmp_path: Path,
) -> None:
    """The notifier sends, then records the delivery: when recording failed (PostgreSQL
    down) it sends again, under the same idempotency key, possibly from another instance.
    The resident must get one text, as a provider honouring the key would ensure."""

    def message(key: str) -> OutgoingMessage:
        return OutgoingMessage(
            request_key=f"r-{key}",
            idempotency_key=key,
            channel=Channel.CONSOLE,
            address="010-1234-5678",
            text="안녕하세요",
            template="t",
            urgency="high",
        )

    first, second = ConsoleSink(tmp_path / "sink.jsonl"), ConsoleSink(tmp_path / "sink.jsonl")
    sent = await first.send(message("abc"))
    again = await second.send(message("abc"))  # another instance, the same message
    assert again == sent
    assert (await first.send(message("abc"))) == sent
    await second.send(message("def"))
    await first.send(message("ghi"))
    lines = (tmp_path / "sink.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["idempotency_key"] for line in lines] == ["abc", "def", "ghi"]
