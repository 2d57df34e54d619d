"""Operators' side of the reporter form: invitations, reports, review and reward records.

People authenticate with their registry login token (roles operator and dong_official see
their area; admin and services see all).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from anbu_contracts import ReportCategory, ReporterRole, ReportUrgency
from anbu_runtime.auth import Caller
from anbu_runtime.problems import Problem

from ..adapters.orm import InvitationRow, ReportRow
from ..adapters.registry_client import RegistryClient
from ..domain.reports import INVITED_ROLES, LookupResult, ReportState
from ..handlers.report_access import Conflict, NotAllowed, NotFound
from ..handlers.reports import SafetyNet

HouseholdId = Annotated[str, Field(pattern=r"^HH-[0-9A-Z]{6,26}$")]
Reference = Annotated[str, Path(max_length=32)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InvitationIn(_In):
    reporter_role: ReporterRole = Field(
        description="One of the human safety net's roles (not hotline or self)."
    )
    reporter_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{2,63}$",
        description="Pseudonymous reporter id (never a name); generated when left out.",
    )
    dong_codes: list[Annotated[str, Field(pattern=r"^\d{10}$")]] = Field(
        default_factory=list, max_length=50, description="The reporter's area; default: yours."
    )
    valid_days: int = Field(default=365, ge=1, le=730)


class InvitationView(BaseModel):
    invitation_id: str
    reporter_id: str
    reporter_role: str
    dong_codes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: InvitationRow) -> InvitationView:
        return cls.model_validate(row, from_attributes=True)


class InvitationIssued(InvitationView):
    link: str = Field(description="The reporter's link. Shown once: only its digest is kept.")


class ReportView(BaseModel):
    reference: str
    reporter_id: str
    reporter_role: str
    household_id: str | None
    dong_code: str | None
    category: ReportCategory
    urgency: ReportUrgency
    state: ReportState
    submitted_at: datetime
    marked_invalid: bool
    review_reason: str | None

    @classmethod
    def of(cls, row: ReportRow, state: ReportState) -> ReportView:
        return cls(
            reference=row.reference,
            reporter_id=row.reporter_id,
            reporter_role=row.reporter_role,
            household_id=row.household_id,
            dong_code=row.dong_code,
            category=ReportCategory(row.category),
            urgency=ReportUrgency(row.urgency),
            state=state,
            submitted_at=row.submitted_at,
            marked_invalid=row.marked_invalid,
            review_reason=row.review_reason,
        )


class ReportDetail(ReportView):
    note: str = Field(description="The reporter's free text (this read is recorded).")
    address: str | None = Field(description="The address typed when no household was found.")


class ReviewIn(_In):
    valid: bool
    reason: str = Field(default="", max_length=300)


class MatchIn(_In):
    household_id: HouseholdId


class RewardView(BaseModel):
    reporter_id: str
    year: int
    reports: int
    valid_reports: int
    amount_krw: int
    capped: bool
    counted: list[str] = Field(description="Every valid report (payable and over the cap).")
    payable: list[str] = Field(description="Valid reports paid, in submission order.")
    over_cap: list[str] = Field(description="Valid reports after the yearly cap: unpaid.")


class RewardsView(BaseModel):
    year: int
    per_report_krw: int
    yearly_cap_krw: int
    repeat_window_days: int
    reporters: list[RewardView]


def _problem(exc: Exception) -> Problem:
    if isinstance(exc, NotFound):
        return Problem(404, "Not found", str(exc), type_="not-found")
    if isinstance(exc, Conflict):
        return Problem(409, "Conflict", str(exc), type_="conflict")
    return Problem(403, "Forbidden", str(exc), type_="forbidden")


def router(net: SafetyNet, registry: RegistryClient) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["reporters"])

    @api.post(
        "/invitations",
        status_code=201,
        response_model=InvitationIssued,
        summary="Invite a reporter of the human safety net (the link is shown once)",
    )
    async def invite(body: InvitationIn, who: Caller) -> InvitationIssued:
        if body.reporter_role not in INVITED_ROLES:
            raise Problem(
                422,
                "Role not invited",
                f"{body.reporter_role.value} reports do not come by invitation",
                type_="role-not-invited",
            )
        try:
            row, link = await net.invite(
                who, body.reporter_role, body.reporter_id, list(body.dong_codes), body.valid_days
            )
        except NotAllowed as exc:
            raise _problem(exc) from exc
        return InvitationIssued(**InvitationView.of(row).model_dump(), link=link)

    @api.get("/invitations", response_model=list[InvitationView], summary="Invitations you manage")
    async def invitations(who: Caller) -> list[InvitationView]:
        try:
            return [InvitationView.of(r) for r in await net.invitations(who)]
        except NotAllowed as exc:
            raise _problem(exc) from exc

    @api.delete(
        "/invitations/{invitation_id}", status_code=204, summary="Withdraw an invitation at once"
    )
    async def revoke(invitation_id: Annotated[str, Path(max_length=32)], who: Caller) -> Response:
        try:
            await net.revoke(who, invitation_id)
        except (NotAllowed, NotFound) as exc:
            raise _problem(exc) from exc
        return Response(status_code=204)

    @api.get(
        "/reports",
        response_model=list[ReportView],
        summary="Reports from the form in your area (without their free text)",
    )
    async def reports(
        who: Caller,
        state: ReportState | None = None,
        dong_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[ReportView]:
        try:
            rows = await net.listing(who, state, dong_code, limit)
        except NotAllowed as exc:
            raise _problem(exc) from exc
        return [ReportView.of(r, s) for r, s in rows]

    @api.get(
        "/reports/{reference}",
        response_model=ReportDetail,
        summary="One report with its free text (the read is recorded); reference = note_ref",
    )
    async def report(reference: Reference, who: Caller) -> ReportDetail:
        try:
            row, state = await net.read(who, reference)
        except (NotAllowed, NotFound) as exc:
            raise _problem(exc) from exc
        return ReportDetail(
            **ReportView.of(row, state).model_dump(), note=row.note, address=row.address
        )

    @api.post(
        "/reports/{reference}/review",
        response_model=ReportView,
        summary="Mark a report valid or invalid for the reporter's reward record",
    )
    async def review(reference: Reference, body: ReviewIn, who: Caller) -> ReportView:
        try:
            row, state = await net.review(who, reference, body.valid, body.reason)
        except (NotAllowed, NotFound) as exc:
            raise _problem(exc) from exc
        return ReportView.of(row, state)

    @api.post(
        "/reports/{reference}/match",
        response_model=ReportView,
        summary="Match a report made by address to a household; publishes its signal",
    )
    async def match(reference: Reference, body: MatchIn, who: Caller) -> ReportView:
        try:
            await net.unmatched(who, reference)
        except (NotFound, Conflict) as exc:
            raise _problem(exc) from exc
        found = await registry.household(body.household_id)
        if found.result is LookupResult.UNAVAILABLE:
            raise Problem(
                503,
                "Service unavailable",
                "the registry did not answer",
                type_="registry-unavailable",
            )
        if found.result is not LookupResult.FOUND:
            raise Problem(
                422,
                "Unknown household",
                f"household {body.household_id} not found",
                type_="unknown-household",
            )
        try:
            row, state = await net.match(who, reference, found)
        except (NotAllowed, NotFound, Conflict) as exc:
            raise _problem(exc) from exc
        return ReportView.of(row, state)

    @api.get(
        "/rewards",
        response_model=RewardsView,
        summary="Reporters' reward records for a year (valid reports, amount, cap reached)",
    )
    async def rewards(who: Caller, year: Annotated[int, Query(ge=2000, le=2100)]) -> RewardsView:
        try:
            records = await net.rewards(who, year)
        except NotAllowed as exc:
            raise _problem(exc) from exc
        return RewardsView(
            year=year,
            per_report_krw=net.policy.per_report_krw,
            yearly_cap_krw=net.policy.yearly_cap_krw,
            repeat_window_days=net.policy.repeat_window_days,
            reporters=[
                RewardView(
                    reporter_id=r.reporter_id,
                    year=r.year,
                    reports=r.reports,
                    valid_reports=r.valid_reports,
                    amount_krw=r.amount_krw,
                    capped=r.capped,
                    counted=list(r.counted),
                    payable=list(r.payable),
                    over_cap=list(r.over_cap),
                )
                for r in records
            ],
        )

    return api
