"""The CSV column mapping for every signal kind.

A file carries one kind (named by the upload, not by a column). The first line is a header
naming the columns, in any order, case-insensitive. Every file has ``household_id``,
``partner_event_id`` and ``occurred_at``; each kind adds its own columns below. Empty
optional cells are left out. List columns hold values separated by ``;``. A column that is
not in the mapping refuses the file: unknown columns are how personal data (a name, a phone
number) would ride along.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from anbu_contracts import SignalKind

COMMON_REQUIRED = ("household_id", "partner_event_id", "occurred_at")
COMMON_OPTIONAL = ("correlation_id",)
LIST_SEPARATOR = ";"


@dataclass(frozen=True)
class KindColumns:
    kind: SignalKind
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    lists: frozenset[str] = frozenset()
    example: tuple[str, ...] = ()

    @property
    def all_required(self) -> tuple[str, ...]:
        return COMMON_REQUIRED + self.required

    @property
    def all_columns(self) -> tuple[str, ...]:
        return COMMON_REQUIRED + self.required + COMMON_OPTIONAL + self.optional


COLUMNS: dict[SignalKind, KindColumns] = {
    c.kind: c
    for c in (
        KindColumns(
            SignalKind.ARREARS,
            ("arrears_type", "months_overdue", "amount_krw", "as_of"),
            example=("electricity", "3", "182000", "2026-10-31"),
        ),
        KindColumns(SignalKind.DISCONNECTION, ("utility", "state"), example=("power", "cut")),
        KindColumns(
            SignalKind.USAGE_DROP,
            ("utility",),
            ("drop_ratio", "window_days", "daily_usage"),
            example=("power",),
        ),
        KindColumns(
            SignalKind.SAFETY_CALL,
            ("outcome",),
            ("concerns", "caller"),
            lists=frozenset({"concerns"}),
            example=("unanswered",),
        ),
        KindColumns(
            SignalKind.HEARTBEAT,
            ("channel", "device_id", "last_active_at"),
            ("activity",),
            example=("smart_plug", "plug-0042", "2026-11-24T21:10:00+09:00"),
        ),
        KindColumns(
            SignalKind.REPORT,
            ("reporter_role", "reporter_id", "category"),
            ("urgency", "note_ref"),
            example=("meter_reader", "R-0001", "mail_piling_up"),
        ),
        KindColumns(SignalKind.SOS, ("device_id",), ("trigger",), example=("btn-0007",)),
        KindColumns(
            SignalKind.BLIND_SPOT,
            ("round_id", "reasons", "due_date"),
            lists=frozenset({"reasons"}),
            example=("2026-6", "electricity_arrears;health_insurance_arrears", "2026-12-31"),
        ),
        KindColumns(
            SignalKind.HOSPITAL_DISCHARGE,
            ("discharge_date",),
            ("needs",),
            lists=frozenset({"needs"}),
            example=("2026-11-30",),
        ),
        KindColumns(
            SignalKind.HOSPITAL_ADMISSION,
            ("admitted_on",),
            ("expected_discharge",),
            example=("2026-11-20",),
        ),
        KindColumns(
            SignalKind.DEVICE_STATUS,
            ("channel", "device_id", "status", "since"),
            example=("phone", "phone-0042", "offline", "2026-11-24T21:10:00+09:00"),
        ),
        KindColumns(SignalKind.MAIL_UNCOLLECTED, ("days_uncollected",), example=("9",)),
        KindColumns(
            SignalKind.WATER_METER,
            ("meter_id", "hours_without_flow", "litres_last_24h"),
            ("baseline_litres_per_day",),
            example=("wm-0042", "30", "0"),
        ),
    )
}


class HeaderError(ValueError):
    """The header line does not fit the kind's columns; the whole file is refused."""


@dataclass(frozen=True)
class Header:
    """A checked header: which cell index holds which column."""

    kind: KindColumns
    names: tuple[str, ...]
    # the header's list and series columns, whose cells are converted; the others' cells
    # are taken as they stand (found once per file, not per cell: this runs for every row)
    special: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        special = self.kind.lists | {"daily_usage"}
        object.__setattr__(self, "special", tuple(n for n in self.names if n in special))

    @property
    def width(self) -> int:
        return len(self.names)

    def body(self, cells: Sequence[str]) -> dict[str, Any]:
        """The signal body of one row (``cells`` must have the header's width)."""
        # built at C speed (a header has no repeated column); empty cells are left out
        body: dict[str, Any] = dict(zip(self.names, map(str.strip, cells), strict=True))
        if "" in body.values():
            body = {name: value for name, value in body.items() if value}
        for name in self.special:
            value = body.get(name)
            if value is None:
                continue
            if name in self.kind.lists:
                body[name] = [v.strip() for v in value.split(LIST_SEPARATOR) if v.strip()]
            else:
                body[name] = _daily_usage(value)
        return body


def _daily_usage(value: str) -> list[dict[str, str]] | str:
    """``2026-11-01:3.2;2026-11-02:0.4`` → the contract's series (left as text if malformed,
    so that validation names the column)."""
    series: list[dict[str, str]] = []
    for item in value.split(LIST_SEPARATOR):
        item = item.strip()
        if not item:
            continue
        day, sep, amount = item.partition(":")
        if not sep:
            return value
        series.append({"day": day.strip(), "value": amount.strip()})
    return series


def parse_header(kind: SignalKind, cells: Sequence[str]) -> Header:
    """Check a header line against ``kind``'s columns; raise :class:`HeaderError` if unfit."""
    columns = COLUMNS[kind]
    names = tuple(c.strip().lstrip("\ufeff").lower() for c in cells)
    problems: list[str] = []
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        problems.append(f"repeated columns: {', '.join(repeated)}")
    missing = [c for c in columns.all_required if c not in names]
    if missing:
        problems.append(f"missing required columns: {', '.join(missing)}")
    unknown = [n for n in names if n not in columns.all_columns]
    if unknown:
        problems.append(
            f"unknown columns: {', '.join(n or '(empty)' for n in unknown)} "
            "(files may not carry other data)"
        )
    if problems:
        raise HeaderError(
            f"the header does not fit kind {kind.value}: {'; '.join(problems)}. "
            f"Columns: {', '.join(columns.all_required)} (required), "
            f"{', '.join(COMMON_OPTIONAL + columns.optional)} (optional)"
        )
    return Header(columns, names)
