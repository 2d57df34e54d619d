"""Reporters' reward records (domain brief §8: one district pays 50,000 KRW per valid report,
at most 300,000 KRW per person a year).

A report is *valid* for the reward when it reached the detector as a signal (its household
was found, by the reporter or later by an operator), no operator marked it invalid, and it
is not a repeat: reports by the same reporter about the same household within
``repeat_window_days`` of a counted one count once. Years are calendar years in Korean time.

Valid reports are paid in the order they were submitted until the yearly cap is reached:
those are *payable* (the last one only in part when the cap is not a multiple of the amount
per report); the valid reports after that are *over the cap* and earn nothing that year.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class RewardPolicy:
    per_report_krw: int = 50_000
    yearly_cap_krw: int = 300_000
    repeat_window_days: int = 7

    def __post_init__(self) -> None:
        if self.per_report_krw < 0 or self.yearly_cap_krw < 0 or self.repeat_window_days < 0:
            raise ValueError("reward amounts and windows cannot be negative")


@dataclass(frozen=True)
class ReportFacts:
    """What the reward rule needs to know about one report."""

    reference: str
    reporter_id: str
    household_id: str | None
    submitted_at: datetime
    published: bool
    marked_invalid: bool = False


@dataclass(frozen=True)
class RewardRecord:
    reporter_id: str
    year: int
    reports: int  # every report submitted that year
    valid_reports: int  # reports that count (see the module docstring)
    amount_krw: int  # min(valid × per report, cap)
    capped: bool  # the cap was reached: further valid reports earn nothing this year
    counted: tuple[str, ...]  # references of the valid reports
    payable: tuple[str, ...] = ()  # the valid reports that earn money, in submission order
    over_cap: tuple[str, ...] = ()  # the valid reports after the cap was reached


def report_year(at: datetime) -> int:
    return at.astimezone(KST).year


def yearly_records(
    reports: Iterable[ReportFacts], year: int, policy: RewardPolicy
) -> list[RewardRecord]:
    """Every reporter's record for ``year``, sorted by reporter id."""
    by_reporter: dict[str, list[ReportFacts]] = defaultdict(list)
    for report in reports:
        if report_year(report.submitted_at) == year:
            by_reporter[report.reporter_id].append(report)
    return [
        _record(reporter_id, year, sorted(items, key=lambda r: r.submitted_at), policy)
        for reporter_id, items in sorted(by_reporter.items())
    ]


def _record(
    reporter_id: str, year: int, reports: list[ReportFacts], policy: RewardPolicy
) -> RewardRecord:
    window = timedelta(days=policy.repeat_window_days)
    last_counted: dict[str, datetime] = {}
    counted: list[str] = []
    for report in reports:
        if not report.published or report.marked_invalid or report.household_id is None:
            continue
        previous = last_counted.get(report.household_id)
        if previous is not None and report.submitted_at - previous < window:
            continue
        last_counted[report.household_id] = report.submitted_at
        counted.append(report.reference)
    earned = len(counted) * policy.per_report_krw
    amount = min(earned, policy.yearly_cap_krw)
    payable: list[str] = []
    over_cap: list[str] = []
    remaining = policy.yearly_cap_krw
    for reference in counted:
        pay = min(policy.per_report_krw, remaining)
        if pay > 0 or policy.per_report_krw == 0:
            payable.append(reference)
            remaining -= pay
        else:
            over_cap.append(reference)
    return RewardRecord(
        reporter_id=reporter_id,
        year=year,
        reports=len(reports),
        valid_reports=len(counted),
        amount_krw=amount,
        capped=earned >= policy.yearly_cap_krw and policy.yearly_cap_krw > 0,
        counted=tuple(counted),
        payable=tuple(payable),
        over_cap=tuple(over_cap),
    )
