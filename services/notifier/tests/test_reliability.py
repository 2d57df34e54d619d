"""Never twice, never silently dropped: restarts, takeovers, quiet hours, receipts, rules.

Same setting as test_delivery.py: the notifier as its bootstrap wires it, on SQLite and
PostgreSQL, a manual clock, a local gateway and SMTP server.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog
from notifier_fakes.provider import FakeProvider, Fault, signature
from notifier_fakes.world import RECEIPT_SECRET, World, household_id, resident
from prometheus_client import REGISTRY

from anbu_contracts import DeliveryStatus, RecipientKind, Urgency
from anbu_contracts.notify import Channel
from anbu_notifier.adapters.repository import NotifierRepository
from anbu_notifier.domain.admission import RequestRejected

SEOUL = ZoneInfo("Asia/Seoul")


def statuses(world: World, key: str) -> list[str]:
    return [e.status.value for e in world.statuses(key)]


async def until(predicate: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def signed(body: Any, secret: str = RECEIPT_SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    ts = int(time.time())
    return raw, {"X-Anbu-Timestamp": str(ts), "X-Anbu-Signature": signature(secret, ts, raw)}


# -- restarts --------------------------------------------------------------------------


async def test_a_crash_after_the_provider_accepted_resends_under_the_same_key_once(
    make_world: Any,
) -> None:
    # the call outlasts nothing but the crash: no timeout or retry may answer it first,
    # however slowly a loaded machine runs the test
    world: World = make_world(gateway_timeout_s=60)
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    answer = threading.Event()
    world.provider.state.faults.append(Fault(202, hold=answer))  # accepts, then hangs
    request = world.request(hh)
    await world.notifier.accept(request)

    run = asyncio.create_task(world.dispatcher.run_once())
    try:
        await until(lambda: len(world.provider_messages()) == 1, seconds=30)
        run.cancel()  # the process dies before it could record what the provider said
        with pytest.raises(asyncio.CancelledError):
            await run
    finally:
        answer.set()
    [delivery] = world.deliveries(request.request_key)
    assert delivery.state == "sending"  # recorded before the call: the key is known

    restarted: World = make_world(directory=world.directory, clock=world.clock)
    await restarted.notifier.release_own_claims()
    await restarted.dispatcher.run_once()

    assert len(world.provider_messages()) == 1
    assert world.provider.state.stats()["replays"] == 1
    assert world.provider.state.stats()["duplicates"] == 0
    assert statuses(restarted, request.request_key) == ["queued", "sent"]


async def test_another_instance_takes_over_a_request_whose_claim_ran_out(
    make_world: Any,
) -> None:
    first: World = make_world(instance="notifier-a", claim_lease_s=1.0)
    second: World = make_world(
        directory=first.directory, clock=first.clock, instance="notifier-b", claim_lease_s=1.0
    )
    hh = household_id()
    first.directory.add(hh, RecipientKind.RESIDENT, resident())
    request = first.request(hh)
    await first.notifier.accept(request)

    assert await first.notifier.claim_due(10) == [request.request_key]  # then it hangs
    assert await second.notifier.claim_due(10) == []  # the claim still holds
    await asyncio.sleep(1.1)
    await second.dispatcher.run_once()

    assert len(first.provider_messages()) == 1
    assert statuses(second, request.request_key) == ["queued", "sent"]


# -- quiet hours ---------------------------------------------------------------------


async def test_a_routine_message_at_night_waits_for_the_morning_then_goes_once(
    world: World,
) -> None:
    world.clock.set(datetime(2026, 11, 24, 23, 30, tzinfo=SEOUL))
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    request = world.request(hh, urgency=Urgency.ROUTINE)

    events = await world.send(request)
    assert [e.status.value for e in events] == ["queued", "queued"]
    assert events[1].reason == "quiet hours: held until 2026-11-24T22:00:00+00:00"
    assert world.provider_messages() == []

    world.clock.set(datetime(2026, 11, 25, 6, 59, tzinfo=SEOUL))
    await world.dispatcher.run_once()
    assert world.provider_messages() == []

    world.clock.set(datetime(2026, 11, 25, 7, 0, tzinfo=SEOUL))
    await world.dispatcher.run_once()
    await world.dispatcher.run_once()
    assert len(world.provider_messages()) == 1
    assert statuses(world, request.request_key) == ["queued", "queued", "sent"]


async def test_a_critical_message_at_night_goes_at_once(world: World) -> None:
    world.clock.set(datetime(2026, 11, 24, 3, 0, tzinfo=SEOUL))
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())

    events = await world.send(world.request(hh, urgency=Urgency.CRITICAL))

    assert len(world.provider_messages()) == 1
    assert [e.status.value for e in events] == ["queued", "sent"]


async def test_the_dispatcher_loop_releases_held_messages_on_the_service_clock(
    world: World,
) -> None:
    world.clock.set(datetime(2026, 11, 24, 23, 30, tzinfo=SEOUL))
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    request = world.request(hh, urgency=Urgency.ROUTINE)
    world.dispatcher.poll_s = 0.02
    stop = asyncio.Event()
    loop = asyncio.create_task(world.dispatcher.run(stop))
    try:
        await world.notifier.accept(request)
        await until(lambda: len(world.statuses(request.request_key)) == 2)
        assert world.provider_messages() == []
        world.clock.set(datetime(2026, 11, 25, 7, 0, tzinfo=SEOUL))
        await until(lambda: len(world.provider_messages()) == 1)
    finally:
        stop.set()
        await loop


# -- contract violations -----------------------------------------------------------


async def test_a_request_that_violates_the_contract_is_refused_and_reported_failed(
    world: World,
) -> None:
    request = world.request(household_id(), template="task.offered", variables={})

    with pytest.raises(RequestRejected, match="undefined"):
        await world.notifier.accept(request)

    [failed] = world.statuses(request.request_key)
    assert failed.status == DeliveryStatus.FAILED
    assert failed.reason is not None and failed.reason.startswith("rejected: ")
    await world.dispatcher.run_once()
    assert world.provider_messages() == []


async def test_a_corrected_replay_of_a_rejected_request_is_sent_once(world: World) -> None:
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    variables = {"office_name": "주민센터", "office_phone": "02-2148-5000"}
    broken = world.request(hh, template="safety_check.visit_notice", variables=variables)
    with pytest.raises(RequestRejected, match="visit_at"):
        await world.notifier.accept(broken)

    fixed = broken.model_copy(update={"variables": {**variables, "visit_at": "2026-11-25T01:00Z"}})
    assert await world.notifier.accept(fixed) is True
    assert await world.notifier.accept(fixed) is False  # and only once
    await world.dispatcher.run_once()

    assert len(world.provider_messages()) == 1
    assert statuses(world, broken.request_key) == ["failed", "queued", "sent"]


# -- receipts ------------------------------------------------------------------------


async def test_a_receipt_that_overtakes_the_send_is_held_and_applied_once(world: World) -> None:
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    request = world.request(hh)
    await world.notifier.accept(request)
    body, headers = signed({"message_id": "m-000001", "status": "delivered"})

    early = await world.post("/v1/receipts/sms", body, headers)
    await world.dispatcher.run_once()
    again = await world.post("/v1/receipts/sms", body, headers)

    assert early.json() == {"result": "held"}
    assert again.json() == {"result": "duplicate"}
    assert statuses(world, request.request_key) == ["queued", "sent", "delivered"]


async def test_a_receipt_and_its_send_that_commit_past_each_other_are_still_applied(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The receipt's transaction finds no delivery with its message id yet (held), and the
    # send's transaction, running beside it, finds no receipt yet: both commit, neither
    # saw the other (PostgreSQL's read committed, or two instances). Played here by
    # letting the send's commit find nothing held.
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    request = world.request(hh)
    await world.notifier.accept(request)
    body, headers = signed({"message_id": "m-000001", "status": "delivered"})
    assert (await world.post("/v1/receipts/sms", body, headers)).json() == {"result": "held"}
    monkeypatch.setattr(NotifierRepository, "held_receipts", lambda self, refs: {})
    monkeypatch.setattr(NotifierRepository, "held_receipt", lambda self, ref: None)
    await world.dispatcher.run_once()
    assert statuses(world, request.request_key) == ["queued", "sent"]
    monkeypatch.undo()

    assert await world.notifier.apply_overtaken_receipts() == 1  # the sweep
    assert await world.notifier.apply_overtaken_receipts() == 0  # once

    assert statuses(world, request.request_key) == ["queued", "sent", "delivered"]
    again = await world.post("/v1/receipts/sms", body, headers)
    assert again.json() == {"result": "duplicate"}


async def test_a_receipt_without_a_valid_signature_is_refused(world: World) -> None:
    body, headers = signed({"message_id": "m-000001", "status": "delivered"}, secret="guess")
    assert (await world.post("/v1/receipts/sms", body, headers)).status_code == 401
    body, headers = signed({"message_id": "m-000001", "status": "delivered"})
    # a provider without a receipt secret: nothing to check the signature with
    assert (await world.post("/v1/receipts/fax", body, headers)).status_code == 401
    headers["X-Anbu-Timestamp"] = str(int(time.time()) - 3600)
    assert (await world.post("/v1/receipts/sms", body, headers)).status_code == 401


async def test_a_gateways_batch_of_receipts_is_applied_in_one_request_each_once(
    world: World,
) -> None:
    keys = []
    for n in range(3):
        hh = household_id()
        world.directory.add(hh, RecipientKind.RESIDENT, resident(f"P-{n}"))
        request = world.request(hh)
        await world.send(request)
        keys.append(request.request_key)
    with world.provider.state.lock:
        sent = [json.loads(body) for body, _ in world.provider.state.pending_receipts]
        world.provider.state.pending_receipts.clear()
    early = {"message_id": "m-999999", "status": "delivered"}  # ahead of its own send
    body, headers = signed([*sent, sent[0], early])

    answer = await world.post("/v1/receipts/sms/batch", body, headers)

    assert answer.status_code == 202, answer.text
    assert answer.json() == {"results": ["applied"] * 3 + ["duplicate", "held"]}
    for key in keys:
        assert statuses(world, key) == ["queued", "sent", "delivered"]
    again = await world.post("/v1/receipts/sms/batch", body, headers)  # the gateway retried
    assert again.json() == {"results": ["duplicate"] * 5}
    forged, headers = signed([early], secret="guess")
    assert (await world.post("/v1/receipts/sms/batch", forged, headers)).status_code == 401
    too_many, headers = signed([early] * 1001)
    assert (await world.post("/v1/receipts/sms/batch", too_many, headers)).status_code == 422


# -- pacing ------------------------------------------------------------------------------


async def test_sends_are_paced_to_the_configured_rate(
    make_world: Any, provider: FakeProvider
) -> None:
    gateway = {
        "base_url": provider.url,
        "api_key": "test-key",
        "sender": "0212345678",
        "rate_per_second": 10,
        "burst": 1,
    }
    world: World = make_world(enabled_channels=["sms"], sms=gateway)
    hh = household_id()
    world.directory.add(
        hh,
        RecipientKind.GUARDIAN,
        *[resident(f"P-{n}", phone=f"010-2222-000{n}") for n in range(4)],
    )

    await world.send(
        world.request(hh, kind=RecipientKind.GUARDIAN, template="safety_check.day1_text")
    )

    times = [at for at, _, _ in world.provider.state.calls]
    assert len(times) == 4
    assert times[-1] - times[0] >= 0.25  # 4 sends at 10/s with a burst of 1: ≥ 0.3 s apart


# -- what operators see --------------------------------------------------------------------


async def test_operators_can_look_up_a_request_without_seeing_an_address(world: World) -> None:
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident(email="kim@example.org"))
    request = world.request(hh)
    await world.send(request)

    refused = await world.get(f"/v1/notifications/{request.request_key}")
    answer = await world.get(
        f"/v1/notifications/{request.request_key}",
        {"Authorization": "Bearer dev-service-token"},
    )

    assert refused.status_code == 401
    assert answer.status_code == 200
    view = answer.json()
    assert view["status"] == "sent"
    assert [(d["person_ref"], d["channel"], d["state"]) for d in view["deliveries"]] == [
        ("P-1", "sms", "sent")
    ]
    assert "5678" not in answer.text and "kim@" not in answer.text


async def test_metrics_count_messages_by_channel_and_status(world: World) -> None:
    def sample(channel: str, status: str) -> float:
        value = REGISTRY.get_sample_value(
            "anbu_notifier_deliveries_total", {"channel": channel, "status": status}
        )
        return value or 0.0

    before = {s: sample("sms", s) for s in ("sent", "retried", "delivered")}
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    world.provider.state.faults.append(Fault(500))
    await world.send(world.request(hh))
    await world.post_receipts()

    assert sample("sms", "retried") - before["retried"] == 1
    assert sample("sms", "sent") - before["sent"] == 1
    assert sample("sms", "delivered") - before["delivered"] == 1


async def test_no_address_or_name_is_ever_handed_to_the_logger(world: World) -> None:
    hh = household_id()
    world.directory.add(
        hh, RecipientKind.RESIDENT, resident(email="kim@example.org", name="김안부")
    )
    world.provider.state.faults.extend([Fault(500), Fault(400, code="invalid_number")])
    with structlog.testing.capture_logs() as logs:
        request = world.request(hh)
        await world.send(request)
        await world.post_receipts()

    text = json.dumps(logs, ensure_ascii=False, default=str)
    assert logs and request.request_key in text
    for personal in ("1234-5678", "01012345678", "kim@example.org", "김안부"):
        assert personal not in text


async def test_the_embedded_console_sink_reports_delivery_at_once(
    make_world: Any, tmp_path: Any
) -> None:
    world: World = make_world(enabled_channels=["console"], default_channel="console")
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident())
    request = world.request(hh)

    events = await world.send(request)

    assert [e.status.value for e in events] == ["queued", "sent", "delivered"]
    assert events[-1].channel == Channel.CONSOLE
    [line] = [json.loads(x) for x in (tmp_path / "sink.jsonl").read_text().splitlines()]
    assert line["request_key"] == request.request_key and line["to"] == "010-****-5678"
    assert world.provider_messages() == []


async def test_a_later_retry_of_a_held_message_resolves_the_address_again(world: World) -> None:
    """Addresses are never stored: a message held overnight is sent to today's number."""
    world.clock.set(datetime(2026, 11, 24, 23, 30, tzinfo=SEOUL))
    hh = household_id()
    world.directory.add(hh, RecipientKind.RESIDENT, resident(phone="010-1234-5678"))
    request = world.request(hh, urgency=Urgency.ROUTINE)
    await world.send(request)

    world.directory.remove_household(hh)
    world.directory.add(hh, RecipientKind.RESIDENT, resident(phone="010-9999-0000"))
    world.clock.advance(timedelta(hours=8))
    await world.dispatcher.run_once()

    [message] = world.provider_messages()
    assert message.to == "01099990000"
