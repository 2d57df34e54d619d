"""The contracts are the promise to partners: these tests pin what they accept and refuse."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from anbu_contracts import (
    SIGNAL_MODELS,
    SIGNAL_TOPICS,
    TOPICS,
    CaseChange,
    CaseEvent,
    CaseState,
    HouseholdSnapshot,
    SafetyCallSignal,
    SignalKind,
    Tier,
    UsageDropSignal,
    all_topics,
    any_signal_adapter,
)
from anbu_contracts.export import main as export_main
from anbu_contracts.topics import (
    HOUSEHOLD_PARTITIONS,
    OUTREACH_OUTCOME,
    REGISTRY_CASE,
    REGISTRY_HOUSEHOLD,
)

KST = timezone(timedelta(hours=9))


def call(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "kind": "safety_call",
        "occurred_at": "2026-11-25T09:00:00+09:00",
        "source": "ai-call-clova",
        "household_id": "HH-7K3M9Q2X",
        "partner_id": "ai-call-clova",
        "partner_event_id": "call-1",
        "outcome": "unanswered",
    }
    data.update(overrides)
    return data


def test_a_signal_is_parsed_by_its_kind_and_its_time_normalised_to_utc() -> None:
    signal = any_signal_adapter.validate_python(call())
    assert isinstance(signal, SafetyCallSignal)
    assert signal.occurred_at == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert signal.model_dump(mode="json")["occurred_at"] == "2026-11-25T00:00:00Z"


@pytest.mark.parametrize(
    "at",
    [
        "2026-11-25T09:00:00+09:00",
        "2026-11-25T00:00:00Z",
        "2026-11-25T00:00:00+00:00",
        "2026-11-24T19:30:00-04:30",
        datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Asia/Seoul")),
        datetime(2026, 11, 25, 0, 0, tzinfo=UTC),
    ],
)
def test_every_instant_is_kept_in_utc_however_its_offset_was_written(at: object) -> None:
    # the after-validator's shortcut for instants parsed in UTC must not keep another offset
    body = call(occurred_at=at)
    signal = (
        SafetyCallSignal.model_validate_json(json.dumps(body))
        if isinstance(at, str)
        else SafetyCallSignal.model_validate(body)
    )
    assert signal.occurred_at == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    assert signal.occurred_at.utcoffset() == timedelta(0)


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        any_signal_adapter.validate_python(call(occurred_at="2026-11-25T09:00:00"))


@pytest.mark.parametrize("field", ["name", "phone", "address", "resident_number"])
def test_personal_data_cannot_ride_along_in_a_signal(field: str) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        any_signal_adapter.validate_python(call(**{field: "김영희 010-1234-5678"}))


def test_a_household_id_must_be_pseudonymous() -> None:
    with pytest.raises(ValidationError, match="pattern"):
        any_signal_adapter.validate_python(call(household_id="서울시 종로구 1번지"))


def test_a_concern_answer_must_say_what_the_concern_is() -> None:
    with pytest.raises(ValidationError, match="at least one concern"):
        any_signal_adapter.validate_python(call(outcome="answered_concern"))
    ok = any_signal_adapter.validate_python(call(outcome="answered_concern", concerns=["no_food"]))
    assert isinstance(ok, SafetyCallSignal) and ok.concerns


def test_a_usage_drop_needs_a_series_or_a_ratio() -> None:
    base = call(kind="usage_drop", utility="power")
    del base["outcome"]
    with pytest.raises(ValidationError, match="daily_usage or drop_ratio"):
        any_signal_adapter.validate_python(base)
    assert isinstance(
        any_signal_adapter.validate_python({**base, "drop_ratio": 0.85}), UsageDropSignal
    )


def test_every_signal_kind_has_a_model_and_a_topic() -> None:
    assert set(SIGNAL_MODELS) == set(SignalKind)
    assert set(SIGNAL_TOPICS) == set(SignalKind)
    assert SIGNAL_TOPICS[SignalKind.SAFETY_CALL].name == "signals.safety-call.v1"


def test_topics_the_detector_joins_are_co_partitioned_by_household() -> None:
    joined = [*SIGNAL_TOPICS.values(), REGISTRY_HOUSEHOLD, REGISTRY_CASE, OUTREACH_OUTCOME]
    assert {t.partitions for t in joined} == {HOUSEHOLD_PARTITIONS}
    assert {t.key_field for t in joined} == {"household_id"}


def test_every_topic_has_a_dead_letter_topic_and_snapshots_are_compacted() -> None:
    names = {t.name for t in all_topics()}
    assert all(f"{t.name}.dlq" in names for t in TOPICS)
    assert REGISTRY_HOUSEHOLD.config()["cleanup.policy"] == "compact"


def test_the_record_key_is_the_household() -> None:
    signal = any_signal_adapter.validate_python(call())
    assert SIGNAL_TOPICS[SignalKind.SAFETY_CALL].key_of(signal) == b"HH-7K3M9Q2X"


def test_a_suspended_household_snapshot_needs_an_end_date() -> None:
    with pytest.raises(ValidationError, match="suspended_until"):
        HouseholdSnapshot(
            occurred_at=datetime.now(UTC),
            source="registry",
            household_id="HH-AAAAAA",
            revision=1,
            district_code="11110",
            dong_code="1111051500",
            tier=Tier.HIGH_RISK,
            status="suspended",
        )


def test_events_round_trip_through_json() -> None:
    signal = SafetyCallSignal.model_validate(call(event_id=str(uuid4())))
    assert SafetyCallSignal.model_validate_json(signal.model_dump_json()) == signal


def test_exported_json_schemas_are_current() -> None:
    """Fails when a model changed and `make schemas` was not run."""
    assert export_main(["--check"]) == 0, "run `make schemas` and commit contracts/schemas/"


def test_exported_schemas_forbid_unknown_fields(tmp_path: Path) -> None:
    assert export_main(["--dir", str(tmp_path)]) == 0
    schema = json.loads((tmp_path / "signals.safety-call.v1.schema.json").read_text())
    assert schema["additionalProperties"] is False
    assert schema["x-key"] == "household_id"


def case_event(change: CaseChange, **extra: object) -> CaseEvent:
    return CaseEvent.model_validate(
        {
            "occurred_at": "2026-11-25T09:00:00Z",
            "source": "registry",
            "case_id": "C-7K3M9Q2X1A",
            "household_id": "HH-7K3M9Q2X",
            "change": change,
            "dong_code": "1111051500",
            "state": CaseState.OPENED,
            **extra,
        }
    )


def test_a_case_event_carries_the_detail_of_its_change() -> None:
    with pytest.raises(ValidationError, match="level"):
        case_event(CaseChange.OPENED)
    with pytest.raises(ValidationError, match="from_dong_code"):
        case_event(CaseChange.TRANSFERRED)
    with pytest.raises(ValidationError, match="services"):
        case_event(CaseChange.SERVICES_LINKED)
    with pytest.raises(ValidationError, match="closure_reason"):
        case_event(CaseChange.CLOSED, state=CaseState.CLOSED)
    linked = case_event(CaseChange.SERVICES_LINKED, services=["food"])
    assert REGISTRY_CASE.key_of(linked) == b"HH-7K3M9Q2X"
    with pytest.raises(ValidationError, match="extra"):
        case_event(CaseChange.CLOSED, closure_reason="other", note="김시험 moved in with a son")


def test_an_instant_is_written_the_same_however_often_and_in_whatever_offset() -> None:
    """Instants are written as UTC text through a cache: equal instants, equal text."""
    from anbu_contracts.envelope import _iso_z

    seoul = datetime(2026, 11, 25, 9, 0, 0, 250, tzinfo=timezone(timedelta(hours=9)))
    utc = datetime(2026, 11, 25, 0, 0, 0, 250, tzinfo=UTC)
    assert [_iso_z(seoul), _iso_z(utc), _iso_z(seoul)] == ["2026-11-25T00:00:00.000250Z"] * 3
    assert _iso_z(utc + timedelta(microseconds=1)) == "2026-11-25T00:00:00.000251Z"
