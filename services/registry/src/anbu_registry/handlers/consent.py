"""Consent per channel (appended, never changed) and the tier history."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from anbu_contracts import (
    ChannelEnrolment,
    HouseholdSnapshot,
    MonitoringChannel,
)
from anbu_runtime.auth import Principal

from ..adapters.orm import (
    ConsentRow,
    TierChangeRow,
)
from ..domain import access
from ..domain.consent import ConsentRecord, apply_consent, current_consent
from ..domain.model import (
    ConsentIn,
)
from .common import Context, actor_name, require
from .households import household_row, publish, snapshot


def record_consent(
    ctx: Context, session: Session, household_id: str, data: ConsentIn, principal: Principal
) -> HouseholdSnapshot:
    """Append a consent record; the channel's flag in the snapshot follows at once."""
    row = household_row(session, household_id)
    require(
        access.can_change_household(principal, row.dong_code),
        f"you cannot record consent for household {household_id}",
    )
    now = ctx.now()
    session.add(
        ConsentRow(
            household_id=household_id,
            channel=data.channel.value,
            given=data.given,
            at=now,
            recorded_by=actor_name(principal),
            form=data.form,
        )
    )
    session.flush()
    history = consent_history(session, household_id)
    row.channels = [
        c.model_dump(mode="json")
        for c in apply_consent(
            [ChannelEnrolment.model_validate(c) for c in row.channels], current_consent(history)
        )
    ]
    ctx.audit(
        session,
        principal,
        "consent.given" if data.given else "consent.withdrawn",
        household_id,
        data.form,
        {"channel": data.channel.value},
    )
    publish(ctx, session, row)
    return snapshot(session, row, now)


def consent_history(session: Session, household_id: str) -> list[ConsentRecord]:
    rows = session.exec(
        select(ConsentRow)
        .where(ConsentRow.household_id == household_id)
        .order_by(col(ConsentRow.id))
    ).all()
    return [
        ConsentRecord(MonitoringChannel(r.channel), r.given, r.at, r.recorded_by, r.form)
        for r in rows
    ]


def tier_history(session: Session, household_id: str) -> Sequence[TierChangeRow]:
    return session.exec(
        select(TierChangeRow)
        .where(TierChangeRow.household_id == household_id)
        .order_by(col(TierChangeRow.id))
    ).all()
