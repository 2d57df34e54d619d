"""Delivering a request: once, on the right channel, reported, against real servers.

The notifier is wired by its bootstrap on a real database (SQLite and PostgreSQL); the
SMS / alert-message gateway is a local HTTP server and e-mail goes to a local SMTP server.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from notifier_fakes.provider import Fault
from notifier_fakes.world import World, household_id, resident

from anbu_contracts import DeliveryStatus, Locale, RecipientKind, Urgency
from anbu_contracts.notify import Channel
from anbu_notifier.domain.messages import idempotency_key


def statuses(world: World, key: str) -> list[str]:
    return [e.status.value for e in world.statuses(key)]


async def test_a_text_reaches_the_resident_once_and_is_reported_queued_then_sent(
    world: World,
) -> None:
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    request = world.request(hh)

    events = await world.send(request)

    [message] = world.provider_messages()
    assert message.to == "01012345678"
    assert message.kind == "lms"  # longer than one short message (90 bytes in EUC-KR)
    assert message.text.startswith("[안부 확인] 김안부님")
    assert message.key == idempotency_key(request.request_key, "P-1", Channel.SMS)
    assert [e.status.value for e in events] == ["queued", "sent"]
    sent = events[-1]
    assert sent.channel == Channel.SMS
    assert sent.provider_message_id == message.message_id
    assert sent.attempt == 1
    assert sent.correlation_id == request.correlation_id
    assert sent.causation_id == str(request.event_id)


async def test_a_redelivered_request_is_never_sent_twice(world: World) -> None:
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    request = world.request(hh)

    await world.send(request)
    assert await world.notifier.accept(request) is False
    await world.dispatcher.run_once()

    assert len(world.provider_messages()) == 1
    assert world.provider.state.stats()["calls"] == 1
    assert statuses(world, request.request_key) == ["queued", "sent"]


async def test_a_delivery_receipt_reports_the_request_delivered(world: World) -> None:
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    request = world.request(hh)
    await world.send(request)

    answers = await world.post_receipts()

    assert answers == ["applied"]
    assert statuses(world, request.request_key) == ["queued", "sent", "delivered"]
    [delivery] = world.deliveries(request.request_key)
    assert delivery.state == "delivered"


async def test_temporary_provider_errors_are_retried_and_the_message_goes_once(
    world: World,
) -> None:
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    world.provider.state.faults.extend([Fault(500), Fault(503), Fault(502)])
    request = world.request(hh)

    events = await world.send(request)

    assert len(world.provider_messages()) == 1
    assert [status for _, _, status in world.provider.state.calls] == [500, 503, 502, 202]
    assert events[-1].status == DeliveryStatus.SENT
    assert events[-1].attempt == 4


async def test_a_timeout_after_the_provider_accepted_is_retried_under_the_same_key(
    world: World,
) -> None:
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    answer = threading.Event()  # accepted, answered only after the client gave up
    world.provider.state.faults.append(Fault(202, hold=answer))
    request = world.request(hh)

    try:
        events = await world.send(request)
    finally:
        answer.set()

    assert len(world.provider_messages()) == 1
    stats = world.provider.state.stats()
    assert stats["replays"] == 1 and stats["duplicates"] == 0
    assert events[-1].status == DeliveryStatus.SENT


async def test_a_429_is_honoured_by_waiting_for_retry_after(world: World) -> None:
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    world.provider.state.faults.append(Fault(429, headers={"Retry-After": "1"}, code="busy"))
    request = world.request(hh)

    events = await world.send(request)

    (first, _, limited), (second, _, accepted) = world.provider.state.calls
    assert (limited, accepted) == (429, 202)
    assert second - first >= 1.0  # not before the provider said it could take more
    assert events[-1].status == DeliveryStatus.SENT


async def test_a_permanent_failure_falls_back_to_the_next_channel(world: World) -> None:
    hh = household_id()
    world.directory.add(
        hh, RecipientKind.RESIDENT, resident(email="kim@example.org", preferred=Channel.SMS)
    )
    world.provider.state.invalid_numbers.add("01012345678")
    request = world.request(hh)

    events = await world.send(request)

    assert world.provider_messages() == []
    [mail] = world.smtp.received
    assert mail.to == ["kim@example.org"]
    assert "김안부님" in mail.body
    key = idempotency_key(request.request_key, "P-1", Channel.EMAIL)
    assert mail.message_id == f"<{key}@anbu.example>"
    assert events[-1].status == DeliveryStatus.SENT
    assert events[-1].channel == Channel.EMAIL
    [delivery] = world.deliveries(request.request_key)
    assert delivery.reason is not None and "sms: sms gateway answered 400 invalid_number" in (
        delivery.reason
    )


async def test_the_alert_message_falls_back_to_sms_when_its_receipt_says_not_delivered(
    world: World,
) -> None:
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident(preferred=Channel.ALIMTALK))
    world.provider.state.undeliverable.add("01012345678")
    request = world.request(hh)
    await world.send(request)
    [alimtalk] = world.provider_messages()
    assert alimtalk.kind == "alimtalk" and alimtalk.template_code == "ANBU_DAY1"

    world.provider.state.undeliverable.clear()
    assert await world.post_receipts() == ["applied"]  # "failed": fall back to SMS
    await world.dispatcher.run_once()
    assert await world.post_receipts() == ["applied"]  # the SMS is delivered

    sms = [m for m in world.provider_messages() if m.kind in ("sms", "lms")]
    assert len(sms) == 1 and sms[0].key != alimtalk.key
    assert statuses(world, request.request_key) == ["queued", "sent", "delivered"]
    assert world.statuses(request.request_key)[-1].channel == Channel.SMS


async def test_when_every_channel_fails_the_request_is_reported_failed_with_the_reasons(
    world: World,
) -> None:
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident(email="kim@example.org"))
    world.provider.state.faults.extend([Fault(500)] * 4)  # the SMS retry budget
    world.provider.state.faults.append(Fault(400, code="template_mismatch"))  # 알림톡
    world.smtp.fail_next("550 5.1.1 Mailbox unavailable")
    request = world.request(hh)

    events = await world.send(request)

    failed = events[-1]
    assert [e.status.value for e in events] == ["queued", "failed"]
    assert failed.reason is not None
    assert "sms: sms gateway answered 500" in failed.reason
    assert "alimtalk: alimtalk gateway answered 400 template_mismatch" in failed.reason
    assert "email: SMTP server answered 550" in failed.reason
    assert failed.attempt == 6
    assert world.provider_messages() == [] and world.smtp.received == []
    assert "kim@" not in failed.reason and "010" not in failed.reason


async def test_a_temporary_smtp_error_is_retried(world: World) -> None:
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident(phone=None, email="kim@example.org"))
    world.smtp.fail_next("451 4.3.0 Try again later")
    request = world.request(hh, locale=Locale.EN)

    events = await world.send(request)

    [mail] = world.smtp.received
    assert mail.subject.startswith("[Wellbeing check]")
    assert mail.headers["Content-Language"] == "en"
    assert world.smtp.duplicates == 0
    assert events[-1].status == DeliveryStatus.SENT and events[-1].attempt == 2


async def test_every_guardian_is_reached_and_tracked_on_their_own(world: World) -> None:
    hh = household_id()
    world.directory.add(
        hh,
        RecipientKind.GUARDIAN,
        resident("P-G1", phone="010-1111-0001", name="박가족"),
        resident("P-G2", phone="010-1111-0002", name="이가족"),
        resident("P-G3", phone="010-1111-0003", name="최가족"),
    )
    world.provider.state.invalid_numbers.add("01011110003")
    request = world.request(
        hh,
        kind=RecipientKind.GUARDIAN,
        template="guardian.safety_not_confirmed",
        variables={"office_name": "청운효자동 주민센터", "office_phone": "02-2148-5000"},
    )

    events = await world.send(request)

    assert sorted(m.to for m in world.provider_messages()) == ["01011110001", "01011110002"]
    by_ref = {d.person_ref: d.state for d in world.deliveries(request.request_key)}
    assert by_ref == {"P-G1": "sent", "P-G2": "sent", "P-G3": "failed"}
    assert events[-1].status == DeliveryStatus.SENT
    assert events[-1].reason is not None and events[-1].reason.startswith(
        "1 of 3 recipients failed"
    )


async def test_the_fire_liaison_gets_a_signed_webhook(world: World) -> None:
    hh = household_id()
    request = world.request(
        hh,
        kind=RecipientKind.FIRE_LIAISON,
        template="emergency.liaison_119",
        urgency=Urgency.CRITICAL,
        variables={
            "household_id": hh,
            "reason": "SOS",
            "dong_name": "청운효자동",
            "link": "https://anbu.example/cases/1",
        },
    )

    events = await world.send(request)

    [hook] = world.provider.state.hooks  # the fake verified the signature
    assert hook["name"] == "fire_liaison"
    assert hook["body"]["household_id"] == hh
    assert hook["body"]["urgency"] == "critical"
    assert [e.status.value for e in events] == ["queued", "sent", "delivered"]
    assert events[-1].channel == Channel.WEBHOOK


async def test_an_unknown_household_fails_the_request(world: World) -> None:
    request = world.request(household_id())

    events = await world.send(request)

    assert [e.status.value for e in events] == ["queued", "failed"]
    assert "not found" in (events[-1].reason or "")
    assert world.provider_messages() == []


async def test_a_registry_outage_delays_the_request_but_does_not_lose_it(world: World) -> None:
    from datetime import timedelta

    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    world.directory.unavailable = 1
    request = world.request(hh)

    events = await world.send(request)
    assert [e.status.value for e in events] == ["queued"]
    assert world.provider_messages() == []

    world.clock.advance(timedelta(seconds=30))
    await world.dispatcher.run_once()

    assert len(world.provider_messages()) == 1
    assert statuses(world, request.request_key) == ["queued", "sent"]


async def test_the_console_sink_keeps_a_masked_name_while_the_provider_gets_the_real_one(
    make_world: Any, tmp_path: Path
) -> None:
    world: World = make_world(enabled_channels=["sms", "console"])
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident(name="김민수"))
    await world.send(world.request(hh, channels=[Channel.SMS]))
    await world.send(world.request(hh, channels=[Channel.CONSOLE]))

    [message] = world.provider_messages()
    assert message.text.startswith("[안부 확인] 김민수님")
    [line] = (tmp_path / "sink.jsonl").read_text(encoding="utf-8").splitlines()
    assert "김민수" not in line
    assert json.loads(line)["text"].startswith("[안부 확인] 김*수님")


async def test_a_batch_of_requests_is_accepted_together_and_each_key_only_once(
    world: World,
) -> None:
    first, second = household_id(), household_id()
    for hh in (first, second):
        world.directory.add(hh, RecipientKind.RESIDENT, resident())
    a, b = world.request(first), world.request(second)
    again = world.request(first, key=a.request_key)  # a producer's retry inside the batch

    assert await world.notifier.accept_many([a, again, b]) == [True, False, True]
    await world.dispatcher.run_once()

    assert len(world.provider_messages()) == 2
    assert statuses(world, a.request_key) == ["queued", "sent"]
    assert statuses(world, b.request_key) == ["queued", "sent"]


async def test_sends_finishing_together_record_their_outcomes_in_shared_transactions(
    world: World, monkeypatch: Any
) -> None:
    requests = []
    for _ in range(20):
        hh = household_id()
        world.directory.add(hh, RecipientKind.RESIDENT, resident())
        requests.append(world.request(hh))
        await world.notifier.accept(requests[-1])
    db = world.runtime.db
    transactions = 0
    run = db.run

    async def counted(fn: Any) -> Any:
        nonlocal transactions
        transactions += 1
        return await run(fn)

    monkeypatch.setattr(db, "run", counted)
    await world.dispatcher.run_once()

    assert len(world.provider_messages()) == 20
    assert all(statuses(world, r.request_key) == ["queued", "sent"] for r in requests)
    # One transaction per request for planning and one for the outcome made 41; the claim,
    # the plans and the outcomes of sends that finish together now share transactions.
    assert transactions <= 20
