"""The human safety net's form: invitations, a form that never tells whether anybody is
enrolled, reports that become ``report`` signals carrying only a reference, notes sealed at
rest, operators' review and reward records."""

from __future__ import annotations

import re
import sqlite3
import uuid
from typing import Any

import httpx
import pytest

from anbu_contracts import ReportSignal, SignalKind
from anbu_runtime.processes import Stack

from .conftest import GATEWAY, TOKEN, Registry, eventually

pytestmark = pytest.mark.integration

DONG = "1111051500"  # 청운효자동: the seed's official-515 serves it
OTHER_DONG = "1111053000"  # 사직동: official-530's, outside the invitations below
SERVICE = {"Authorization": f"Bearer {TOKEN}"}


def phone() -> str:
    """A number no seed household and no earlier test uses (the seed uses 010-0000-xxxx)."""
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    return f"010-{digits[:4]}-{digits[4:]}"


async def invite(
    gateway: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await gateway.post(
        "/v1/invitations", json={"reporter_role": "meter_reader", **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def path_of(link: str) -> str:
    return link.removeprefix(GATEWAY)


async def report(
    gateway: httpx.AsyncClient, link: str, **fields: str
) -> tuple[httpx.Response, str | None]:
    form = {
        "action": "submit",
        "lookup_kind": "household_id",
        "urgency": "normal",
        "note": "",
        **fields,
    }
    response = await gateway.post(path_of(link), data=form)
    if response.status_code != 303:
        return response, None
    reference = response.headers["location"].split("/done/")[1].split("?")[0]
    return response, reference


async def published(
    gateway: httpx.AsyncClient, headers: dict[str, str], references: list[str]
) -> None:
    async def all_published() -> bool:
        listed = (await gateway.get("/v1/reports", headers=headers, params={"limit": 500})).json()
        states = {r["reference"]: r["state"] for r in listed}
        return all(states.get(ref) == "published" for ref in references)

    assert await eventually(all_published), references


async def test_only_operators_and_dong_officials_invite_and_only_for_their_area(
    gateway: httpx.AsyncClient, registry: Registry
) -> None:
    official = registry.login("official-515")
    issued = await invite(gateway, official)
    assert issued["dong_codes"] == [DONG]
    assert issued["link"].startswith(f"{GATEWAY}/r/")
    elsewhere = await gateway.post(
        "/v1/invitations",
        json={"reporter_role": "landlord", "dong_codes": ["1111053000"]},
        headers=official,
    )
    assert elsewhere.status_code == 403
    volunteer = registry.login("volunteer-515")
    assert (
        await gateway.post("/v1/invitations", json={"reporter_role": "shop"}, headers=volunteer)
    ).status_code == 403
    assert (
        await gateway.post("/v1/invitations", json={"reporter_role": "shop"})
    ).status_code == 401
    listed = await gateway.get("/v1/invitations", headers=official)
    assert issued["invitation_id"] in [i["invitation_id"] for i in listed.json()]
    assert all("link" not in i for i in listed.json())  # the link is shown once


async def test_the_form_is_korean_by_default_and_english_on_request(
    gateway: httpx.AsyncClient,
) -> None:
    link = (await invite(gateway, SERVICE, dong_codes=[DONG]))["link"]
    korean = await gateway.get(path_of(link))
    assert korean.status_code == 200
    assert '<html lang="ko">' in korean.text and "위기가구 제보" in korean.text
    assert "우편물·고지서 쌓임" in korean.text
    assert korean.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in korean.headers["content-security-policy"]
    assert not re.search(r'(src|href)="https?://', korean.text)  # no external assets
    english = await gateway.get(path_of(link), params={"lang": "en"})
    assert '<html lang="en">' in english.text and "Report a household in crisis" in english.text
    unknown = await gateway.get("/r/not-a-real-token")
    assert unknown.status_code == 404 and "유효하지 않은 초대 링크" in unknown.text


async def test_the_reporter_gets_the_same_answer_for_enrolled_out_of_area_and_unknown_numbers(
    gateway: httpx.AsyncClient, registry: Registry, gateway_stack: Stack, tail: Any
) -> None:
    reports = await tail(SignalKind.REPORT)
    in_area, out_of_area, unknown = phone(), phone(), phone()
    near = registry.household(phone=in_area)
    far = registry.household(phone=out_of_area, dong=OTHER_DONG)
    issued = await invite(gateway, SERVICE, dong_codes=[DONG])
    link = path_of(issued["link"])
    note = f"창문이 깨져 있음 {uuid.uuid4().hex[:6]}"

    answers = []
    references = []
    for number in (in_area, out_of_area, unknown):
        response, reference = await report(
            gateway,
            issued["link"],
            lookup_kind="phone",
            lookup_value=number,
            category="no_response",
            note=note,
        )
        assert reference is not None, response.text
        references.append(reference)
        done = await gateway.get(response.headers["location"])
        answers.append(
            (
                response.status_code,
                response.headers["location"].replace(reference, "REF"),
                done.status_code,
                done.text.replace(reference, "REF"),
            )
        )
    assert answers[0] == answers[1] == answers[2]
    assert DONG not in answers[0][3] and near not in answers[0][3]
    # The old "check" button looks nothing up any more.
    checked = await gateway.post(
        link, data={"action": "check", "lookup_kind": "phone", "lookup_value": in_area}
    )
    assert (
        checked.status_code == 200 and DONG not in checked.text and "찾았습니다" not in checked.text
    )

    # Matching happens server-side: in the area and out of it, the household's own officials
    # get a published report; the unknown number waits, unmatched, with what was typed.
    [near_signal] = await eventually(lambda: reports.signals(household_id=near))
    [far_signal] = await eventually(lambda: reports.signals(household_id=far))
    assert (near_signal.note_ref, far_signal.note_ref) == (references[0], references[1])
    assert await reports.signals(partner_event_id=references[2]) == []
    official = registry.login("official-515")
    detail = (await gateway.get(f"/v1/reports/{references[2]}", headers=official)).json()
    assert (detail["state"], detail["household_id"], detail["address"], detail["note"]) == (
        "unmatched",
        None,
        unknown,
        note,
    )
    far_detail = await gateway.get(
        f"/v1/reports/{references[1]}", headers=registry.login("official-530")
    )
    assert far_detail.status_code == 200 and far_detail.json()["household_id"] == far

    # The registry's audit names the invitation and the household (or none), not the phone.
    def audit(subject: str) -> list[dict[str, Any]]:
        rows = registry.client.get("/v1/audit", params={"subject": subject, "limit": 1000}).json()
        return [r for r in rows if r["detail"].get("invitation") == issued["invitation_id"]]

    [near_audit] = audit(near)
    assert near_audit["actor"] == f"invitation:{issued['invitation_id']}"
    assert near_audit["detail"]["reporter_role"] == "meter_reader"
    assert near_audit["detail"]["matched"] is True
    assert audit(far)[0]["detail"]["matched"] is True
    [missed] = audit("none")
    assert missed["detail"]["matched"] is False
    for row in [near_audit, missed]:
        assert all(n[-4:] not in str(row) for n in (in_area, unknown))
    logged = (gateway_stack.var_dir / "log" / "gateway.log").read_text(errors="replace")
    assert all(n not in logged for n in (note, in_area, out_of_area, unknown))


async def test_notes_and_addresses_are_sealed_at_rest_and_open_for_the_operator(
    gateway: httpx.AsyncClient, registry: Registry, gateway_stack: Stack
) -> None:
    issued = await invite(gateway, SERVICE, dong_codes=[DONG], reporter_role="landlord")
    note = f"2층 세입자가 며칠째 보이지 않음 {uuid.uuid4().hex[:6]}"
    address = f"종로구 자하문로 {uuid.uuid4().int % 1000}길 7"
    response, reference = await report(
        gateway,
        issued["link"],
        lookup_kind="address",
        lookup_value=address,
        category="no_response",
        note=note,
    )
    assert reference is not None, response.text
    database = sqlite3.connect(gateway_stack.var_dir / "data" / "gateway.db")
    try:
        stored = database.execute(
            "SELECT note, address FROM report WHERE reference = ?", (reference,)
        ).fetchone()
    finally:
        database.close()
    assert stored[0].startswith("enc1:") and note not in stored[0]
    assert stored[1].startswith("enc1:") and address not in stored[1]
    official = registry.login("official-515")
    detail = (await gateway.get(f"/v1/reports/{reference}", headers=official)).json()
    assert (detail["note"], detail["address"]) == (note, address)
    logged = (gateway_stack.var_dir / "log" / "gateway.log").read_text(errors="replace")
    assert note not in logged and address not in logged


async def test_a_report_becomes_a_report_signal_that_carries_only_a_reference(
    gateway: httpx.AsyncClient, registry: Registry, tail: Any
) -> None:
    reports = await tail(SignalKind.REPORT)
    household = registry.household(phone=phone())
    issued = await invite(gateway, SERVICE, dong_codes=[DONG], reporter_role="postal_carrier")
    note = "우편함에 고지서가 2주째 쌓여 있고 인기척이 없습니다"
    response, reference = await report(
        gateway,
        issued["link"],
        lookup_value=household,
        category="mail_piling_up",
        urgency="high",
        note=note,
    )
    assert reference is not None, response.text
    done = await gateway.get(response.headers["location"])
    assert reference in done.text and "제보가 접수되었습니다" in done.text
    [signal] = await eventually(lambda: reports.signals(household_id=household))
    assert isinstance(signal, ReportSignal)
    assert (signal.partner_id, signal.partner_event_id, signal.note_ref) == (
        "safety-net",
        reference,
        reference,
    )
    assert (signal.reporter_role, signal.reporter_id) == ("postal_carrier", issued["reporter_id"])
    assert (signal.category, signal.urgency) == ("mail_piling_up", "high")
    raw = b"".join(r.value for r in await reports.read())
    assert note.encode() not in raw  # the free text never travels

    official = registry.login("official-515")
    await published(gateway, official, [reference])
    listed = (await gateway.get("/v1/reports", headers=official, params={"dong_code": DONG})).json()
    assert {"reference": reference, "state": "published"}.items() <= next(
        r for r in listed if r["reference"] == reference
    ).items()
    detail = await gateway.get(f"/v1/reports/{reference}", headers=official)
    assert detail.json()["note"] == note
    other_dong = registry.login("official-530")
    assert (await gateway.get(f"/v1/reports/{reference}", headers=other_dong)).status_code == 404


async def test_an_invalid_form_is_shown_again_with_the_reasons_and_nothing_is_sent(
    gateway: httpx.AsyncClient, tail: Any
) -> None:
    reports = await tail(SignalKind.REPORT)
    link = (await invite(gateway, SERVICE, dong_codes=[DONG]))["link"]
    response, reference = await report(gateway, link, lookup_value="not an id", category="")
    assert reference is None and response.status_code == 422
    assert "걱정되는 점을 골라 주세요" in response.text
    assert await reports.signals(partner_id="safety-net", reporter_id="none") == []


async def test_a_report_by_address_waits_for_an_operator_to_match_it(
    gateway: httpx.AsyncClient, registry: Registry, tail: Any
) -> None:
    reports = await tail(SignalKind.REPORT)
    household = registry.household()
    issued = await invite(gateway, SERVICE, dong_codes=[DONG], reporter_role="shop")
    response, reference = await report(
        gateway,
        issued["link"],
        lookup_kind="address",
        lookup_value="종로구 자하문로 1길 3, 2층",
        category="odour",
    )
    assert reference is not None
    done = await gateway.get(response.headers["location"])
    assert "제보가 접수되었습니다" in done.text
    official = registry.login("official-515")
    unmatched = (
        await gateway.get("/v1/reports", headers=official, params={"state": "unmatched"})
    ).json()
    assert reference in [r["reference"] for r in unmatched]
    assert await reports.signals(partner_event_id=reference) == []
    matched = await gateway.post(
        f"/v1/reports/{reference}/match", json={"household_id": household}, headers=official
    )
    assert matched.status_code == 200 and matched.json()["state"] == "published"
    [signal] = await reports.signals(partner_event_id=reference)
    assert signal.household_id == household and signal.reporter_role == "shop"
    again = await gateway.post(
        f"/v1/reports/{reference}/match", json={"household_id": household}, headers=official
    )
    assert again.status_code == 409


async def test_valid_reports_count_toward_a_yearly_reward_capped_and_operators_can_void_one(
    gateway: httpx.AsyncClient, registry: Registry
) -> None:
    issued = await invite(gateway, SERVICE, dong_codes=[DONG], reporter_role="volunteer")
    references = []
    for _ in range(7):
        household = registry.household()
        _, reference = await report(
            gateway, issued["link"], lookup_value=household, category="no_response"
        )
        assert reference is not None
        references.append(reference)
    _, repeat = await report(gateway, issued["link"], lookup_value=household, category="odour")
    assert repeat is not None  # accepted, but the same household within 7 days counts once

    official = registry.login("official-515")
    await published(gateway, official, [*references, repeat])
    year = int(
        (await gateway.get(f"/v1/reports/{references[0]}", headers=official)).json()[
            "submitted_at"
        ][:4]
    )

    async def record() -> dict[str, Any]:
        body = (await gateway.get("/v1/rewards", params={"year": year}, headers=official)).json()
        assert (body["per_report_krw"], body["yearly_cap_krw"]) == (50_000, 300_000)
        return dict(next(r for r in body["reporters"] if r["reporter_id"] == issued["reporter_id"]))

    capped = await record()
    assert (capped["reports"], capped["valid_reports"], capped["amount_krw"], capped["capped"]) == (
        8,
        7,
        300_000,
        True,
    )
    assert capped["payable"] == references[:6] and capped["over_cap"] == [references[6]]
    for reference in references[:2]:
        voided = await gateway.post(
            f"/v1/reports/{reference}/review",
            json={"valid": False, "reason": "중복 제보"},
            headers=official,
        )
        assert voided.status_code == 200 and voided.json()["marked_invalid"]
    reviewed = await record()
    assert (reviewed["valid_reports"], reviewed["amount_krw"], reviewed["capped"]) == (
        5,
        250_000,
        False,
    )
    volunteer = registry.login("volunteer-515")
    assert (
        await gateway.get("/v1/rewards", params={"year": year}, headers=volunteer)
    ).status_code == 403


async def test_a_withdrawn_invitation_link_stops_working_at_once(
    gateway: httpx.AsyncClient,
) -> None:
    issued = await invite(gateway, SERVICE, dong_codes=[DONG])
    assert (await gateway.get(path_of(issued["link"]))).status_code == 200
    revoked = await gateway.delete(f"/v1/invitations/{issued['invitation_id']}", headers=SERVICE)
    assert revoked.status_code == 204
    assert (await gateway.get(path_of(issued["link"]))).status_code == 404
