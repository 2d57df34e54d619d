"""Consent per channel (appended, never changed) and the tier history."""

from __future__ import annotations

from anbu_contracts import (
    ChannelEnrolment,
    HouseholdSnapshot,
    MonitoringChannel,
)
from anbu_runtime.auth import Principal

from ..adapters.orm import (
    ConsentRow,
)
from ..adapters.repository import Repositories, UoW
from ..domain import access
from ..domain.consent import ConsentRecord, apply_consent, current_consent
from ..domain.model import (
    ConsentIn,
)
from .common import actor_name, audit, require
from .households import publish, snapshot


def record_consent(
    uow: UoW, household_id: str, data: ConsentIn, principal: Principal
) -> HouseholdSnapshot:
    """Append a consent record; the channel's flag in the snapshot follows at once."""
    row = uow.repos.household(household_id)
    require(
        access.can_change_household(principal, row.dong_code),
        f"you cannot record consent for household {household_id}",
    )
    now = uow.now
    uow.session.add(
        ConsentRow(
            household_id=household_id,
            channel=data.channel.value,
            given=data.given,
            at=now,
            recorded_by=actor_name(principal),
            form=data.form,
        )
    )
    uow.session.flush()
    history = consent_history(uow.repos, household_id)
    row.channels = [
        c.model_dump(mode="json")
        for c in apply_consent(
            [ChannelEnrolment.model_validate(c) for c in row.channels], current_consent(history)
        )
    ]
    audit(
        uow,
        principal,
        "consent.given" if data.given else "consent.withdrawn",
        household_id,
        data.form,
        {"channel": data.channel.value},
    )
    publish(uow, row)
    return snapshot(uow.repos, row, now)


def consent_history(repos: Repositories, household_id: str) -> list[ConsentRecord]:
    rows = repos.consent_history(household_id)
    return [
        ConsentRecord(MonitoringChannel(r.channel), r.given, r.at, r.recorded_by, r.form)
        for r in rows
    ]
