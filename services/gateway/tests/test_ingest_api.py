"""The ingest API against the real broker, with keys from a real registry process.

Every assertion about publication reads the topic itself: a record is published when it is
on the topic, and published once when it is there once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
import pytest

from anbu_contracts import SignalKind

from .conftest import GATEWAY, Partner, Registry, household_id, unique

pytestmark = pytest.mark.integration

NDJSON = {"content-type": "application/x-ndjson"}
CSV = {"content-type": "text/csv"}


def call(household: str, pid: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "safety_call",
        "household_id": household,
        "partner_event_id": pid or unique("call-"),
        "occurred_at": "2026-11-25T09:00:00+09:00",
        "outcome": "unanswered",
        **extra,
    }


def ndjson(*docs: Any) -> str:
    return "\n".join(d if isinstance(d, str) else json.dumps(d) for d in docs) + "\n"


ARREARS_HEADER = (
    "household_id,partner_event_id,occurred_at,arrears_type,months_overdue,amount_krw,as_of\n"
)


def arrears_rows(n: int, prefix: str, start: int = 0) -> str:
    return "".join(
        f"{household_id()},{prefix}-{i},2026-11-01T09:00:00+09:00,"
        f"electricity,3,{1000 + i},2026-10-31\n"
        for i in range(start, start + n)
    )


# -- authentication and scope -----------------------------------------------------------


async def test_a_request_without_a_key_or_with_a_wrong_or_revoked_key_is_refused(
    gateway: httpx.AsyncClient, registry: Registry
) -> None:
    body = call(household_id())
    missing = await gateway.post("/v1/signals", json=body)
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["www-authenticate"] == "ApiKey"
    wrong = await gateway.post("/v1/signals", json=body, headers={"X-Api-Key": "anbu_KNOPE_secret"})
    assert wrong.status_code == 401
    partner = registry.partner(["safety_call"])
    assert (
        await gateway.post("/v1/signals", json=body, headers=partner.headers)
    ).status_code == 202
    registry.revoke(partner.key_id)
    await asyncio.sleep(1.2)  # this test gateway trusts a verified key for 1 s
    again = await gateway.post("/v1/signals", json=call(household_id()), headers=partner.headers)
    assert again.status_code == 401, again.text


async def test_a_key_may_send_only_its_partners_kinds(
    gateway: httpx.AsyncClient, registry: Registry, tail: Any
) -> None:
    partner = registry.partner(["safety_call"])
    sos = await tail(SignalKind.SOS)
    household = household_id()
    single = await gateway.post(
        "/v1/signals",
        json={
            "kind": "sos",
            "household_id": household,
            "partner_event_id": unique(),
            "occurred_at": "2026-11-25T09:00:00+09:00",
            "device_id": "btn-1",
        },
        headers=partner.headers,
    )
    assert single.status_code == 403
    assert single.json()["kinds"] == ["sos"] and "sos" in single.json()["detail"]
    batch = await gateway.post(
        "/v1/batches?mode=accept_valid",
        content=ndjson(call(household), {"kind": "sos", "household_id": household}),
        headers={**partner.headers, **NDJSON},
    )
    assert batch.status_code == 403 and batch.json()["lines"] == [2]
    upload = await gateway.post(
        "/v1/files?kind=arrears",
        content=ARREARS_HEADER + arrears_rows(1, unique()),
        headers={**partner.headers, **CSV},
    )
    assert upload.status_code == 403 and upload.json()["kinds"] == ["arrears"]
    assert await sos.signals(household_id=household) == []


async def test_a_partner_cannot_send_in_another_partners_name(
    gateway: httpx.AsyncClient, registry: Registry
) -> None:
    partner = registry.partner(["safety_call"])
    response = await gateway.post(
        "/v1/signals", json=call(household_id(), partner_id="kepco"), headers=partner.headers
    )
    assert response.status_code == 403


# -- rate limits ------------------------------------------------------------------------


async def test_records_count_against_the_partners_rate_limit(
    gateway: httpx.AsyncClient, registry: Registry
) -> None:
    partner = registry.partner(["safety_call"], rate_limit_per_minute=6)
    household = household_id()
    batch = await gateway.post(
        "/v1/batches",
        content=ndjson(*(call(household) for _ in range(4))),
        headers={**partner.headers, **NDJSON},
    )
    assert batch.status_code == 202 and batch.json()["accepted"] == 4
    # 2 tokens are left: a 3-line batch does not fit, a single signal does.
    refused = await gateway.post(
        "/v1/batches",
        content=ndjson(*(call(household) for _ in range(3))),
        headers={**partner.headers, **NDJSON},
    )
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["type"].endswith("/rate-limited")
    assert (
        await gateway.post("/v1/signals", json=call(household), headers=partner.headers)
    ).status_code == 202
    too_big = await gateway.post(
        "/v1/batches",
        content=ndjson(*(call(household) for _ in range(7))),
        headers={**partner.headers, **NDJSON},
    )
    assert too_big.status_code == 413  # more records than the limit allows in a minute


# -- idempotency ------------------------------------------------------------------------


async def test_a_resent_signal_or_batch_is_accepted_once_and_published_once(
    gateway: httpx.AsyncClient, registry: Registry, tail: Any
) -> None:
    partner = registry.partner(["safety_call"])
    calls = await tail(SignalKind.SAFETY_CALL)
    household = household_id()
    body = call(household)
    first = await gateway.post("/v1/signals", json=body, headers=partner.headers)
    again = await gateway.post("/v1/signals", json=body, headers=partner.headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["outcome"] == "duplicate"
    assert first.json()["event_id"] == again.json()["event_id"]

    batch = ndjson(body, call(household), call(household))
    one = (
        await gateway.post("/v1/batches", content=batch, headers={**partner.headers, **NDJSON})
    ).json()
    two = (
        await gateway.post("/v1/batches", content=batch, headers={**partner.headers, **NDJSON})
    ).json()
    assert [r["outcome"] for r in one["results"]] == ["duplicate", "accepted", "accepted"]
    assert [r["outcome"] for r in two["results"]] == ["duplicate"] * 3

    published = await calls.signals(household_id=household)
    assert len(published) == 3
    assert Counter(s.partner_event_id for s in published).most_common(1)[0][1] == 1
    assert all(s.partner_id == partner.partner_id for s in published)


async def test_a_reused_partner_event_id_with_other_content_is_refused(
    gateway: httpx.AsyncClient, registry: Registry
) -> None:
    partner = registry.partner(["safety_call"])
    body = call(household_id())
    assert (
        await gateway.post("/v1/signals", json=body, headers=partner.headers)
    ).status_code == 202
    changed = await gateway.post(
        "/v1/signals", json={**body, "outcome": "unreachable"}, headers=partner.headers
    )
    assert changed.status_code == 409
    assert changed.json()["type"].endswith("/reused-partner-event-id")


# -- mixed batches ----------------------------------------------------------------------


async def test_a_mixed_batch_is_refused_whole_or_its_valid_lines_accepted_by_choice(
    gateway: httpx.AsyncClient, registry: Registry, tail: Any
) -> None:
    partner = registry.partner(["safety_call"])
    calls = await tail(SignalKind.SAFETY_CALL)
    household = household_id()
    lines = ndjson(
        call(household),
        call(household, outcome="maybe"),
        "",
        "{broken",
        call(household),
    )
    whole = await gateway.post("/v1/batches", content=lines, headers={**partner.headers, **NDJSON})
    assert whole.status_code == 422
    problem = whole.json()
    assert problem["records"] == 4 and problem["rejected"] == 2
    assert [(p["line"], p["type"].rsplit("/", 1)[1]) for p in problem["rejected_records"]] == [
        (2, "invalid-signal"),
        (4, "invalid-json"),
    ]
    assert any("outcome" in e["location"] for e in problem["rejected_records"][0]["errors"])
    assert await calls.signals(household_id=household) == []

    partial = await gateway.post(
        "/v1/batches?mode=accept_valid", content=lines, headers={**partner.headers, **NDJSON}
    )
    assert partial.status_code == 202
    report = partial.json()
    assert (report["accepted"], report["rejected"]) == (2, 2)
    assert [p["line"] for p in report["rejected_records"]] == [2, 4]
    published = await calls.signals(household_id=household)
    assert sorted(str(s.event_id) for s in published) == sorted(
        r["event_id"] for r in report["results"] if r["outcome"] == "accepted"
    )


async def test_a_large_batch_read_in_a_worker_reports_lines_duplicates_and_reused_ids(
    gateway: httpx.AsyncClient, registry: Registry, tail: Any
) -> None:
    """Bodies of 4 KiB and more are read in a worker process; a reused id in an
    all_or_nothing batch is refused in the transaction that would have reserved it."""
    partner = registry.partner(["safety_call"])
    calls = await tail(SignalKind.SAFETY_CALL)
    household = household_id()
    sent, changed = call(household), call(household)
    for body in (sent, changed):
        assert (
            await gateway.post("/v1/signals", json=body, headers=partner.headers)
        ).status_code == 202
    fresh = [call(household) for _ in range(30)]
    reused = {**changed, "outcome": "unreachable"}  # other content under a published id
    batch = ndjson(fresh[0], reused, *fresh[1:])
    assert len(batch.encode()) >= 4096  # the worker's path (adapters/ndjson_bodies.py)

    whole = await gateway.post("/v1/batches", content=batch, headers={**partner.headers, **NDJSON})
    assert whole.status_code == 422
    problem = whole.json()
    assert (problem["records"], problem["rejected"]) == (31, 1)
    assert [(p["line"], p["type"].rsplit("/", 1)[1]) for p in problem["rejected_records"]] == [
        (2, "reused-partner-event-id")
    ]
    # nothing was reserved either: the same batch without the reused id is accepted whole
    without = ndjson(*fresh)
    accepted = await gateway.post(
        "/v1/batches", content=without, headers={**partner.headers, **NDJSON}
    )
    assert accepted.status_code == 202 and accepted.json()["accepted"] == 30

    repeat = {**fresh[1], "outcome": "unreachable"}  # repeats line 2's id, other content
    mixed = ndjson(
        sent, fresh[0], "{broken", call(household), fresh[1], repeat, *fresh[2:], call(household)
    )
    partial = await gateway.post(
        "/v1/batches?mode=accept_valid", content=mixed, headers={**partner.headers, **NDJSON}
    )
    assert partial.status_code == 202
    report = partial.json()
    outcomes = {r["line"]: (r["outcome"], r["detail"]) for r in report["results"]}
    assert outcomes[1] == ("duplicate", "already accepted")
    assert outcomes[2] == ("duplicate", "already accepted")
    assert outcomes[4][0] == "accepted" and outcomes[35][0] == "accepted"
    assert [(p["line"], p["type"].rsplit("/", 1)[1]) for p in report["rejected_records"]] == [
        (3, "invalid-json"),
        (6, "reused-partner-event-id"),
    ]
    assert (report["records"], report["accepted"], report["rejected"]) == (35, 2, 2)
    published = await calls.signals(household_id=household)
    assert len(published) == 2 + 30 + 2
    assert Counter(s.partner_event_id for s in published).most_common(1)[0][1] == 1


# -- files ------------------------------------------------------------------------------


async def upload(
    gateway: httpx.AsyncClient, partner: Partner, data: bytes, query: str, **headers: str
) -> httpx.Response:
    return await gateway.post(
        f"/v1/files?{query}", content=data, headers={**partner.headers, **CSV, **headers}
    )


async def test_a_file_is_published_once_and_a_resent_file_is_the_same_submission(
    gateway: httpx.AsyncClient, registry: Registry, tail: Any
) -> None:
    partner = registry.partner(["arrears"])
    arrears = await tail(SignalKind.ARREARS)
    jobs = await tail("ops.job.v1")
    prefix = unique("a")
    data = (ARREARS_HEADER + arrears_rows(1800, prefix)).encode()
    first = await upload(gateway, partner, data, "kind=arrears&wait=60")
    assert first.status_code == 202, first.text
    status = first.json()
    assert status["state"] == "completed"
    assert (status["rows"], status["accepted"], status["published"]) == (1800, 1800, 1800)
    assert first.headers["location"] == f"/v1/submissions/{status['submission_id']}"
    # its progress went out for the console (through the outbox: it may trail the answer)
    progress: list[Any] = []
    for _ in range(100):
        progress = await jobs.signals(job_id=status["submission_id"])
        if progress and progress[-1].finished:
            break
        await asyncio.sleep(0.2)
    assert progress[0].state in ("validating", "processing") and not progress[0].finished
    last = progress[-1]
    assert (last.state, last.succeeded, last.rows, last.progress, last.eta_seconds) == (
        "completed",
        True,
        1800,
        1.0,
        None,
    )
    assert (last.partner_id, last.detail, last.kind.value) == (
        partner.partner_id,
        "arrears",
        "partner_file",
    )

    again = await upload(gateway, partner, data, "kind=arrears&wait=60")
    assert again.status_code == 200 and again.json()["submission_id"] == status["submission_id"]

    published = [s for s in await arrears.signals(partner_id=partner.partner_id)]
    assert len(published) == 1800
    assert len({s.partner_event_id for s in published}) == 1800

    # The same rows in other bytes (another export): a new submission of duplicates.
    reordered = (ARREARS_HEADER + "".join(reversed(data.decode().splitlines(True)[1:]))).encode()
    third = (await upload(gateway, partner, reordered, "kind=arrears&wait=60")).json()
    assert third["submission_id"] != status["submission_id"]
    assert (third["accepted"], third["duplicates"]) == (0, 1800)
    assert len(await arrears.signals(partner_id=partner.partner_id)) == 1800

    view = await gateway.get(f"/v1/submissions/{status['submission_id']}", headers=partner.headers)
    assert view.status_code == 200 and view.json()["published"] == 1800
    stranger = registry.partner(["arrears"])
    hidden = await gateway.get(
        f"/v1/submissions/{status['submission_id']}", headers=stranger.headers
    )
    assert hidden.status_code == 404


async def test_a_truncated_file_reports_its_cut_row_and_publishes_only_whole_rows(
    gateway: httpx.AsyncClient, registry: Registry, tail: Any
) -> None:
    partner = registry.partner(["arrears"])
    arrears = await tail(SignalKind.ARREARS)
    prefix = unique("t")
    whole = ARREARS_HEADER + arrears_rows(700, prefix)
    cut = whole + f"{household_id()},{prefix}-cut,2026-11-01T09:00:00+09:00,electri"
    refused = await upload(gateway, partner, cut.encode(), "kind=arrears&wait=60")
    assert refused.status_code == 422  # all_or_nothing (the default): nothing published
    problem = refused.json()
    assert problem["rejected_rows"][0]["line"] == 702
    assert problem["rejected_rows"][0]["type"].endswith("/truncated-record")
    assert await arrears.signals(partner_id=partner.partner_id) == []

    accepted = await upload(
        gateway, partner, cut.encode(), "kind=arrears&mode=accept_valid&wait=60"
    )
    status = accepted.json()
    assert (status["state"], status["accepted"], status["rejected"]) == ("completed", 700, 1)
    assert status["rejected_rows"][0]["line"] == 702

    unclosed = ARREARS_HEADER + arrears_rows(3, unique("u")) + f'{household_id()},x-1,"2026-11-01\n'
    report = (
        await upload(gateway, partner, unclosed.encode(), "kind=arrears&mode=accept_valid&wait=60")
    ).json()
    assert (report["accepted"], report["rejected"]) == (3, 1)
    assert report["rejected_rows"][0]["line"] == 5
    assert "never closed" in report["rejected_rows"][0]["detail"]
    assert len(await arrears.signals(partner_id=partner.partner_id)) == 703


async def test_an_euc_kr_file_is_read_as_korean_and_a_wrongly_declared_one_is_refused(
    gateway: httpx.AsyncClient, registry: Registry, tail: Any
) -> None:
    partner = registry.partner(["blind_spot"])
    rounds = await tail(SignalKind.BLIND_SPOT)
    header = "household_id,partner_event_id,occurred_at,round_id,reasons,due_date\n"
    rows = "".join(
        f"{household_id()},{unique('b')},2026-11-01T09:00:00+09:00,"
        "2026-6,단전;건강보험료 체납,2026-12-31\n"
        for _ in range(40)
    )
    euc_kr = (header + rows).encode("euc-kr")
    detected = (await upload(gateway, partner, euc_kr, "kind=blind_spot&wait=60")).json()
    assert (detected["encoding"], detected["encoding_detected"]) == ("cp949", True)
    assert detected["accepted"] == 40
    published = await rounds.signals(partner_id=partner.partner_id)
    assert {tuple(s.reasons) for s in published} == {("단전", "건강보험료 체납")}

    # (the same bytes and mode again would be the finished submission: another mode here)
    wrong = await upload(
        gateway, partner, euc_kr, "kind=blind_spot&mode=accept_valid&encoding=utf-8"
    )
    assert wrong.status_code == 422
    assert wrong.json()["type"].endswith("/undecodable-file") and wrong.json()["line"] == 2
    charset = await upload(
        gateway,
        partner,
        euc_kr,
        "kind=blind_spot&mode=accept_valid&wait=60",
        **{"content-type": "text/csv; charset=euc-kr"},
    )
    assert charset.json()["encoding_detected"] is False and charset.json()["duplicates"] == 40


async def test_a_file_with_a_bad_header_is_refused_at_once(
    gateway: httpx.AsyncClient, registry: Registry
) -> None:
    partner = registry.partner(["mail_uncollected"])
    data = b"household_id,partner_event_id,occurred_at,days_uncollected,resident_phone\n"
    response = await upload(
        gateway,
        partner,
        data + b"HH-AAAAAA,m-1,2026-11-01T09:00:00+09:00,9,010\n",
        "kind=mail_uncollected",
    )
    assert response.status_code == 422
    assert "resident_phone" in response.json()["detail"]


async def test_a_multipart_upload_works_like_a_raw_one(
    registry: Registry, gateway_stack: Any
) -> None:
    partner = registry.partner(["mail_uncollected"])
    data = "household_id,partner_event_id,occurred_at,days_uncollected\n" + "".join(
        f"{household_id()},{unique('m')},2026-11-01T09:00:00+09:00,9\n" for _ in range(5)
    )
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=60) as client:
        response = await client.post(
            "/v1/files?kind=mail_uncollected&wait=30",
            files={"file": ("post.csv", data.encode(), "text/csv")},
            headers=partner.headers,
        )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 5
