"""The registry's repository bundle: what a handler reaches through ``uow.repos``.

The queries the handlers share live here, over the unit of work's session; handlers add
and change rows through ``uow.session`` and stage events with ``uow.publish``. The bundle
also carries the registry's :class:`Context` (the PII cipher and the wall clock), which is
no part of the unit of work but every handler that seals or opens personal data needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, delete, select, update

from anbu_runtime.db import bulk_insert
from anbu_runtime.outbox import install
from anbu_runtime.uow import UnitOfWork

from ..domain.cases import OPEN_STATES, ServiceType
from ..handlers.common import Context, NotFound
from .copy_text import copy_in
from .orm import (
    ApiKeyRow,
    AuditRow,
    CaseEventRow,
    CaseRow,
    ConsentRow,
    ConsultationRow,
    HouseholdImportRow,
    HouseholdRow,
    LinkageRow,
    LoginThrottleRow,
    PartnerRow,
    PersonRow,
    TaskGrantRow,
    TierChangeRow,
    UserRow,
    WorkerRow,
    metadata,
)
from .pii import PiiCipher

install(metadata)  # the outbox table add_import_batch writes to


class ImportRows(Protocol):
    """Rows of one import batch, by table (handlers/import_batches.py's ``Tables``)."""

    def by_table(self) -> list[tuple[str, list[dict[str, Any]]]]: ...


@runtime_checkable
class ImportCopy(Protocol):
    """The same as COPY text formatted by the import's workers (``CopyTables``)."""

    blocks: list[tuple[str, list[str], bytes]]


class Repositories:
    def __init__(self, session: Session, ctx: Context) -> None:
        self.session = session
        self.ctx = ctx

    @property
    def cipher(self) -> PiiCipher:
        return self.ctx.cipher

    def wall_clock(self) -> datetime:
        """Security times (tokens, login locks) follow the wall clock, not the service's."""
        return self.ctx.wall_clock()

    # -- households -----------------------------------------------------------------------

    def has_household(self, household_id: str) -> bool:
        return self.session.get(HouseholdRow, household_id) is not None

    def any_household(self) -> bool:
        return self.session.exec(select(HouseholdRow.household_id).limit(1)).first() is not None

    def household(self, household_id: str) -> HouseholdRow:
        row = self.session.get(HouseholdRow, household_id)
        if row is None:
            raise NotFound(f"household {household_id} not found")
        return row

    def relations(self, household_id: str) -> set[str]:
        """The relations of the people on file (the snapshot's *_on_file flags)."""
        return set(
            self.session.exec(
                select(PersonRow.relation).where(PersonRow.household_id == household_id)
            )
        )

    def people(self, household_id: str, relation: str | None = None) -> Sequence[PersonRow]:
        query = select(PersonRow).where(PersonRow.household_id == household_id)
        if relation is not None:
            query = query.where(PersonRow.relation == relation)
        return self.session.exec(query).all()

    def households_by_phone(self, phone_index: str, limit: int) -> Sequence[HouseholdRow]:
        owners = select(PersonRow.household_id).where(PersonRow.phone_index == phone_index)
        return self.session.exec(
            select(HouseholdRow).where(col(HouseholdRow.household_id).in_(owners)).limit(limit)
        ).all()

    def existing_households(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` are households already (an import refuses to overwrite them)."""
        if not ids:
            return set()
        return set(
            self.session.exec(
                select(HouseholdRow.household_id).where(col(HouseholdRow.household_id).in_(ids))
            )
        )

    def consent_history(self, household_id: str) -> Sequence[ConsentRow]:
        return self.session.exec(
            select(ConsentRow)
            .where(ConsentRow.household_id == household_id)
            .order_by(col(ConsentRow.id))
        ).all()

    def tier_history(self, household_id: str) -> Sequence[TierChangeRow]:
        return self.session.exec(
            select(TierChangeRow)
            .where(TierChangeRow.household_id == household_id)
            .order_by(col(TierChangeRow.id))
        ).all()

    def add_import_batch(self, tables: ImportRows | ImportCopy) -> None:
        """An import's batch with one bulk statement a table (COPY on PostgreSQL).

        The batch's snapshots come already serialised as outbox rows, written in the
        import's worker processes by
        :class:`~anbu_registry.adapters.snapshot_json.SnapshotWriter` (the bytes
        :func:`~anbu_runtime.outbox.outbox_row` makes from the contract model):
        ``uow.publish_many`` would serialise them here, in the one process that writes,
        and costs the import about a quarter more CPU
        (docs/registry.md). This is the registry's one path into the outbox that is not
        ``uow.publish``; the import wakes the relay when the batch committed. On PostgreSQL
        the rows come as COPY text, formatted in the workers too.
        """
        if isinstance(tables, ImportCopy):
            for name, columns, text in tables.blocks:
                copy_in(self.session, metadata.tables[name], columns, text)
            return
        for name, rows in tables.by_table():
            bulk_insert(self.session, metadata.tables[name], rows)

    # -- cases ----------------------------------------------------------------------------

    def case(self, case_id: str) -> CaseRow:
        row = self.session.get(CaseRow, case_id)
        if row is None:
            raise NotFound(f"case {case_id} not found")
        return row

    def open_cases_of(self, household_id: str) -> Sequence[CaseRow]:
        return self.session.exec(
            select(CaseRow).where(
                CaseRow.household_id == household_id,
                col(CaseRow.state).in_([s.value for s in OPEN_STATES]),
            )
        ).all()

    def case_history(self, case_id: str) -> Sequence[CaseEventRow]:
        return self.session.exec(
            select(CaseEventRow)
            .where(CaseEventRow.case_id == case_id)
            .order_by(col(CaseEventRow.id))
        ).all()

    def cases(
        self, *, state: str | None, dong_code: str | None, limit: int, offset: int
    ) -> Sequence[CaseRow]:
        query = select(CaseRow)
        if state:
            query = query.where(CaseRow.state == state)
        if dong_code:
            query = query.where(CaseRow.dong_code == dong_code)
        return self.session.exec(
            query.order_by(col(CaseRow.opened_at).desc()).offset(offset).limit(limit)
        ).all()

    def emergency_aid_grants(self, household_id: str) -> list[tuple[str, Any]]:
        """(crisis reason, granted on) of the household's emergency aid so far."""
        granted = self.session.exec(
            select(LinkageRow.crisis_reason, LinkageRow.granted_on).where(
                LinkageRow.household_id == household_id,
                LinkageRow.service == ServiceType.EMERGENCY_AID.value,
                col(LinkageRow.granted_on).is_not(None),
            )
        ).all()
        return [(reason or "", on) for reason, on in granted if on is not None]

    # -- the consultation log ---------------------------------------------------------------

    def has_consultation(self, source_key: str) -> bool:
        return (
            self.session.exec(
                select(ConsultationRow.entry_id).where(ConsultationRow.source_key == source_key)
            ).first()
            is not None
        )

    def consultations_of(self, household_id: str, limit: int) -> Sequence[ConsultationRow]:
        return self.session.exec(
            select(ConsultationRow)
            .where(ConsultationRow.household_id == household_id)
            .order_by(col(ConsultationRow.at).desc())
            .limit(limit)
        ).all()

    def consultations_in(
        self, dong_code: str, start: datetime, end: datetime
    ) -> Sequence[ConsultationRow]:
        return self.session.exec(
            select(ConsultationRow)
            .join(HouseholdRow, col(HouseholdRow.household_id) == col(ConsultationRow.household_id))
            .where(HouseholdRow.dong_code == dong_code)
            .where(ConsultationRow.at >= start, ConsultationRow.at < end)
            .order_by(col(ConsultationRow.at))
        ).all()

    # -- task grants (a team's access to personal data) ---------------------------------------

    def task_grant(self, task_id: UUID, worker_id: str) -> TaskGrantRow | None:
        return self.session.get(TaskGrantRow, (task_id, worker_id))

    def open_task_grants(self, task_id: UUID) -> Sequence[TaskGrantRow]:
        return self.session.exec(
            select(TaskGrantRow).where(
                TaskGrantRow.task_id == task_id, col(TaskGrantRow.revoked_at).is_(None)
            )
        ).all()

    def open_grant(self, worker_id: str, household_id: str) -> TaskGrantRow | None:
        return self.session.exec(
            select(TaskGrantRow).where(
                TaskGrantRow.worker_id == worker_id,
                TaskGrantRow.household_id == household_id,
                col(TaskGrantRow.revoked_at).is_(None),
            )
        ).first()

    # -- staff, accounts, partners, imports -----------------------------------------------------

    def worker(self, worker_id: str) -> WorkerRow:
        row = self.session.get(WorkerRow, worker_id)
        if row is None:
            raise NotFound(f"worker {worker_id} not found")
        return row

    def workers(self, *, active_only: bool = False) -> Sequence[WorkerRow]:
        query = select(WorkerRow).order_by(col(WorkerRow.worker_id))
        if active_only:
            query = query.where(WorkerRow.active == True)  # noqa: E712
        return self.session.exec(query).all()

    def user_named(self, username: str) -> UserRow | None:
        return self.session.exec(select(UserRow).where(UserRow.username == username)).first()

    def locked_throttle(self, key: str) -> LoginThrottleRow:
        """The failure count of ``key`` (made if new), locked until the transaction ends so
        that registry instances counting at once agree."""
        insert = (
            pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        self.session.execute(
            insert(LoginThrottleRow.__table__)  # type: ignore[attr-defined]
            .values(key=key, failures=0, lockouts=0)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        return self.session.exec(
            select(LoginThrottleRow)
            .where(LoginThrottleRow.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()

    def forget_throttles(self, *, failed_before: datetime, now: datetime) -> int:
        """Delete the failure counts last failed before ``failed_before`` and not locked."""
        result = self.session.exec(
            delete(LoginThrottleRow)
            .where(col(LoginThrottleRow.last_failure_at) < failed_before)
            .where(
                col(LoginThrottleRow.locked_until).is_(None)
                | (col(LoginThrottleRow.locked_until) <= now)
            )
        )
        return int(result.rowcount or 0)

    def users(self) -> Sequence[UserRow]:
        return self.session.exec(select(UserRow).order_by(col(UserRow.username))).all()

    def partners(self) -> Sequence[PartnerRow]:
        return self.session.exec(select(PartnerRow).order_by(col(PartnerRow.partner_id))).all()

    def api_keys_of(self, partner_id: str) -> Sequence[ApiKeyRow]:
        return self.session.exec(select(ApiKeyRow).where(ApiKeyRow.partner_id == partner_id)).all()

    def audit_log(self, subject: str | None, limit: int) -> Sequence[AuditRow]:
        """The newest ``limit`` audit entries, of ``subject`` if given."""
        query = select(AuditRow).order_by(col(AuditRow.id).desc()).limit(limit)
        if subject:
            query = query.where(AuditRow.subject == subject)
        return self.session.exec(query).all()

    def household_import(self, import_id: str) -> HouseholdImportRow | None:
        return self.session.get(HouseholdImportRow, import_id)

    def running_imports(self, *, updated_before: datetime) -> Sequence[HouseholdImportRow]:
        return self.session.exec(
            select(HouseholdImportRow).where(
                col(HouseholdImportRow.state) == "running",
                col(HouseholdImportRow.updated_at) < updated_before,
            )
        ).all()

    def update_import(self, import_id: str, values: dict[str, Any]) -> None:
        """One small UPDATE of an import's progress (a batch writes thousands of rows)."""
        self.session.exec(
            update(HouseholdImportRow)
            .where(col(HouseholdImportRow.import_id) == import_id)
            .values(**values)
        )


UoW = UnitOfWork[Repositories]
