"""The partners' periodic files: monthly arrears and disconnections (the 5th), the power
company's weekly usage drops (Mondays) and the national blind-spot round (the 20th of
even months)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from anbu_contracts import ArrearsType, DisconnectionState, SignalKind, Utility

from .crises import CrisisKind
from .household_day import HouseholdState
from .observations import Emitter
from .partners import ARREARS_PARTNER, MONTHLY_BILL_KRW, UTILITY_OF, Partner
from .population import HouseholdProfile


def partner_files(
    out: Emitter, states: list[HouseholdState], day: date, day_start: datetime
) -> None:
    if day.day == 5:
        _arrears_files(out, states, day, day_start)
    if day.weekday() == 0:
        _usage_drops(out, states, day_start)
    if day.day == 20 and day.month % 2 == 0:
        _blind_spot_round(out, states, day, day_start)


def _arrears_files(
    out: Emitter, states: list[HouseholdState], day: date, day_start: datetime
) -> None:
    rng = out.rng
    at = day_start + timedelta(hours=9)
    as_of = day.replace(day=1)
    for state in states:
        profile = state.profile
        crisis = state.crisis
        for account in accounts(profile):
            months = state.arrears.get(account, 0)
            collapsed = (
                crisis is not None
                and crisis.kind is CrisisKind.FINANCIAL_COLLAPSE
                and crisis.onset <= at
                and account in crisis.arrears_types
            )
            if collapsed and crisis is not None:
                months = max(1, (at - crisis.onset).days // 30 + 1)
            else:
                months = habitual(months, profile, rng)
            state.arrears[account] = months
            if months < 1:
                continue
            deliver = at + timedelta(minutes=rng.uniform(0, 240))
            out.emit(
                SignalKind.ARREARS,
                profile.household_id,
                ARREARS_PARTNER[account],
                at,
                deliver,
                {
                    "arrears_type": account,
                    "months_overdue": months,
                    "amount_krw": months * MONTHLY_BILL_KRW[account],
                    "as_of": as_of,
                },
            )
            utility = UTILITY_OF.get(account)
            if utility is None:
                continue
            state_now: DisconnectionState | None = None
            if months == 2:
                state_now = DisconnectionState.PENDING
            elif months >= 4 and utility not in state.cut:
                state_now = DisconnectionState.CUT
                state.cut.add(utility)
            if state_now is not None:
                out.emit(
                    SignalKind.DISCONNECTION,
                    profile.household_id,
                    ARREARS_PARTNER[account],
                    at,
                    deliver,
                    {"utility": utility, "state": state_now},
                )
            if months == 0:
                state.cut.discard(utility)


def _usage_drops(out: Emitter, states: list[HouseholdState], day_start: datetime) -> None:
    """The power company's weekly drop computation: 7 days against the 28 before."""
    rng = out.rng
    at = day_start + timedelta(hours=6)
    for state in states:
        usage = state.usage
        if len(usage) < 35:
            continue
        series = list(usage)
        base = sum(series[:28]) / 28
        recent = sum(series[28:]) / 7
        if base <= 0:
            continue
        ratio = max(0.0, 1 - recent / base)
        if ratio < 0.5:
            continue
        out.emit(
            SignalKind.USAGE_DROP,
            state.profile.household_id,
            Partner.KEPCO,
            at,
            at + timedelta(minutes=rng.uniform(0, 60)),
            {"utility": Utility.POWER, "drop_ratio": round(ratio, 3), "window_days": 7},
        )


def _blind_spot_round(
    out: Emitter, states: list[HouseholdState], day: date, day_start: datetime
) -> None:
    """The national list: households with 3+ months of arrears as of the last files."""
    rng = out.rng
    at = day_start + timedelta(hours=10)
    round_id = f"{day.year}-{day.month // 2}"
    due = day + timedelta(days=30)
    for state in states:
        reasons = sorted(
            f"{account.value}_arrears" for account, months in state.arrears.items() if months >= 3
        )
        if state.cut:
            reasons.append("disconnection")
        if not reasons and rng.random() < 0.002:
            reasons = ["health_insurance_loss"]
        if not reasons:
            continue
        out.emit(
            SignalKind.BLIND_SPOT,
            state.profile.household_id,
            Partner.SSIS,
            at,
            at + timedelta(minutes=rng.uniform(0, 120)),
            {"round_id": round_id, "reasons": reasons, "due_date": due},
        )


def accounts(profile: HouseholdProfile) -> list[ArrearsType]:
    accounts = [
        ArrearsType.ELECTRICITY,
        ArrearsType.WATER,
        ArrearsType.GAS,
        ArrearsType.TELECOM,
        ArrearsType.HEALTH_INSURANCE,
    ]
    if profile.landlord_on_file:
        accounts.append(ArrearsType.RENT)
    return accounts


def habitual(months: int, profile: HouseholdProfile, rng: random.Random) -> int:
    """A month of a household's usual paying: miss one more, catch up, or stay behind."""
    if rng.random() < profile.arrears_prone:
        return months + 1
    return 0 if rng.random() < 0.8 else months
