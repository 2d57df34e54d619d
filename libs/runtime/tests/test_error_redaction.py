"""Error texts that leave a process name what was wrong, never the values of the input."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import ValidationError

from anbu_contracts import SafetyCallSignal
from anbu_contracts.signals import AnySignal
from anbu_runtime.kafka import DeadLetter, decode_record
from anbu_runtime.logs import configure_logging, describe_error, get_logger

NAME, PHONE, RRN, EMAIL = "김민수", "010-1234-5678", "900101-1234567", "minsu.kim@example.org"


def invalid_call() -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        SafetyCallSignal.model_validate(
            {
                "household_id": NAME,
                "partner_id": "p1",
                "partner_event_id": "e-1",
                "source": "p1",
                "outcome": PHONE,
                "caller": RRN,
                "concerns": [EMAIL],
                "full_name": NAME,
            }
        )
    return caught.value


def assert_no_personal_data(text: str) -> None:
    for value in (NAME, PHONE, RRN, EMAIL):
        assert value not in text


def test_a_validation_error_is_described_by_location_and_type_without_the_inputs() -> None:
    text = describe_error(invalid_call())
    assert_no_personal_data(text)
    assert text.startswith("ValidationError: 6 error(s) for SafetyCallSignal: ")
    assert "household_id: String should match pattern" in text
    assert "outcome: Input should be 'answered_ok'" in text and "[type=enum]" in text
    assert "concerns.0:" in text and "full_name:" in text and "[type=extra_forbidden]" in text
    assert "occurred_at: Field required [type=missing]" in text


def test_a_discriminator_tag_is_not_quoted_back() -> None:
    from pydantic import TypeAdapter

    with pytest.raises(ValidationError) as caught:
        TypeAdapter(AnySignal).validate_python({"kind": EMAIL})
    text = describe_error(caught.value)
    assert EMAIL not in text and "union_tag_invalid" in text


def test_decoding_errors_keep_their_position_and_drop_the_text() -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads(f'{{"name": "{NAME}", oops}}')
    assert describe_error(caught.value).startswith("JSONDecodeError: Expecting")
    assert NAME not in describe_error(caught.value)
    with pytest.raises(ValidationError) as invalid_json:
        SafetyCallSignal.model_validate_json(f'{{"name": "{NAME}" {PHONE}'.encode())
    assert "[type=json_invalid]" in describe_error(invalid_json.value)
    assert_no_personal_data(describe_error(invalid_json.value))


def test_other_errors_keep_their_first_line_only() -> None:
    error = RuntimeError(f"insert failed\nDETAIL: Key (name)=({NAME}) already exists")
    assert describe_error(error) == "RuntimeError: insert failed"
    assert describe_error(DeadLetter(f"bad phone {PHONE}")) == "DeadLetter: bad phone [redacted]"


@pytest.mark.parametrize("via", ["structlog", "stdlib"])
def test_a_logged_validation_error_keeps_its_stack_but_not_its_inputs(
    via: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("unit-test", "INFO", "json")
    try:
        try:
            raise invalid_call()
        except ValidationError as exc:
            raise RuntimeError("could not handle the record") from exc
    except RuntimeError:
        if via == "structlog":
            get_logger("t").exception("handler failed")
        else:
            logging.getLogger("aiokafka.fake").error("handler failed", exc_info=True)
    logging.getLogger().handlers[0].flush()
    out = capsys.readouterr().out
    assert_no_personal_data(out)
    line = json.loads(out.strip().splitlines()[-1])
    assert "Traceback (most recent call last)" in line["exception"]
    assert "test_error_redaction.py" in line["exception"]  # the stack is still there
    assert "full_name: Extra inputs are not permitted" in line["exception"]
    assert "direct cause" in line["exception"]
    assert line["exception"].rstrip().endswith("RuntimeError: could not handle the record")


def test_empty_records_are_tombstones_only_on_compacted_topics() -> None:
    deleted = decode_record("registry.household.v1", b"HH-AAAAAA", None)
    assert deleted.model_dump() == {"topic": "registry.household.v1", "key": "HH-AAAAAA"}
    with pytest.raises(DeadLetter) as caught:
        decode_record("signals.safety-call.v1", b"HH-AAAAAA", None)
    assert caught.value.reason == "empty"


def test_a_household_record_under_another_key_is_refused() -> None:
    body = SafetyCallSignal(
        household_id="HH-AAAAAA",
        partner_id="p1",
        partner_event_id="e-1",
        source="p1",
        outcome="unanswered",
        occurred_at="2026-01-01T00:00:00Z",
    ).model_dump_json()
    assert decode_record("signals.safety-call.v1", b"HH-AAAAAA", body.encode())
    for key in (b"HH-BBBBBB", None):
        with pytest.raises(DeadLetter) as caught:
            decode_record("signals.safety-call.v1", key, body.encode())
        assert caught.value.reason == "key"
