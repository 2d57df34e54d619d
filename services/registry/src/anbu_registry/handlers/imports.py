"""Bulk enrolment import: the CSV files districts hand over, streamed with bounded memory.

Rows are validated one by one and written in batches, each batch in one transaction:
all-or-nothing per batch (a batch with any invalid row is written not at all, and the
report names every invalid row with its line number and reasons). ``dry_run`` validates
everything and writes nothing. Progress is reported every ``progress_every`` rows.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from anbu_contracts import HouseholdSnapshot, QuietHours
from anbu_contracts.topics import REGISTRY_HOUSEHOLD
from anbu_runtime.auth import Principal
from anbu_runtime.db import Database, bulk_insert

from ..adapters.orm import ConsentRow, HouseholdRow, PersonRow, TierChangeRow
from ..domain import access
from ..domain.identifiers import new_household_id, new_person_id
from ..domain.model import HouseholdIn, Relation
from .common import SOURCE, Context, actor_name

COLUMNS = [
    "household_id",
    "district_code",
    "dong_code",
    "tier",
    "tier_reason",
    "channels",
    "consent_form",
    "medical_aid",
    "violence_risk",
    "responsible_worker_id",
    "address",
    "resident_name",
    "resident_phone",
    "guardian_name",
    "guardian_phone",
    "landlord_name",
    "landlord_phone",
]
REQUIRED = {"district_code", "dong_code", "tier"}
MAX_REPORTED_ERRORS = 1000


@dataclass
class RowError:
    line: int
    errors: list[str]


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    imported: int = 0
    batches: int = 0
    batches_rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_truncated: bool = False


class HeaderError(ValueError):
    pass


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "y", "예", "o"}


def to_household(fields: dict[str, str]) -> HouseholdIn:
    """One CSV row as a validated household (raises ValidationError)."""

    def cell(name: str) -> str | None:
        value = (fields.get(name) or "").strip()
        return value or None

    people: list[dict[str, Any]] = []
    for relation in ("resident", "guardian", "landlord"):
        name, phone = cell(f"{relation}_name"), cell(f"{relation}_phone")
        if name:
            people.append({"relation": relation, "name": name, "phone": phone})
    channels = [c for c in (cell("channels") or "").replace(",", ";").split(";") if c.strip()]
    return HouseholdIn.model_validate(
        {
            "household_id": cell("household_id"),
            "district_code": cell("district_code"),
            "dong_code": cell("dong_code"),
            "tier": cell("tier"),
            "tier_reason": cell("tier_reason") or "bulk import",
            "channels": [{"channel": c.strip(), "consent": True} for c in channels],
            "consent_form": cell("consent_form"),
            "medical_aid": _flag(fields.get("medical_aid") or ""),
            "violence_risk": _flag(fields.get("violence_risk") or ""),
            "responsible_worker_id": cell("responsible_worker_id"),
            "address": cell("address"),
            "people": people,
        }
    )


def rows_of(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(lines)
    header = set(reader.fieldnames or ())
    missing = REQUIRED - header
    if missing:
        raise HeaderError(f"the header lacks required columns: {', '.join(sorted(missing))}")
    unknown = header - set(COLUMNS)
    if unknown:
        raise HeaderError(
            f"unknown columns: {', '.join(sorted(unknown))}; expected {', '.join(COLUMNS)}"
        )
    for fields in reader:
        yield reader.line_num, fields


def run_import(
    ctx: Context,
    db: Database,
    lines: Iterable[str],
    principal: Principal,
    *,
    dry_run: bool = False,
    batch_size: int = 1000,
    progress: Callable[[ImportReport], None] | None = None,
    progress_every: int = 10_000,
) -> ImportReport:
    """Import households from CSV ``lines`` (synchronous: run it off the event loop)."""
    report = ImportReport(dry_run=dry_run)
    batch: list[tuple[int, HouseholdIn]] = []
    batch_errors = 0
    seen: set[str] = set()

    def flush() -> None:
        nonlocal batch, batch_errors
        if not batch and not batch_errors:
            return
        report.batches += 1
        if batch_errors:
            report.batches_rejected += 1
        elif not dry_run:
            with db.session() as session:
                clashes = _existing(session, [h.household_id for _, h in batch if h.household_id])
                if clashes:
                    report.batches_rejected += 1
                    for line, household in batch:
                        if household.household_id in clashes:
                            _error(
                                report, line, [f"household {household.household_id} already exists"]
                            )
                    session.rollback()
                else:
                    write_batch(ctx, session, [h for _, h in batch], principal)
                    report.imported += len(batch)
        batch, batch_errors = [], 0

    for line, fields in rows_of(lines):
        report.rows += 1
        try:
            household = to_household(fields)
            errors = []
            if not access.can_change_household(principal, household.dong_code):
                errors.append(f"dong {household.dong_code} is outside your area")
            if household.household_id:
                if household.household_id in seen:
                    errors.append(f"household {household.household_id} appears twice in the file")
                seen.add(household.household_id)
            if errors:
                raise ValueError("; ".join(errors))
        except ValidationError as exc:
            report.invalid += 1
            batch_errors += 1
            _error(
                report,
                line,
                [
                    f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}"
                    for e in exc.errors(include_url=False)
                ],
            )
        except ValueError as exc:
            report.invalid += 1
            batch_errors += 1
            _error(report, line, [str(exc)])
        else:
            report.valid += 1
            batch.append((line, household))
        if len(batch) + batch_errors >= batch_size:
            flush()
        if progress and report.rows % progress_every == 0:
            progress(report)
    flush()
    if progress:
        progress(report)
    return report


def _error(report: ImportReport, line: int, errors: list[str]) -> None:
    if len(report.errors) < MAX_REPORTED_ERRORS:
        report.errors.append(RowError(line=line, errors=errors))
    else:
        report.errors_truncated = True


def _existing(session: Session, ids: list[str | None]) -> set[str]:
    wanted = [i for i in ids if i]
    if not wanted:
        return set()
    return set(
        session.exec(
            select(HouseholdRow.household_id).where(col(HouseholdRow.household_id).in_(wanted))
        )
    )


def write_batch(
    ctx: Context, session: Session, households: list[HouseholdIn], principal: Principal
) -> None:
    """Insert a batch with bulk statements: households, people, tiers, consents, snapshots."""
    now = ctx.now()
    actor = actor_name(principal)
    cipher = ctx.cipher
    house_rows: list[dict[str, Any]] = []
    people: list[dict[str, Any]] = []
    tiers: list[dict[str, Any]] = []
    consents: list[dict[str, Any]] = []
    snapshots: list[HouseholdSnapshot] = []
    for data in households:
        household_id = data.household_id or new_household_id()
        channels = [c.model_dump(mode="json") for c in data.channels]
        house_rows.append(
            {
                "household_id": household_id,
                "revision": 1,
                "district_code": data.district_code,
                "dong_code": data.dong_code,
                "timezone": data.timezone,
                "tier": data.tier.value,
                "tier_reason": data.tier_reason,
                "status": "active",
                "suspended_until": None,
                "suspension_reason": None,
                "channels": channels,
                "quiet_start": data.quiet_start,
                "quiet_end": data.quiet_end,
                "programme": data.programme,
                "rule_overrides": {},
                "medical_aid": data.medical_aid,
                "violence_risk": data.violence_risk,
                "responsible_worker_id": data.responsible_worker_id,
                "matched_volunteer_id": data.matched_volunteer_id,
                "locale": data.locale.value,
                "address_enc": (
                    cipher.seal(data.address, context="household.address") if data.address else None
                ),
                "address_index": (
                    cipher.blind_index(data.address, kind="address") if data.address else None
                ),
                "created_at": now,
                "updated_at": now,
            }
        )
        for person in data.people:
            phone = person.phone
            people.append(
                {
                    "person_id": new_person_id(),
                    "household_id": household_id,
                    "relation": person.relation.value,
                    "name_enc": cipher.seal(person.name, context="person.name"),
                    "phone_enc": cipher.seal(phone, context="person.phone") if phone else None,
                    "phone_index": cipher.blind_index(phone, kind="phone") if phone else None,
                    "email_enc": None,
                    "rrn_index": None,
                    "locale": person.locale.value,
                    "preferred_channel": person.preferred_channel.value,
                    "contact_hours": None,
                }
            )
        tiers.append(
            {
                "household_id": household_id,
                "tier": data.tier.value,
                "reason": data.tier_reason or "bulk import",
                "changed_by": actor,
                "at": now,
            }
        )
        consents.extend(
            {
                "household_id": household_id,
                "channel": c.channel.value,
                "given": c.consent,
                "at": now,
                "recorded_by": actor,
                "form": data.consent_form or "bulk import",
            }
            for c in data.channels
        )
        relations = {p.relation for p in data.people}
        snapshots.append(
            HouseholdSnapshot(
                occurred_at=now,
                produced_at=now,
                source=SOURCE,
                household_id=household_id,
                revision=1,
                district_code=data.district_code,
                dong_code=data.dong_code,
                timezone=data.timezone,
                tier=data.tier,
                channels=data.channels,
                quiet_hours=QuietHours(start=data.quiet_start, end=data.quiet_end),
                programme=data.programme,
                medical_aid=data.medical_aid,
                violence_risk=data.violence_risk,
                landlord_on_file=Relation.LANDLORD in relations,
                guardians_on_file=Relation.GUARDIAN in relations,
                responsible_worker_id=data.responsible_worker_id,
                matched_volunteer_id=data.matched_volunteer_id,
                locale=data.locale,
            )
        )
    # COPY on PostgreSQL; the ORM's per-object path is an order of magnitude slower here.
    bulk_insert(session, HouseholdRow.__table__, house_rows)  # type: ignore[attr-defined]
    bulk_insert(session, PersonRow.__table__, people)  # type: ignore[attr-defined]
    bulk_insert(session, TierChangeRow.__table__, tiers)  # type: ignore[attr-defined]
    bulk_insert(session, ConsentRow.__table__, consents)  # type: ignore[attr-defined]
    ctx.outbox.add_many(session, REGISTRY_HOUSEHOLD, snapshots)
    ctx.audit(
        session,
        principal,
        "household.import",
        f"batch:{len(households)}",
        "bulk enrolment",
        {"first": house_rows[0]["household_id"], "count": len(households)},
    )
