"""The notifier's rules as pure functions: quiet hours, channel plans, backoff, outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anbu_contracts import DeliveryStatus, Locale, NotificationRequest, RecipientKind, Urgency
from anbu_contracts.detector import RecipientRef
from anbu_contracts.notify import Channel
from anbu_notifier.domain import admission
from anbu_notifier.domain.admission import RequestRejected
from anbu_notifier.domain.delivery import Delivery, IllegalTransition, Notification
from anbu_notifier.domain.messages import idempotency_key, normalise_phone, sms_type, subject_of
from anbu_notifier.domain.model import DeliveryState, Recipient
from anbu_notifier.domain.outcome import RecipientState, outcome_of, transitions
from anbu_notifier.domain.quiet_hours import is_quiet, release_at
from anbu_notifier.domain.rate_limit import TokenBucket
from anbu_notifier.domain.rendering import Renderer
from anbu_notifier.domain.retry import RetryPolicy, parse_retry_after
from anbu_notifier.domain.routing import plan_channels
from anbu_notifier.domain.signatures import sign, verify

SEOUL = ZoneInfo("Asia/Seoul")


def person(**kw: object) -> Recipient:
    values: dict[str, object] = {
        "person_ref": "P-1",
        "name": "김안부",
        "phone": "010-1234-5678",
        "quiet_start": time(23, 0),
        "quiet_end": time(7, 0),
    }
    values.update(kw)
    return Recipient(**values)  # type: ignore[arg-type]


def seoul(hour: int, minute: int = 0, day: int = 24) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SEOUL)


# -- quiet hours ---------------------------------------------------------------------------


def test_a_routine_message_at_half_past_eleven_waits_until_seven_the_next_morning() -> None:
    assert release_at(seoul(23, 30), Urgency.ROUTINE, person()) == seoul(7, day=25)


def test_a_routine_message_after_midnight_waits_until_seven_the_same_morning() -> None:
    assert release_at(seoul(2, 15), Urgency.ROUTINE, person()) == seoul(7)


@pytest.mark.parametrize("urgency", [Urgency.CRITICAL, Urgency.HIGH])
def test_critical_and_high_messages_go_at_once_even_at_night(urgency: Urgency) -> None:
    assert release_at(seoul(3), urgency, person()) is None


def test_a_routine_message_in_the_daytime_goes_at_once() -> None:
    assert release_at(seoul(7), Urgency.ROUTINE, person()) is None  # the end is not quiet
    assert release_at(seoul(22, 59), Urgency.ROUTINE, person()) is None


def test_quiet_hours_are_the_recipients_local_time() -> None:
    # 23:30 in Seoul is 15:30 in Berlin: a Berlin recipient is awake.
    berlin = person(timezone="Europe/Berlin")
    assert release_at(seoul(23, 30), Urgency.ROUTINE, berlin) is None
    # 23:30 in Berlin waits until 07:00 Berlin time.
    late = datetime(2026, 11, 24, 23, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert release_at(late, Urgency.ROUTINE, berlin) == datetime(
        2026, 11, 25, 7, 0, tzinfo=ZoneInfo("Europe/Berlin")
    )


def test_no_quiet_hours_on_file_means_no_waiting() -> None:
    assert release_at(seoul(3), Urgency.ROUTINE, person(quiet_start=None, quiet_end=None)) is None
    same = person(quiet_start=time(22), quiet_end=time(22))
    assert release_at(seoul(3), Urgency.ROUTINE, same) is None


def test_a_daytime_window_that_does_not_wrap_midnight() -> None:
    nap = person(quiet_start=time(13), quiet_end=time(15))
    assert release_at(seoul(14), Urgency.ROUTINE, nap) == seoul(15)
    assert release_at(seoul(16), Urgency.ROUTINE, nap) is None


def test_an_unknown_time_zone_is_read_as_seoul() -> None:
    nowhere = person(timezone="Mars/Olympus")
    assert release_at(seoul(23, 30), Urgency.ROUTINE, nowhere) == seoul(7, day=25)


@given(
    now=st.datetimes(  # hypothesis takes naive bounds and attaches the zone itself
        min_value=datetime(2026, 1, 1),  # noqa: DTZ001
        max_value=datetime(2027, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    start=st.times(),
    end=st.times(),
    zone=st.sampled_from(["Asia/Seoul", "Europe/Berlin", "America/New_York", "UTC"]),
)
def test_a_held_message_is_released_later_outside_quiet_hours_within_a_day(
    now: datetime, start: time, end: time, zone: str
) -> None:
    recipient = person(quiet_start=start, quiet_end=end, timezone=zone)
    released = release_at(now, Urgency.ROUTINE, recipient)
    local_now = now.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
    if released is None:
        assert not is_quiet(local_now, start, end)
        return
    assert is_quiet(local_now, start, end)
    assert now < released <= now + timedelta(days=1, hours=1)  # an hour of slack for DST
    local = released.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
    assert not is_quiet(local, start, end)


# -- channel plans ---------------------------------------------------------------------


ALL = [Channel.ALIMTALK, Channel.SMS, Channel.EMAIL, Channel.WEBHOOK, Channel.CONSOLE]


def test_the_plan_starts_with_what_was_asked_then_the_preference_then_the_fallbacks() -> None:
    recipient = person(email="kim@example.org", preferred_channel=Channel.SMS)
    plan = plan_channels(recipient, requested=[Channel.EMAIL], enabled=ALL, default=Channel.SMS)
    assert plan == [Channel.EMAIL, Channel.SMS, Channel.ALIMTALK, Channel.CONSOLE]


def test_the_plan_keeps_only_enabled_channels_that_have_an_address() -> None:
    recipient = person(phone=None, email="kim@example.org", preferred_channel=Channel.SMS)
    plan = plan_channels(
        recipient, requested=[], enabled=[Channel.SMS, Channel.EMAIL], default=Channel.SMS
    )
    assert plan == [Channel.EMAIL]


def test_the_embedded_default_sends_everything_to_the_console() -> None:
    plan = plan_channels(
        person(), requested=[Channel.SMS], enabled=[Channel.CONSOLE], default=Channel.CONSOLE
    )
    assert plan == [Channel.CONSOLE]


def test_a_liaison_is_reached_by_webhook_only() -> None:
    liaison = Recipient(person_ref="fire_liaison", preferred_channel=Channel.WEBHOOK, liaison="x")
    plan = plan_channels(liaison, requested=[], enabled=ALL[:4], default=Channel.SMS)
    assert plan == [Channel.WEBHOOK]


# -- retries ---------------------------------------------------------------------------


def test_backoff_grows_exponentially_up_to_a_ceiling_with_jitter() -> None:
    policy = RetryPolicy(base_s=0.5, max_s=4.0)
    low = [policy.delay(n, None, 0.0) for n in range(1, 7)]
    high = [policy.delay(n, None, 0.999) for n in range(1, 7)]
    assert low == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert all(h < 2 * lo + 1e-9 for lo, h in zip(low, high, strict=True))
    assert high[-1] < 4.0


def test_retry_after_is_a_floor_on_the_wait() -> None:
    policy = RetryPolicy(base_s=0.5)
    assert policy.delay(1, 7.0, 0.0) == 7.0
    assert 7.0 <= policy.delay(1, 7.0, 0.9) < 7.5


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Tue, 24 Nov 2026 01:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


# -- outcomes --------------------------------------------------------------------------


def states(*values: DeliveryState) -> list[RecipientState]:
    return [
        RecipientState(v, "sms: invalid" if v is DeliveryState.FAILED else None) for v in values
    ]


def test_a_request_is_settled_only_when_every_recipient_is() -> None:
    assert outcome_of(states(DeliveryState.SENT, DeliveryState.PENDING)).status is None
    assert outcome_of(states(DeliveryState.SENT, DeliveryState.SENDING)).status is None


def test_a_request_is_delivered_when_every_reached_recipient_confirmed() -> None:
    outcome = outcome_of(states(DeliveryState.DELIVERED, DeliveryState.FAILED))
    assert outcome.status is DeliveryStatus.DELIVERED
    assert outcome.reason == "1 of 2 recipients failed: sms: invalid"


def test_a_request_failed_when_nobody_was_reached() -> None:
    outcome = outcome_of(states(DeliveryState.FAILED, DeliveryState.FAILED))
    assert outcome.status is DeliveryStatus.FAILED and outcome.reason == "sms: invalid"


def test_statuses_only_move_forward_and_delivered_implies_sent() -> None:
    Q, S, D, F = (DeliveryStatus.QUEUED, DeliveryStatus.SENT, DeliveryStatus.DELIVERED,
                  DeliveryStatus.FAILED)  # fmt: skip
    assert transitions(Q, D) == [S, D]
    assert transitions(S, D) == [D]
    assert transitions(S, F) == [F]  # sent, then the receipt said it never arrived
    assert transitions(D, S) == [] and transitions(F, S) == [] and transitions(S, S) == []


# -- messages, signatures, pacing ------------------------------------------------------


def test_the_idempotency_key_is_stable_per_request_person_and_channel() -> None:
    key = idempotency_key("esc:1:day1", "P-1", Channel.SMS)
    assert key == idempotency_key("esc:1:day1", "P-1", Channel.SMS)
    assert key != idempotency_key("esc:1:day1", "P-2", Channel.SMS)
    assert key != idempotency_key("esc:1:day1", "P-1", Channel.ALIMTALK)
    assert len(key) == 40 and key.isalnum()


def test_a_message_over_ninety_bytes_is_a_long_message() -> None:
    assert sms_type("가" * 45) == "sms"  # 2 bytes each in EUC-KR
    assert sms_type("가" * 46) == "lms"
    assert sms_type("a" * 90) == "sms"


def test_subjects_and_numbers() -> None:
    assert subject_of("[안부 확인] 안녕하세요\n둘째 줄") == "[안부 확인] 안녕하세요"
    assert len(subject_of("x" * 200)) == 60
    assert normalise_phone("010-1234 5678") == "01012345678"
    assert normalise_phone("+82 10-1234-5678") == "+821012345678"


def test_a_signature_proves_the_sender_and_expires() -> None:
    body = b'{"message_id":"m-1","status":"delivered"}'
    header = sign("s3cret", 1_000_000, body)
    assert verify("s3cret", "1000000", header, body, now=1_000_100)
    assert not verify("other", "1000000", header, body, now=1_000_100)
    assert not verify("s3cret", "1000000", header, body + b" ", now=1_000_100)
    assert not verify("s3cret", "1000000", header, body, now=1_000_000 + 301)  # stale
    assert not verify("s3cret", None, header, body, now=1_000_000)


def test_the_token_bucket_spaces_sends_after_a_burst_and_pauses_on_429() -> None:
    bucket = TokenBucket(rate=10, burst=2, now=0.0)
    waits = [bucket.reserve(0.0) for _ in range(4)]
    assert waits == [0.0, 0.0, pytest.approx(0.1), pytest.approx(0.2)]
    bucket = TokenBucket(rate=10, burst=2, now=0.0)
    bucket.pause(until=5.0)
    assert bucket.reserve(1.0) == 4.0


# -- admission -------------------------------------------------------------------------


def request(**kw: object) -> NotificationRequest:
    values: dict[str, object] = {
        "occurred_at": datetime(2026, 11, 24, tzinfo=UTC),
        "produced_at": datetime(2026, 11, 24, tzinfo=UTC),
        "source": "test",
        "request_id": "00000000-0000-0000-0000-000000000001",
        "request_key": "k",
        "recipient": RecipientRef(kind=RecipientKind.RESIDENT, household_id="HH-ABCDEF"),
        "template": "safety_check.day1_text",
    }
    values.update(kw)
    return NotificationRequest.model_validate(values)


def test_a_well_formed_request_is_admitted() -> None:
    admission.check(request(), Renderer())


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"template": "nope"}, "no template"),
        ({"template": "task.offered", "variables": {"task_type": "x"}}, "deadline|link"),
        ({"recipient": RecipientRef(kind=RecipientKind.RESIDENT)}, "household_id"),
        ({"recipient": RecipientRef(kind=RecipientKind.STAFF)}, "worker id"),
        ({"template": "task.offered", "locale": Locale.EN, "variables": {}}, "undefined"),
    ],
)
def test_a_request_the_notifier_cannot_honour_is_rejected(
    changes: dict[str, object], reason: str
) -> None:
    with pytest.raises(RequestRejected, match=reason):
        admission.check(request(**changes), Renderer())


def _delivery(state: DeliveryState) -> Delivery:
    now = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    return Delivery(
        request_key="k",
        person_ref="P-1",
        plan=["sms", "email"],
        state=state,
        created_at=now,
        updated_at=now,
        channel="sms",
    )


@pytest.mark.parametrize("state", [DeliveryState.PENDING, DeliveryState.SENT, DeliveryState.FAILED])
def test_only_a_message_being_sent_can_be_recorded_sent(state: DeliveryState) -> None:
    delivery = _delivery(state)
    with pytest.raises(IllegalTransition):
        delivery.sent("m-1", False, 1, datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    assert delivery.state is state and delivery.provider_message_id is None  # nothing changed


def test_a_settled_delivery_is_never_sent_again_or_failed_twice() -> None:
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    for state in (DeliveryState.SENT, DeliveryState.DELIVERED, DeliveryState.FAILED):
        with pytest.raises(IllegalTransition):
            _delivery(state).sending(0, Channel.SMS, "key", [], 1, now)
        with pytest.raises(IllegalTransition):
            _delivery(state).failed("late", now)


def test_a_failure_receipt_moves_a_sent_message_to_its_next_channel_once() -> None:
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    delivery = _delivery(DeliveryState.SENT)
    assert delivery.receipt(False, "unreachable", now) is True
    assert (delivery.state, delivery.channel_index) == (DeliveryState.PENDING, 1)
    assert delivery.receipt(False, "again", now) is False  # not sent now: the first word stands
    assert delivery.state is DeliveryState.PENDING


def test_a_request_reports_sent_then_delivered_as_its_recipients_settle() -> None:
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    sending = _delivery(DeliveryState.SENDING)
    notification = Notification(
        request_key="k",
        request_id=uuid4(),
        event_id=uuid4(),
        household_id=None,
        template="t",
        urgency="high",
        priority=1,
        status=DeliveryStatus.QUEUED,
        request="{}",
        correlation_id=None,
        created_at=now,
        updated_at=now,
        deliveries=[sending],
    )
    sending.sent("m-1", False, 1, now)
    notification.settle(now, latest=sending)
    sending.receipt(True, None, now)
    notification.settle(now, latest=sending)
    assert [c.status for c in notification.changes] == [
        DeliveryStatus.SENT,
        DeliveryStatus.DELIVERED,
    ]
    assert notification.changes[-1].provider_message_id == "m-1"
