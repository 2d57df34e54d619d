"""What the gateway accepts from a partner and what it fills in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from anbu_contracts import SafetyCallSignal
from anbu_gateway.entrypoints.http import PartnerKeys
from anbu_gateway.ingest import WrongPartner, signal_event_id, to_signal
from anbu_runtime.problems import Problem

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
BODY = {
    "kind": "safety_call",
    "household_id": "HH-AAAAAA",
    "partner_event_id": "call-77",
    "occurred_at": "2026-11-25T09:00:00+09:00",
    "outcome": "unanswered",
}


def test_the_gateway_fills_the_envelope_from_the_authenticated_partner() -> None:
    signal = to_signal(dict(BODY), "ai-call-clova", NOW)
    assert isinstance(signal, SafetyCallSignal)
    assert signal.partner_id == signal.source == "ai-call-clova"
    assert signal.produced_at == NOW


def test_a_resent_signal_keeps_its_identity() -> None:
    first = to_signal(dict(BODY), "ai-call-clova", NOW)
    again = to_signal({**BODY, "event_id": "ignored"}, "ai-call-clova", NOW)
    assert first.event_id == again.event_id == signal_event_id("ai-call-clova", "call-77")
    assert to_signal(dict(BODY), "other-vendor", NOW).event_id != first.event_id


def test_a_partner_cannot_send_in_another_partners_name() -> None:
    with pytest.raises(WrongPartner):
        to_signal({**BODY, "partner_id": "kepco"}, "ai-call-clova", NOW)


def test_an_invalid_signal_is_refused_with_every_reason() -> None:
    with pytest.raises(ValidationError) as info:
        to_signal({**BODY, "outcome": "maybe", "household_id": "kim"}, "ai-call-clova", NOW)
    assert info.value.error_count() == 2


def test_keys_are_checked_and_unknown_keys_refused() -> None:
    keys = PartnerKeys("kepco:k-1,ai-call-clova:k-2")
    assert keys.partner_for("k-2") == "ai-call-clova"
    with pytest.raises(Problem) as info:
        keys.partner_for("nope")
    assert info.value.status == 401
