"""Every case action stages one registry.case.v1 event in the outbox, with codes only."""

from __future__ import annotations

from sqlmodel import Session, select

from anbu_contracts import CaseEvent, CaseLevel, CaseState, LinkedService
from anbu_registry.adapters.orm import metadata
from anbu_registry.domain import cases as domain
from anbu_runtime.db import Database
from anbu_runtime.outbox import install

from .conftest import Registry

DONG_A, DONG_B = "1111051500", "1111053000"  # 청운효자동, 사직동


def staged(registry: Registry, household_id: str) -> list[tuple[bytes, CaseEvent]]:
    """Case events waiting in the outbox for ``household_id`` (no broker in these tests)."""
    db: Database = registry.client.app.state.runtime.db  # type: ignore[attr-defined]
    outbox = install(metadata).outbox
    with Session(db.engine) as session:
        rows = session.execute(
            select(outbox.c.key, outbox.c.value)
            .where(outbox.c.topic == "registry.case.v1")
            .order_by(outbox.c.id)
        ).all()
    found = [(bytes(key), CaseEvent.model_validate_json(value)) for key, value in rows]
    return [(key, e) for key, e in found if e.household_id == household_id]


def changes(registry: Registry, household_id: str) -> list[str]:
    return [e.change.value for _, e in staged(registry, household_id)]


def test_every_case_action_stages_exactly_one_event_with_its_change(registry: Registry) -> None:
    household = registry.household(DONG_A)
    official = registry.login("official-515")
    opened = registry.client.post("/v1/cases", headers=official, json={"household_id": household})
    case_id = opened.json()["id"]
    assert changes(registry, household) == ["discovered"]

    def act(path: str, body: dict[str, object], expected: list[str]) -> CaseEvent:
        before = len(staged(registry, household))
        response = registry.client.post(f"/v1/cases/{case_id}/{path}", headers=official, json=body)
        assert response.status_code in (200, 201, 204), response.text
        events = staged(registry, household)[before:]
        assert [e.change.value for _, e in events] == expected
        return events[-1][1] if events else None  # type: ignore[return-value]

    act("transitions", {"to": "counselling"}, ["progressed"])
    act("transitions", {"to": "crisis_confirmed"}, ["progressed"])
    event = act("transitions", {"to": "opened", "level": "high_difficulty"}, ["opened"])
    assert event.level is CaseLevel.HIGH_DIFFICULTY and event.state is CaseState.OPENED
    assert event.from_state is CaseState.CRISIS_CONFIRMED
    act("assessments", {"domain": "housing", "severity": 3, "summary": "arrears"}, [])
    act("transitions", {"to": "assessed"}, ["progressed"])
    act("transitions", {"to": "planned"}, ["progressed"])
    event = act("linkages", {"service": "food", "provider": "종로 푸드뱅크"}, ["services_linked"])
    assert event.services == [LinkedService.FOOD] and event.state is CaseState.PLANNED
    event = act(
        "transitions",
        {"to": "closed", "reason": "김시험 moved in with her son", "closure": "moved_away"},
        ["closed"],
    )
    assert event.closure_reason is not None and event.closure_reason.value == "moved_away"

    published = staged(registry, household)
    assert {key for key, _ in published} == {household.encode()}  # keyed by household
    assert {e.case_id for _, e in published} == {case_id}
    assert {e.dong_code for _, e in published} == {DONG_A}
    raw = "".join(e.model_dump_json() for _, e in published)
    assert "김시험" not in raw and "푸드뱅크" not in raw  # the worker's words stay in the registry


def test_a_case_closed_with_only_free_text_publishes_other(registry: Registry) -> None:
    household = registry.household(DONG_A)
    official = registry.login("official-515")
    case_id = registry.client.post(
        "/v1/cases", headers=official, json={"household_id": household}
    ).json()["id"]
    closed = registry.client.post(
        f"/v1/cases/{case_id}/transitions",
        headers=official,
        json={"to": "closed", "reason": "no crisis found on the visit"},
    )
    assert closed.status_code == 200
    _, event = staged(registry, household)[-1]
    assert event.change.value == "closed"
    assert event.closure_reason is not None and event.closure_reason.value == "other"


def test_a_household_moving_dong_transfers_its_open_case(registry: Registry) -> None:
    household = registry.household(DONG_A)
    official = registry.login("official-515")
    registry.client.post("/v1/cases", headers=official, json={"household_id": household})
    moved = registry.client.patch(
        f"/v1/households/{household}",
        headers=registry.service,
        json={"dong_code": DONG_B, "reason": "moved"},
    )
    assert moved.status_code == 200, moved.text
    assert changes(registry, household) == ["discovered", "transferred"]
    _, event = staged(registry, household)[-1]
    assert (event.from_dong_code, event.dong_code) == (DONG_A, DONG_B)


def test_the_registry_and_the_contract_share_the_case_vocabulary() -> None:
    # The adapter maps by value: a state, level or service added on one side only would
    # fail at publication time, so it fails here first.
    assert {s.value for s in domain.CaseState} == {s.value for s in CaseState}
    assert {s.value for s in domain.CaseLevel} == {s.value for s in CaseLevel}
    assert {s.value for s in domain.ServiceType} == {s.value for s in LinkedService}
