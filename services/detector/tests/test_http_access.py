"""Who may read and act on the detector's alerts and protocols over HTTP.

The application is the one ``bootstrap.create`` builds, on a real database (SQLite and
PostgreSQL); the detector is fed a household snapshot and signals as its consumer would,
and the API is called with tokens of each role. Two households in two districts: staff of
one district see nothing of the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from anbu_contracts import ChannelEnrolment, HouseholdSnapshot, SosSignal
from anbu_contracts.topics import REGISTRY_HOUSEHOLD
from anbu_detector.adapters.orm import metadata
from anbu_detector.bootstrap import DetectorSettings, create
from anbu_runtime.auth import Principal, UserRole, issue_token
from anbu_runtime.batch import Received
from anbu_runtime.clock import ManualClock
from anbu_runtime.settings import CommonSettings

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
SECRET = "detector-http-test-secret-0123456789abcdef"
SERVICE_TOKEN = "detector-http-test-service-token"
MINE = ("HH-JONGNO01", "1111051500")  # Jongno-gu (11110)
OTHER = ("HH-GANGNAM1", "1168064000")  # Gangnam-gu (11680)


@dataclass
class Api:
    client: httpx.AsyncClient
    alerts: dict[str, UUID]  # household → its open alert
    escalations: dict[str, UUID]  # household → its running protocol

    async def get(self, path: str, who: Principal | None, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=_auth(who))


def _auth(who: Principal | None) -> dict[str, str]:
    if who is None:
        return {}
    token = issue_token(SECRET, who, timedelta(minutes=30), datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


def snapshot(household_id: str, dong_code: str) -> HouseholdSnapshot:
    return HouseholdSnapshot(
        occurred_at=T0,
        source="registry",
        household_id=household_id,
        revision=1,
        district_code=dong_code[:5],
        dong_code=dong_code,
        tier="high_risk",  # type: ignore[arg-type]
        channels=[ChannelEnrolment(channel="phone", consent=True)],  # type: ignore[arg-type]
        quiet_hours={"start": "00:00", "end": "00:00"},  # type: ignore[arg-type]
    )


def sos(household_id: str) -> SosSignal:
    return SosSignal(
        occurred_at=T0,
        source="button",
        household_id=household_id,
        partner_id="button-co",
        partner_event_id=str(uuid4()),
        device_id="btn-1",
    )


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    common = CommonSettings(var_dir=tmp_path, auth_secret=SECRET, service_token=SERVICE_TOKEN)
    runtime, app = create(common, DetectorSettings(database_url=database_url), ManualClock(T0))
    runtime.db.create_all(metadata)
    detector = app.state.detector
    detector.timers = None  # protocol steps are not what these tests are about
    records = [
        Received(REGISTRY_HOUSEHOLD.name, 0, offset, event, int(T0.timestamp() * 1000))
        for offset, event in enumerate(
            [snapshot(*MINE), snapshot(*OTHER), sos(MINE[0]), sos(OTHER[0]), sos("HH-NOBODY01")]
        )
    ]
    await detector.handle(records)
    transport = httpx.ASGITransport(app=app)  # no lifespan: no broker, no consumer
    async with httpx.AsyncClient(transport=transport, base_url="http://detector") as client:
        everything = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
        alerts = (await client.get("/v1/alerts", headers=everything)).json()
        running = (await client.get("/v1/escalations", headers=everything)).json()
        yield Api(
            client,
            {a["household_id"]: UUID(a["alert_id"]) for a in alerts},
            {e["household_id"]: UUID(e["escalation_id"]) for e in running},
        )
    runtime.db.dispose()


def person(role: UserRole, dongs: tuple[str, ...] = (), districts: tuple[str, ...] = ()) -> Any:
    return Principal(
        subject=f"u-{role.value}",
        role=role,
        dong_codes=frozenset(dongs),
        district_codes=frozenset(districts),
        worker_id="W-001" if role in (UserRole.FIELD_WORKER, UserRole.VOLUNTEER) else None,
    )


JONGNO_OPERATOR = person(UserRole.OPERATOR, districts=("11110",))
JONGNO_OFFICIAL = person(UserRole.DONG_OFFICIAL, dongs=(MINE[1],))
GANGNAM_OFFICIAL = person(UserRole.DONG_OFFICIAL, dongs=(OTHER[1],))
ADMIN = person(UserRole.ADMIN)


async def test_reads_without_a_valid_token_are_refused(api: Api) -> None:
    mine = MINE[0]
    paths = [
        "/v1/alerts",
        f"/v1/alerts/{api.alerts[mine]}",
        "/v1/escalations",
        f"/v1/escalations/{api.escalations[mine]}",
        f"/v1/households/{mine}/channels",
        "/v1/unknown-households",
    ]
    expired = issue_token(
        SECRET, ADMIN, timedelta(minutes=5), datetime.now(UTC) - timedelta(hours=1)
    )
    forged = issue_token(
        "another-secret-0123456789abcdef0123456789", ADMIN, timedelta(minutes=5), datetime.now(UTC)
    )
    for path in paths:
        assert (await api.client.get(path)).status_code == 401, path
        for token in ("garbage", expired, forged):
            answer = await api.client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401, (path, answer.text)


async def test_office_staff_list_only_the_alerts_and_protocols_of_their_area(api: Api) -> None:
    for who in (JONGNO_OPERATOR, JONGNO_OFFICIAL):
        alerts = (await api.get("/v1/alerts", who)).json()
        assert {a["household_id"] for a in alerts} == {MINE[0]}
        running = (await api.get("/v1/escalations", who)).json()
        assert {e["household_id"] for e in running} == {MINE[0]}
    asked_for_other = await api.get("/v1/alerts", JONGNO_OFFICIAL, household_id=OTHER[0])
    assert asked_for_other.json() == []
    admin_sees = {a["household_id"] for a in (await api.get("/v1/alerts", ADMIN)).json()}
    assert admin_sees == {MINE[0], OTHER[0], "HH-NOBODY01"}


async def test_an_alert_or_protocol_outside_the_callers_area_is_forbidden(api: Api) -> None:
    for path in (
        f"/v1/alerts/{api.alerts[OTHER[0]]}",
        f"/v1/escalations/{api.escalations[OTHER[0]]}",
        f"/v1/households/{OTHER[0]}/channels",
        f"/v1/alerts/{api.alerts['HH-NOBODY01']}",  # never announced: in nobody's area
    ):
        for who in (JONGNO_OPERATOR, JONGNO_OFFICIAL):
            assert (await api.get(path, who)).status_code == 403, path
    for path in (
        f"/v1/alerts/{api.alerts[MINE[0]]}",
        f"/v1/escalations/{api.escalations[MINE[0]]}",
        f"/v1/households/{MINE[0]}/channels",
    ):
        assert (await api.get(path, JONGNO_OPERATOR)).status_code == 200, path
        assert (await api.get(path, JONGNO_OFFICIAL)).status_code == 200, path
        assert (await api.get(path, GANGNAM_OFFICIAL)).status_code == 403, path


async def test_staff_of_another_area_cannot_resolve_an_alert_or_record_an_approval(
    api: Api,
) -> None:
    headers = _auth(GANGNAM_OFFICIAL)
    resolve = await api.client.post(f"/v1/alerts/{api.alerts[MINE[0]]}/resolve", headers=headers)
    assert resolve.status_code == 403
    approval = {"kind": "door_opening", "requested_by": "a", "approved_by": "b", "present": []}
    approve = await api.client.post(
        f"/v1/escalations/{api.escalations[MINE[0]]}/approvals", json=approval, headers=headers
    )
    assert approve.status_code == 403
    still = await api.get(f"/v1/alerts/{api.alerts[MINE[0]]}", JONGNO_OFFICIAL)
    assert still.json()["status"] == "open"
    ok = await api.client.post(
        f"/v1/alerts/{api.alerts[MINE[0]]}/resolve", headers=_auth(JONGNO_OFFICIAL)
    )
    assert ok.status_code == 204


async def test_field_workers_and_volunteers_do_not_read_the_detector(api: Api) -> None:
    for role in (UserRole.FIELD_WORKER, UserRole.VOLUNTEER):
        who = person(role, dongs=(MINE[1],))
        for path in (
            "/v1/alerts",
            "/v1/escalations",
            f"/v1/alerts/{api.alerts[MINE[0]]}",
            f"/v1/households/{MINE[0]}/channels",
        ):
            assert (await api.get(path, who)).status_code == 403, (role, path)


async def test_unknown_households_are_for_admins_and_services_only(api: Api) -> None:
    assert (await api.get("/v1/unknown-households", JONGNO_OPERATOR)).status_code == 403
    rows = (await api.get("/v1/unknown-households", ADMIN)).json()
    assert [r["household_id"] for r in rows] == ["HH-NOBODY01"]
