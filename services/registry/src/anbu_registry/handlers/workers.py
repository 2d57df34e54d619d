"""Staff and volunteers: roles, areas, skills, shifts and duty rosters, load limits."""

from __future__ import annotations

from datetime import datetime

from anbu_contracts import DutySlot, Role, WeeklyShift, WorkerSnapshot
from anbu_contracts.topics import REGISTRY_WORKER
from anbu_runtime.auth import Principal, UserRole

from ..adapters.orm import WorkerRow
from ..adapters.repository import Repositories, UoW
from ..domain.identifiers import new_worker_id
from ..domain.model import WorkerChange, WorkerIn
from .common import SOURCE, Conflict, audit, require


def snapshot(row: WorkerRow, now: datetime) -> WorkerSnapshot:
    return WorkerSnapshot(
        occurred_at=now,
        produced_at=now,
        source=SOURCE,
        worker_id=row.worker_id,
        revision=row.revision,
        roles=[Role(r) for r in row.roles],
        dong_codes=row.dong_codes,
        languages=row.languages,
        skills=row.skills,
        shifts=[WeeklyShift.model_validate(s) for s in row.shifts],
        duty=[DutySlot.model_validate(d) for d in row.duty],
        max_open_tasks=row.max_open_tasks,
        active=row.active,
    )


def _may_manage(principal: Principal, dongs: list[str]) -> bool:
    return principal.has_role(UserRole.OPERATOR, UserRole.DONG_OFFICIAL) and all(
        principal.sees_dong(d) for d in dongs
    )


def register(uow: UoW, data: WorkerIn, principal: Principal) -> str:
    require(_may_manage(principal, data.dong_codes), "you cannot register staff for these dongs")
    worker_id = data.worker_id or new_worker_id()
    if uow.session.get(WorkerRow, worker_id) is not None:
        raise Conflict(f"worker {worker_id} already exists")
    cipher = uow.repos.cipher
    row = WorkerRow(
        worker_id=worker_id,
        roles=[r.value for r in data.roles],
        dong_codes=data.dong_codes,
        languages=data.languages,
        skills=data.skills,
        shifts=[s.model_dump(mode="json") for s in data.shifts],
        duty=[d.model_dump(mode="json") for d in data.duty],
        max_open_tasks=data.max_open_tasks,
        name_enc=cipher.seal(data.name, context="worker.name"),
        phone_enc=cipher.seal(data.phone, context="worker.phone") if data.phone else None,
        phone_index=cipher.blind_index(data.phone, kind="phone") if data.phone else None,
        email_enc=cipher.seal(str(data.email), context="worker.email") if data.email else None,
        locale=data.locale.value,
        preferred_channel=data.preferred_channel.value,
    )
    uow.session.add(row)
    uow.session.flush()
    audit(uow, principal, "worker.create", worker_id, "registration")
    uow.publish(REGISTRY_WORKER, snapshot(row, uow.now))
    return worker_id


def change(uow: UoW, worker_id: str, data: WorkerChange, principal: Principal) -> WorkerSnapshot:
    row = uow.repos.worker(worker_id)
    require(_may_manage(principal, row.dong_codes), f"you cannot change worker {worker_id}")
    changes = data.model_dump(exclude_unset=True, mode="json")
    for name, value in changes.items():
        setattr(row, name, value)
    row.revision += 1
    uow.session.add(row)
    audit(uow, principal, "worker.change", worker_id, "roster", {"fields": sorted(changes)})
    uow.publish(REGISTRY_WORKER, snapshot(row, uow.now))
    return snapshot(row, uow.now)


def listing(
    repos: Repositories,
    now: datetime,
    principal: Principal,
    *,
    dong_code: str | None,
    role: Role | None,
    limit: int,
    offset: int,
) -> list[WorkerSnapshot]:
    rows = repos.workers()
    found = [
        r
        for r in rows
        if (principal.is_admin or any(principal.sees_dong(d) for d in r.dong_codes))
        and (dong_code is None or dong_code in r.dong_codes)
        and (role is None or role.value in r.roles)
    ]
    return [snapshot(r, now) for r in found[offset : offset + limit]]


def get(repos: Repositories, worker_id: str, now: datetime) -> WorkerSnapshot:
    return snapshot(repos.worker(worker_id), now)
