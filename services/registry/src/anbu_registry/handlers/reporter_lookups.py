"""The household behind what a safety-net reporter typed (the gateway's call, audited).

A reporter holding an invitation names a household by its id or by a resident's phone
number. The gateway asks here on the reporter's behalf; the answer goes to the gateway only
(the reporter is never told whether anybody was found). Every lookup leaves one audit row
naming the invitation, the reporter's role and the household found (or ``none``); a phone
number appears there only as its blind index, never in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..adapters.orm import HouseholdRow
from ..adapters.repository import UoW
from .common import audit

LookupKind = Literal["phone", "household_id"]


@dataclass(frozen=True)
class ReporterMatch:
    household_id: str | None  # None: nobody, or several households share the phone
    dong_code: str | None
    candidates: int


def look_up(
    uow: UoW,
    *,
    invitation_id: str,
    reporter_role: str,
    lookup_kind: LookupKind,
    value: str,
) -> ReporterMatch:
    """The one household ``value`` names, and an audit row of the lookup."""
    detail: dict[str, object] = {
        "invitation": invitation_id,
        "reporter_role": reporter_role,
        "lookup_kind": lookup_kind,
    }
    if lookup_kind == "phone":
        index = uow.repos.cipher.blind_index(value, kind="phone")
        detail["phone_index"] = index  # ties repeated lookups of one number together
        rows = list(uow.repos.households_by_phone(index, limit=2))
    else:
        row = uow.session.get(HouseholdRow, value)
        rows = [row] if row is not None else []
    # Several households sharing a number is no match: an operator decides which one.
    found = rows[0] if len(rows) == 1 else None
    detail["matched"] = found is not None
    detail["candidates"] = len(rows)
    audit(
        uow,
        f"invitation:{invitation_id}",
        "household.reporter_lookup",
        found.household_id if found is not None else "none",
        "safety-net report",
        detail,
    )
    return ReporterMatch(
        found.household_id if found is not None else None,
        found.dong_code if found is not None else None,
        len(rows),
    )
