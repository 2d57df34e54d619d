"""Bulk enrolment import: the CSV files districts hand over, streamed with bounded memory.

Rows are validated one by one and written in batches, each batch in one transaction:
all-or-nothing per batch (a batch with any invalid row is written not at all, and the
report names every invalid row with its line number and reasons). ``dry_run`` validates
everything and writes nothing. Progress is reported every ``progress_every`` rows.

A file that cannot be read as CSV at all (bad encoding, a NUL character, broken quoting, a
line or a field over the limits below) stops the import with :class:`MalformedFile`, which
names the line; batches before that line stay written, as with any batch.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

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
# The longest real cell is an address (300 characters); anything near these limits is not a
# household list. Checked here rather than with csv.field_size_limit, which is process-wide;
# the line limit bounds the memory one physical line can take before the csv module sees it.
MAX_FIELD_CHARS = 4_000
MAX_LINE_BYTES = 256 * 1024


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
    """The header line is unfit (missing, unknown or repeated columns); it is line 1."""

    line = 1


class MalformedFile(ValueError):
    """The file is not readable CSV from ``line`` on (1-based, physical lines)."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"line {line}: {detail}")
        self.line = line
        self.detail = detail
        self.report: ImportReport | None = None  # what was done before the bad line


def file_lines(
    binary: IO[bytes], encoding: str = "utf-8-sig", max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[str]:
    """The decoded lines of an upload, each checked before the csv module sees it.

    Decoding line by line names the exact line of a bad byte (a text wrapper decodes in
    chunks). Splitting bytes at ``\n`` is safe for UTF-8 and EUC-KR, whose multi-byte
    characters never contain that byte.
    """
    number = 0
    while True:
        raw = binary.readline(max_line_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_line_bytes:
            raise MalformedFile(number, f"a line is longer than {max_line_bytes:,} bytes")
        try:
            line = raw.decode(encoding if number == 1 else _without_bom(encoding))
        except UnicodeDecodeError as exc:
            raise MalformedFile(
                number, f"not {encoding.removesuffix('-sig').upper()} at byte {exc.start + 1}"
            ) from None
        if "\x00" in line:
            # PostgreSQL text cannot hold NUL, and no household list has one.
            raise MalformedFile(number, "the line contains a NUL character")
        yield line


def _without_bom(encoding: str) -> str:
    return "utf-8" if encoding.lower().replace("_", "-") == "utf-8-sig" else encoding


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


def rows_of(lines: Iterable[str]) -> Iterator[tuple[int, list[str], dict[str, str]]]:
    """``(line, problems, fields)`` per record; ``problems`` name a wrong number of cells.

    Raises :class:`HeaderError` for an unfit header and :class:`MalformedFile` where the
    csv module gives up or a cell is over :data:`MAX_FIELD_CHARS`.
    """
    reader = csv.reader(lines, strict=True)
    try:
        names = next(reader, None)
    except csv.Error as exc:
        raise MalformedFile(max(reader.line_num, 1), f"the header is not CSV: {exc}") from None
    names = [name.strip() for name in names or ()]
    if not any(names):
        raise HeaderError("the first line is empty; it must name the columns")
    _check_cells(reader.line_num, names)
    header = set(names)
    missing = REQUIRED - header
    if missing:
        raise HeaderError(f"the header lacks required columns: {', '.join(sorted(missing))}")
    unknown = header - set(COLUMNS)
    if unknown:
        raise HeaderError(
            f"unknown columns: {', '.join(sorted(unknown))}; expected {', '.join(COLUMNS)}"
        )
    if len(header) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise HeaderError(f"columns named twice: {', '.join(twice)}")
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise MalformedFile(reader.line_num, f"not CSV: {exc}") from None
        if cells is None:
            return
        if not cells:
            continue  # a blank line
        _check_cells(reader.line_num, cells)
        problems = []
        if len(cells) != len(names):
            problems.append(f"row: {len(cells)} cells where the header has {len(names)}")
        yield reader.line_num, problems, dict(zip(names, cells, strict=False))


def _check_cells(line: int, cells: list[str]) -> None:
    if any(len(cell) > MAX_FIELD_CHARS for cell in cells):
        raise MalformedFile(line, f"a cell is longer than {MAX_FIELD_CHARS:,} characters")


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

    def take(line: int, problems: list[str], fields: dict[str, str]) -> None:
        nonlocal batch_errors
        report.rows += 1
        errors = list(problems)
        household: HouseholdIn | None = None
        try:
            household = to_household(fields)
        except ValidationError as exc:
            errors += [
                f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ]
        if household is not None:
            if not access.can_change_household(principal, household.dong_code):
                errors.append(f"dong {household.dong_code} is outside your area")
            if household.household_id:
                if household.household_id in seen:
                    errors.append(f"household {household.household_id} appears twice in the file")
                seen.add(household.household_id)
        if errors or household is None:
            report.invalid += 1
            batch_errors += 1
            _error(report, line, errors)
        else:
            report.valid += 1
            batch.append((line, household))
        if len(batch) + batch_errors >= batch_size:
            flush()
        if progress and report.rows % progress_every == 0:
            progress(report)

    try:
        for line, problems, fields in rows_of(lines):
            take(line, problems, fields)
    except MalformedFile as exc:
        exc.report = report  # the caller says what was written before the bad line
        raise
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
