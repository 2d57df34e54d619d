"""The gateway's pure rules: envelopes, batches, CSV columns, rate limits, rewards, forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from anbu_contracts import (
    ArrearsSignal,
    ReportUrgency,
    SafetyCallSignal,
    SignalKind,
)
from anbu_gateway.domain.batches import count_records, parse_ndjson
from anbu_gateway.domain.csv_columns import COLUMNS, HeaderError, parse_header
from anbu_gateway.domain.encoding import CP949, UTF8, UnsupportedEncoding, declared, reads_as_korean
from anbu_gateway.domain.envelope import (
    SIGNAL_NAMESPACE,
    WrongPartner,
    content_digest,
    signal_event_id,
    to_signal,
    to_signal_of_kind,
)
from anbu_gateway.domain.rate_limit import RateLimiter, TokenBucket
from anbu_gateway.domain.records import Candidate, split_duplicates_within
from anbu_gateway.domain.reports import LookupKind, check_form
from anbu_gateway.domain.rewards import ReportFacts, RewardPolicy, yearly_records
from anbu_gateway.domain.submissions import IllegalMove, Progress, SubmissionState, move

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
BODY = {
    "kind": "safety_call",
    "household_id": "HH-AAAAAA",
    "partner_event_id": "call-77",
    "occurred_at": "2026-11-25T09:00:00+09:00",
    "outcome": "unanswered",
}


# -- envelope -------------------------------------------------------------------------


def test_the_gateway_fills_the_envelope_from_the_authenticated_partner() -> None:
    signal = to_signal(dict(BODY), "ai-call-clova", NOW)
    assert isinstance(signal, SafetyCallSignal)
    assert signal.partner_id == signal.source == "ai-call-clova"
    assert signal.produced_at == NOW


def test_a_resent_signal_keeps_its_identity_and_its_content_digest() -> None:
    first = to_signal(dict(BODY), "ai-call-clova", NOW)
    again = to_signal({**BODY, "event_id": "ignored"}, "ai-call-clova", NOW + timedelta(hours=1))
    assert first.event_id == again.event_id == signal_event_id("ai-call-clova", "call-77")
    assert content_digest(first) == content_digest(again)
    assert to_signal(dict(BODY), "other-vendor", NOW).event_id != first.event_id


def test_a_reused_partner_event_id_with_other_content_has_another_digest() -> None:
    first = to_signal(dict(BODY), "ai-call-clova", NOW)
    other = to_signal({**BODY, "outcome": "unreachable"}, "ai-call-clova", NOW)
    assert content_digest(first) != content_digest(other)


def test_a_partner_cannot_send_in_another_partners_name() -> None:
    with pytest.raises(WrongPartner):
        to_signal({**BODY, "partner_id": "kepco"}, "ai-call-clova", NOW)


def test_an_invalid_signal_is_refused_with_every_reason() -> None:
    with pytest.raises(ValidationError) as info:
        to_signal({**BODY, "outcome": "maybe", "household_id": "kim"}, "ai-call-clova", NOW)
    assert info.value.error_count() == 2


def test_a_file_row_takes_the_files_kind_whatever_it_claims() -> None:
    signal = to_signal_of_kind(
        SignalKind.ARREARS,
        {
            "kind": "sos",
            "household_id": "HH-AAAAAA",
            "partner_event_id": "a-1",
            "occurred_at": "2026-11-01T09:00:00+09:00",
            "arrears_type": "water",
            "months_overdue": "4",
            "amount_krw": "120000",
            "as_of": "2026-10-31",
        },
        "kepco",
        NOW,
    )
    assert isinstance(signal, ArrearsSignal) and signal.months_overdue == 4


# -- NDJSON batches -------------------------------------------------------------------


def test_every_invalid_line_of_a_batch_is_reported_with_its_number() -> None:
    import json

    body = "\n".join(
        [
            json.dumps(BODY),
            "",
            "{not json",
            json.dumps({**BODY, "partner_event_id": "call-78", "outcome": "maybe"}),
            "[1, 2]",
            json.dumps({**BODY, "partner_event_id": "call-79"}),
        ]
    ).encode()
    parsed = parse_ndjson(body, "ai-call-clova", NOW)
    assert [c.line for c in parsed.candidates] == [1, 6]
    assert [(e.line, e.type) for e in parsed.errors] == [
        (3, "invalid-json"),
        (4, "invalid-signal"),
        (5, "invalid-json"),
    ]
    assert "outcome" in parsed.errors[1].reason
    assert parsed.records == count_records(body) == 5  # the blank line is not a record


def test_a_repeated_partner_event_id_inside_a_batch_is_split_off() -> None:
    a = to_signal(dict(BODY), "pp", NOW)
    b = to_signal({**BODY, "outcome": "unreachable"}, "pp", NOW)
    candidates = [
        Candidate(1, a, content_digest(a)),
        Candidate(2, a, content_digest(a)),
        Candidate(3, b, content_digest(b)),
    ]
    kept, repeats = split_duplicates_within(candidates)
    assert [c.line for c in kept] == [1]
    assert [(later.line, first.line) for later, first in repeats] == [(2, 1), (3, 1)]


# -- CSV columns ----------------------------------------------------------------------


def test_every_signal_kind_has_a_column_mapping_whose_example_row_validates() -> None:
    assert set(COLUMNS) == set(SignalKind)
    for kind, columns in COLUMNS.items():
        header = parse_header(kind, [*columns.all_required])
        cells = ["HH-AAAAAA", "e-1", "2026-11-01T09:00:00+09:00", *columns.example]
        cells += [""] * (header.width - len(cells))
        if kind is SignalKind.USAGE_DROP:
            header = parse_header(kind, [*columns.all_required, "drop_ratio"])
            cells = [*cells[: header.width - 1], "0.85"]
        to_signal_of_kind(kind, header.body(cells), "pp", NOW)


def test_a_header_with_an_unknown_column_is_refused_so_no_personal_data_rides_along() -> None:
    with pytest.raises(HeaderError, match="unknown columns: resident_name"):
        parse_header(
            SignalKind.MAIL_UNCOLLECTED,
            [
                "household_id",
                "partner_event_id",
                "occurred_at",
                "days_uncollected",
                "resident_name",
            ],
        )


def test_a_header_missing_a_required_column_names_it() -> None:
    with pytest.raises(HeaderError, match="missing required columns: as_of"):
        parse_header(
            SignalKind.ARREARS,
            [
                "household_id",
                "partner_event_id",
                "occurred_at",
                "arrears_type",
                "months_overdue",
                "amount_krw",
            ],
        )


@given(st.text(), st.text())
def test_the_envelope_id_is_uuid5_of_the_partner_and_its_event_id(
    partner_id: str, partner_event_id: str
) -> None:
    made = signal_event_id(partner_id, partner_event_id)
    expected = uuid5(SIGNAL_NAMESPACE, f"{partner_id}:{partner_event_id}")
    assert (made, str(made), made.version, made.is_safe) == (
        expected,
        str(expected),
        5,
        expected.is_safe,
    )
    assert hash(made) == hash(expected)


def test_a_rows_body_leaves_out_empty_cells_and_converts_lists_and_series() -> None:
    header = parse_header(
        SignalKind.USAGE_DROP,
        ["daily_usage", "household_id", "partner_event_id", "occurred_at", "utility", "drop_ratio"],
    )
    body = header.body(
        [
            " 2026-11-01:3.2; 2026-11-02 : 0.4;",
            "HH-AAAAAA ",
            "u-1",
            "2026-11-01T09:00:00Z",
            "power",
            " ",
        ]
    )
    assert list(body.items()) == [
        (
            "daily_usage",
            [{"day": "2026-11-01", "value": "3.2"}, {"day": "2026-11-02", "value": "0.4"}],
        ),
        ("household_id", "HH-AAAAAA"),
        ("partner_event_id", "u-1"),
        ("occurred_at", "2026-11-01T09:00:00Z"),
        ("utility", "power"),
    ]
    assert header.body(["x", "HH-AAAAAA", "u-1", "", "", ""])["daily_usage"] == "x"


def test_headers_are_case_insensitive_and_lists_split_on_semicolons() -> None:
    header = parse_header(
        SignalKind.BLIND_SPOT,
        [
            "\ufeffHousehold_ID",
            "PARTNER_EVENT_ID",
            "occurred_at",
            "round_id",
            "reasons",
            "due_date",
        ],
    )
    body = header.body(
        [
            "HH-AAAAAA",
            "r-1",
            "2026-11-01T09:00:00+09:00",
            "2026-6",
            "단전; 건강보험료 체납;",
            "2026-12-31",
        ]
    )
    assert body["reasons"] == ["단전", "건강보험료 체납"]


# -- encodings ------------------------------------------------------------------------


def test_declared_encodings_map_to_utf8_or_cp949_and_others_are_refused() -> None:
    assert declared("EUC-KR") == declared("cp949") == CP949
    assert declared("utf-8") == UTF8
    assert declared(None) is None
    with pytest.raises(UnsupportedEncoding):
        declared("latin-1")


def test_korean_text_is_recognised_and_latin_text_is_not() -> None:
    assert reads_as_korean("household,단전 체납")
    assert not reads_as_korean("naïve café")
    assert not reads_as_korean("plain ascii")


# -- rate limits ----------------------------------------------------------------------


def test_a_bucket_counts_records_and_says_when_a_refused_request_would_fit() -> None:
    bucket = TokenBucket.per_minute(60, now=0.0)  # one record a second, 60 at most
    assert bucket.admit(50, now=0.0).allowed
    refused = bucket.admit(20, now=0.0)
    assert not refused.allowed and refused.retry_after_s == 10
    assert bucket.admit(20, now=10.0).allowed


def test_a_batch_larger_than_the_bucket_is_refused_for_good() -> None:
    bucket = TokenBucket.per_minute(100, now=0.0)
    decision = bucket.admit(101, now=0.0)
    assert not decision.allowed and decision.never


def test_file_rows_are_paced_not_refused() -> None:
    limiter = RateLimiter()
    took, wait = limiter.pace("p", 60, 100, now=0.0)
    assert (took, wait) == (60, 0.0)
    took, wait = limiter.pace("p", 60, 40, now=0.0)
    assert took == 0 and wait == pytest.approx(1.0)
    took, _ = limiter.pace("p", 60, 40, now=5.0)
    assert took == 5


@given(
    limit=st.integers(min_value=1, max_value=10_000),
    requests=st.lists(
        st.tuples(st.integers(min_value=1, max_value=500), st.floats(min_value=0, max_value=5)),
        max_size=60,
    ),
)
def test_no_partner_ever_gets_more_than_its_limit_plus_the_refill(
    limit: int, requests: list[tuple[int, float]]
) -> None:
    bucket = TokenBucket.per_minute(limit, now=0.0)
    now = 0.0
    admitted = 0
    for records, gap in requests:
        now += gap
        if bucket.admit(records, now).allowed:
            admitted += records
    assert admitted <= limit + now * limit / 60 + 1e-6


# -- submissions ----------------------------------------------------------------------


def test_a_finished_submission_never_moves_and_a_failed_one_can_be_resumed() -> None:
    assert move(SubmissionState.FAILED, SubmissionState.RECEIVED) is SubmissionState.RECEIVED
    for final in (SubmissionState.COMPLETED, SubmissionState.REJECTED):
        with pytest.raises(IllegalMove):
            move(final, SubmissionState.PROCESSING)


def test_every_row_of_a_chunk_needs_exactly_one_outcome() -> None:
    progress = Progress()
    progress.add_chunk(rows=10, accepted=7, duplicates=2, rejected=1, published=7, last_line=11)
    assert (progress.rows, progress.cursor_line) == (10, 11)
    with pytest.raises(ValueError):
        progress.add_chunk(rows=5, accepted=1, duplicates=1, rejected=1, published=1, last_line=16)


# -- the reporter form and rewards ----------------------------------------------------


def test_the_form_checks_each_field_and_a_critical_category_raises_the_urgency() -> None:
    checked = check_form("household_id", " hh-abc123 ", "suicide_risk", "low", "문이 잠겨 있음")
    assert checked.ok
    assert checked.lookup_value == "HH-ABC123"
    assert checked.urgency is ReportUrgency.HIGH
    emergency = check_form("household_id", "HH-ABC123", "emergency", "normal", "")
    assert emergency.urgency is ReportUrgency.EMERGENCY
    bad = check_form("phone", "call me", "nonsense", None, "x" * 2001)
    assert set(bad.errors) == {"lookup_value", "category", "urgency", "note"}
    assert (
        check_form("address", "종로구 자하문로 1", "odour", "normal", "").lookup_kind
        is LookupKind.ADDRESS
    )


def _report(ref: str, day: int, household: str = "HH-AAAAAA", **extra: object) -> ReportFacts:
    return ReportFacts(
        reference=ref,
        reporter_id="R-1",
        household_id=household,
        submitted_at=datetime(2026, 3, day, 10, tzinfo=UTC),
        published=bool(extra.get("published", True)),
        marked_invalid=bool(extra.get("marked_invalid", False)),
    )


def test_valid_reports_earn_50000_won_each_up_to_300000_a_year() -> None:
    reports = [_report(f"r{i}", 1 + i, household=f"HH-AAAAA{i}") for i in range(8)]
    [record] = yearly_records(reports, 2026, RewardPolicy())
    assert record.valid_reports == 8
    assert record.amount_krw == 300_000 and record.capped


def test_seven_valid_reports_six_are_payable_and_the_seventh_is_over_the_cap() -> None:
    reports = [_report(f"r{i}", 1 + i, household=f"HH-AAAAA{i}") for i in range(7)]
    [record] = yearly_records(reports, 2026, RewardPolicy())
    assert record.counted == tuple(f"r{i}" for i in range(7))
    assert record.payable == ("r0", "r1", "r2", "r3", "r4", "r5")
    assert record.over_cap == ("r6",)
    assert record.amount_krw == 300_000 and record.capped


def test_a_cap_that_is_not_a_multiple_pays_the_last_report_in_part() -> None:
    reports = [_report(f"r{i}", 1 + i, household=f"HH-AAAAA{i}") for i in range(4)]
    policy = RewardPolicy(per_report_krw=50_000, yearly_cap_krw=120_000)
    [record] = yearly_records(reports, 2026, policy)
    assert record.payable == ("r0", "r1", "r2") and record.over_cap == ("r3",)
    assert record.amount_krw == 120_000


def test_invalid_unpublished_and_repeated_reports_do_not_count() -> None:
    reports = [
        _report("a", 1),
        _report("b", 3),  # same household within 7 days: counted once
        _report("c", 9),  # 8 days after the counted one: counts again
        _report("d", 10, household="HH-BBBBBB", marked_invalid=True),
        _report("e", 11, household="HH-CCCCCC", published=False),
    ]
    [record] = yearly_records(reports, 2026, RewardPolicy())
    assert record.counted == ("a", "c") == record.payable and record.over_cap == ()
    assert record.reports == 5 and record.amount_krw == 100_000 and not record.capped


def test_the_reward_year_is_the_korean_calendar_year() -> None:
    late = ReportFacts("x", "R-1", "HH-AAAAAA", datetime(2026, 12, 31, 16, tzinfo=UTC), True)
    assert yearly_records([late], 2026, RewardPolicy()) == []
    assert yearly_records([late], 2027, RewardPolicy())[0].valid_reports == 1
