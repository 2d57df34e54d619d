"""The registry's REST API. Errors are RFC 9457 problems; personal data reads are audited."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from anbu_contracts import (
    HouseholdSnapshot,
    HouseholdStatus,
    RecipientRef,
    Role,
    Tier,
    WorkerSnapshot,
)
from anbu_runtime.auth import Caller, UserRole
from anbu_runtime.problems import Problem
from anbu_runtime.service import ServiceRuntime

from ..adapters.orm import AuditRow
from ..domain.cases import CaseState, IllegalTransition, RuleViolation
from ..domain.model import (
    Address,
    ApiKeyIn,
    AssessmentIn,
    CaseIn,
    ConsentIn,
    ConsultationIn,
    GoalIn,
    HouseholdChange,
    HouseholdIn,
    LinkageIn,
    LoginIn,
    PartnerIn,
    PersonIn,
    PersonView,
    TransitionIn,
    UserIn,
    WorkerChange,
    WorkerIn,
)
from ..handlers import (
    cases,
    consultations,
    households,
    partners,
    recipients,
    reporter_lookups,
    users,
    workers,
)
from ..handlers.common import Conflict, Context, NotFound
from .routes import imports

T = TypeVar("T")
SEOUL = ZoneInfo("Asia/Seoul")
HouseholdPath = Annotated[str, Field(pattern=r"^HH-[0-9A-Z]{6,26}$")]


class Created(BaseModel):
    id: str


class HouseholdPage(BaseModel):
    items: list[HouseholdSnapshot]
    next_cursor: str | None
    total: int | None = Field(description="Number of matches, when with_total=true was asked.")


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: UserRole
    user_id: str
    worker_id: str | None
    dong_codes: list[str]


class Me(BaseModel):
    subject: str
    role: UserRole | None
    dong_codes: list[str]
    district_codes: list[str]
    worker_id: str | None


class AddressView(BaseModel):
    household_id: str
    address: str | None


class ConsentView(BaseModel):
    channel: str
    given: bool
    at: datetime
    recorded_by: str
    form: str


class TierView(BaseModel):
    tier: str
    reason: str
    changed_by: str
    at: datetime


class PartnerView(BaseModel):
    partner_id: str
    organisation: str
    allowed_kinds: list[str]
    rate_limit_per_minute: int
    active: bool


class KeyIssued(BaseModel):
    key_id: str
    api_key: str = Field(description="Shown once: store it now, it cannot be read again.")
    expires_at: datetime | None


class KeyView(BaseModel):
    key_id: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class VerifyIn(BaseModel):
    api_key: str = Field(max_length=200)


class VerifyOut(BaseModel):
    partner_id: str
    key_id: str
    allowed_kinds: list[str]
    rate_limit_per_minute: int


class UserView(BaseModel):
    user_id: str
    username: str
    role: str
    dong_codes: list[str]
    district_codes: list[str]
    worker_id: str | None
    active: bool


class CaseView(BaseModel):
    case_id: str
    household_id: str
    dong_code: str
    state: str
    level: str | None
    opened_at: datetime
    closed_at: datetime | None
    closure_reason: str | None
    manager_worker_id: str | None
    source: str


class CaseEventView(BaseModel):
    at: datetime
    actor: str
    kind: str
    detail: dict[str, Any]


class CaseDetail(CaseView):
    history: list[CaseEventView]


class ConsultationView(BaseModel):
    entry_id: str
    at: datetime
    kind: str
    channel: str | None
    actor: str
    result: str | None
    summary: str
    case_id: str | None


class ReporterLookupIn(BaseModel):
    """What a safety-net reporter typed, sent by the gateway on the reporter's behalf."""

    invitation_id: str = Field(pattern=r"^INV-[0-9A-Z]{4,28}$")
    reporter_role: str = Field(pattern=r"^[a-z_]{2,32}$")
    lookup_kind: reporter_lookups.LookupKind
    value: str = Field(min_length=7, max_length=40)


class ReporterLookupOut(BaseModel):
    """For the gateway only: the reporter is never told whether anybody was found."""

    matched: bool
    household_id: str | None = None
    dong_code: str | None = None


class ResolveRequest(BaseModel):
    recipient: RecipientRef
    purpose: str = Field(max_length=256)


class ResolveResponse(BaseModel):
    recipients: list[Address]


class AuditEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    subject: str
    purpose: str
    detail: dict[str, Any]


LOCKED: dict[str, Any] = {
    "description": "Too many failed logins: locked for the seconds in Retry-After",
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
}


def _is_service(request: Request, authorization: str | None) -> bool:
    token = (authorization or "").removeprefix("Bearer ").strip()
    expected: str = request.app.state.service_token
    return bool(token) and secrets.compare_digest(token.encode(), expected.encode())


def router(runtime: ServiceRuntime, ctx: Context) -> APIRouter:
    api = APIRouter()

    async def run(fn: Callable[[Session], T]) -> T:
        try:
            result = await runtime.db.run(fn)
        except NotFound as exc:
            raise Problem(404, "Not found", str(exc)) from exc
        except IllegalTransition as exc:
            raise Problem(
                409, "Illegal case transition", str(exc), type_="case-transition"
            ) from exc
        except RuleViolation as exc:
            raise Problem(409, "Case rule violated", str(exc), type_="case-rule") from exc
        except Conflict as exc:
            raise Problem(409, "Conflict", str(exc), type_="conflict") from exc
        runtime.outbox.notify()
        return result

    # -- authentication ------------------------------------------------------------

    @api.post(
        "/v1/auth/login",
        response_model=Token,
        tags=["auth"],
        summary="Log in; returns a short-lived bearer token",
        description=(
            "Failed logins are counted per account and per client address; past the limits "
            "(docs/registry.md) every attempt, right or wrong, is refused with 429 and "
            "Retry-After until the lock ends or an administrator unlocks the account."
        ),
        responses={401: {"description": "Wrong username or password"}, 429: LOCKED},
    )
    async def login(
        body: LoginIn,
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        x_anbu_client_address: Annotated[
            str | None,
            Header(
                max_length=64,
                description="The person's address, from a service logging a person in "
                "(the console, the field app); ignored without the service token.",
            ),
        ] = None,
    ) -> Token:
        ttl = timedelta(minutes=runtime.common.auth_token_minutes)
        address = request.client.host if request.client else "unknown"
        if x_anbu_client_address and _is_service(request, authorization):
            address = x_anbu_client_address
        outcome = await runtime.db.run(
            lambda s: users.login(
                ctx, s, body.username, body.password, runtime.common.auth_secret, ttl, address
            )
        )
        if isinstance(outcome, users.Refusal):
            if outcome.retry_after is not None:
                seconds = max(1, math.ceil(outcome.retry_after.total_seconds()))
                raise Problem(
                    429,
                    "Too many failed logins",
                    "too many failed logins for this account or from this address; "
                    "try again later or ask an administrator to unlock the account",
                    type_="login-locked",
                    extensions={"retry_after": seconds},
                    headers={"Retry-After": str(seconds)},
                )
            raise Problem(401, "Unauthorized", "wrong username or password", type_="login-failed")
        token, who = outcome
        assert who.role is not None
        return Token(
            access_token=token,
            expires_in=int(ttl.total_seconds()),
            role=who.role,
            user_id=who.subject,
            worker_id=who.worker_id,
            dong_codes=sorted(who.dong_codes),
        )

    @api.get("/v1/auth/me", response_model=Me, tags=["auth"])
    async def me(who: Caller) -> Me:
        return Me(
            subject=who.subject,
            role=who.role,
            dong_codes=sorted(who.dong_codes),
            district_codes=sorted(who.district_codes),
            worker_id=who.worker_id,
        )

    @api.post("/v1/users", status_code=201, response_model=Created, tags=["auth"])
    async def create_user(body: UserIn, who: Caller) -> Created:
        return Created(id=await run(lambda s: users.create(ctx, s, body, who)))

    @api.post(
        "/v1/users/{user_id}/unlock",
        status_code=204,
        tags=["auth"],
        summary="Lift an account's login lock and forget its failed logins (admin, audited)",
    )
    async def unlock_user(user_id: Annotated[str, Field(max_length=32)], who: Caller) -> Response:
        await run(lambda s: users.unlock(ctx, s, user_id, who))
        return Response(status_code=204)

    @api.get("/v1/users", response_model=list[UserView], tags=["auth"])
    async def list_users(who: Caller) -> list[UserView]:
        rows = await run(lambda s: users.listing(s, who))
        return [UserView.model_validate(r, from_attributes=True) for r in rows]

    # -- households ----------------------------------------------------------------

    @api.post("/v1/households", status_code=201, response_model=Created, tags=["households"])
    async def create_household(body: HouseholdIn, who: Caller) -> Created:
        return Created(id=await run(lambda s: households.register(ctx, s, body, who)))

    @api.get(
        "/v1/households",
        response_model=HouseholdPage,
        tags=["households"],
        summary="Search households in your area (keyset paging with `after`)",
    )
    async def search_households(
        who: Caller,
        dong_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
        district_code: Annotated[str | None, Query(pattern=r"^\d{5}$")] = None,
        tier: Tier | None = None,
        status: HouseholdStatus | None = None,
        phone: Annotated[str | None, Query(pattern=r"^\+?[0-9][0-9 -]{6,18}[0-9]$")] = None,
        after: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        with_total: bool = False,
    ) -> HouseholdPage:
        page = await run(
            lambda s: households.search(
                ctx,
                s,
                who,
                dong_code=dong_code,
                district_code=district_code,
                tier=tier,
                status=status,
                phone=phone,
                after=after,
                limit=limit,
                with_total=with_total,
            )
        )
        return HouseholdPage(items=page.items, next_cursor=page.next_cursor, total=page.total)

    @api.get(
        "/v1/households/{household_id}",
        response_model=HouseholdSnapshot,
        tags=["households"],
        summary="A household's record (no personal data)",
    )
    async def get_household(household_id: HouseholdPath, who: Caller) -> HouseholdSnapshot:
        return await run(lambda s: households.get(ctx, s, household_id, who))

    @api.patch(
        "/v1/households/{household_id}",
        response_model=HouseholdSnapshot,
        tags=["households"],
        summary="Change tier, status, overrides, flags; or move dong",
    )
    async def change_household(
        household_id: HouseholdPath, body: HouseholdChange, who: Caller
    ) -> HouseholdSnapshot:
        return await run(lambda s: households.change(ctx, s, household_id, body, who))

    @api.post(
        "/v1/households/{household_id}/consents",
        response_model=HouseholdSnapshot,
        tags=["consent"],
        summary="Record consent given or withdrawn for a channel",
    )
    async def record_consent(
        household_id: HouseholdPath, body: ConsentIn, who: Caller
    ) -> HouseholdSnapshot:
        return await run(lambda s: households.record_consent(ctx, s, household_id, body, who))

    @api.get(
        "/v1/households/{household_id}/consents",
        response_model=list[ConsentView],
        tags=["consent"],
        summary="The full consent history",
    )
    async def consent_history(household_id: HouseholdPath, who: Caller) -> list[ConsentView]:
        def read(s: Session) -> list[ConsentView]:
            households.get(ctx, s, household_id, who)
            return [
                ConsentView(
                    channel=r.channel.value,
                    given=r.given,
                    at=r.at,
                    recorded_by=r.recorded_by,
                    form=r.form,
                )
                for r in households.consent_history(s, household_id)
            ]

        return await run(read)

    @api.get(
        "/v1/households/{household_id}/tiers",
        response_model=list[TierView],
        tags=["households"],
        summary="Tier history with reasons",
    )
    async def tier_history(household_id: HouseholdPath, who: Caller) -> list[TierView]:
        def read(s: Session) -> list[TierView]:
            households.get(ctx, s, household_id, who)
            return [
                TierView.model_validate(r, from_attributes=True)
                for r in households.tier_history(s, household_id)
            ]

        return await run(read)

    @api.post(
        "/v1/households/{household_id}/people",
        status_code=201,
        response_model=Created,
        tags=["households"],
    )
    async def add_person(household_id: HouseholdPath, body: PersonIn, who: Caller) -> Created:
        return Created(
            id=await run(lambda s: households.add_person(ctx, s, household_id, body, who))
        )

    @api.get(
        "/v1/households/{household_id}/people",
        response_model=list[PersonView],
        tags=["personal data"],
        summary="Residents and contacts with personal data (audited)",
    )
    async def people(
        household_id: HouseholdPath,
        who: Caller,
        purpose: Annotated[str, Query(min_length=3, max_length=256)],
    ) -> list[PersonView]:
        return await run(lambda s: households.people(ctx, s, household_id, who, purpose))

    @api.get(
        "/v1/households/{household_id}/address",
        response_model=AddressView,
        tags=["personal data"],
        summary="The address (audited); field staff only through an accepted task",
    )
    async def address(
        household_id: HouseholdPath,
        who: Caller,
        purpose: Annotated[str, Query(min_length=3, max_length=256)],
    ) -> AddressView:
        found = await run(lambda s: households.address(ctx, s, household_id, who, purpose))
        return AddressView(household_id=household_id, address=found)

    # -- consultation log ----------------------------------------------------------

    @api.get(
        "/v1/households/{household_id}/consultations",
        response_model=list[ConsultationView],
        tags=["consultation log"],
    )
    async def consultations_of(
        household_id: HouseholdPath, who: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[ConsultationView]:
        rows = await run(lambda s: consultations.of_household(s, household_id, who, limit))
        return [ConsultationView.model_validate(r, from_attributes=True) for r in rows]

    @api.post(
        "/v1/households/{household_id}/consultations",
        status_code=201,
        response_model=Created,
        tags=["consultation log"],
    )
    async def add_consultation(
        household_id: HouseholdPath, body: ConsultationIn, who: Caller
    ) -> Created:
        return Created(id=await run(lambda s: consultations.add(ctx, s, household_id, body, who)))

    @api.get(
        "/v1/consultations/export.csv",
        tags=["consultation log"],
        summary="A dong's consultation log as CSV for the national system (행복e음)",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def export(
        who: Caller,
        dong_code: Annotated[str, Query(pattern=r"^\d{10}$")],
        start: date,
        end: date,
        encoding: Annotated[str, Query(pattern="^(utf-8|euc-kr)$")] = "utf-8",
    ) -> Response:
        if end < start or (end - start).days > 366 or start.year < 1990 or end.year > 2100:
            raise Problem(
                400,
                "Bad date range",
                "start must not be after end, within 1990-2100, and at most a year apart",
                type_="date-range",
            )
        begin = datetime.combine(start, time(0), SEOUL)
        finish = datetime.combine(end + timedelta(days=1), time(0), SEOUL)
        text = await run(
            lambda s: consultations.export_csv(
                ctx, s, who, dong_code=dong_code, start=begin, end=finish
            )
        )
        body = (
            text.encode("utf-8-sig")
            if encoding == "utf-8"
            else text.encode("euc-kr", errors="replace")
        )
        filename = f"consultations-{dong_code}-{start.isoformat()}-{end.isoformat()}.csv"
        return Response(
            body,
            media_type=f"text/csv; charset={encoding}",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    # -- cases ---------------------------------------------------------------------

    def case_detail(row: Any, history: Any) -> CaseDetail:
        return CaseDetail(
            **CaseView.model_validate(row, from_attributes=True).model_dump(),
            history=[CaseEventView.model_validate(e, from_attributes=True) for e in history],
        )

    @api.post("/v1/cases", status_code=201, response_model=Created, tags=["cases"])
    async def open_case(body: CaseIn, who: Caller) -> Created:
        return Created(id=await run(lambda s: cases.open_case(ctx, s, body, who)))

    @api.get("/v1/cases", response_model=list[CaseView], tags=["cases"])
    async def search_cases(
        who: Caller,
        state: CaseState | None = None,
        dong_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[CaseView]:
        rows = await run(
            lambda s: cases.search(
                s, who, state=state, dong_code=dong_code, limit=limit, offset=offset
            )
        )
        return [CaseView.model_validate(r, from_attributes=True) for r in rows]

    @api.get("/v1/cases/{case_id}", response_model=CaseDetail, tags=["cases"])
    async def get_case(case_id: Annotated[str, Field(max_length=32)], who: Caller) -> CaseDetail:
        row, history = await run(lambda s: cases.get(s, case_id, who))
        return case_detail(row, history)

    @api.post(
        "/v1/cases/{case_id}/transitions",
        response_model=CaseView,
        tags=["cases"],
        summary="Move a case; illegal moves are refused with 409 and the allowed ones",
    )
    async def transition(
        case_id: Annotated[str, Field(max_length=32)], body: TransitionIn, who: Caller
    ) -> CaseView:
        row = await run(lambda s: cases.move(ctx, s, case_id, body, who))
        return CaseView.model_validate(row, from_attributes=True)

    @api.post("/v1/cases/{case_id}/assessments", status_code=204, tags=["cases"])
    async def assess(
        case_id: Annotated[str, Field(max_length=32)], body: AssessmentIn, who: Caller
    ) -> Response:
        await run(lambda s: cases.assess(ctx, s, case_id, body, who))
        return Response(status_code=204)

    @api.post("/v1/cases/{case_id}/goals", status_code=204, tags=["cases"])
    async def add_goal(
        case_id: Annotated[str, Field(max_length=32)], body: GoalIn, who: Caller
    ) -> Response:
        await run(lambda s: cases.add_goal(ctx, s, case_id, body, who))
        return Response(status_code=204)

    @api.post(
        "/v1/cases/{case_id}/linkages",
        status_code=201,
        response_model=Created,
        tags=["cases"],
        summary="Link a service (emergency aid: not twice in 2 years)",
    )
    async def link(
        case_id: Annotated[str, Field(max_length=32)], body: LinkageIn, who: Caller
    ) -> Created:
        return Created(id=str(await run(lambda s: cases.link_service(ctx, s, case_id, body, who))))

    # -- workers -------------------------------------------------------------------

    @api.post("/v1/workers", status_code=201, response_model=Created, tags=["workers"])
    async def create_worker(body: WorkerIn, who: Caller) -> Created:
        return Created(id=await run(lambda s: workers.register(ctx, s, body, who)))

    @api.get("/v1/workers", response_model=list[WorkerSnapshot], tags=["workers"])
    async def list_workers(
        who: Caller,
        dong_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
        role: Role | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[WorkerSnapshot]:
        return await run(
            lambda s: workers.listing(
                ctx, s, who, dong_code=dong_code, role=role, limit=limit, offset=offset
            )
        )

    @api.get("/v1/workers/{worker_id}", response_model=WorkerSnapshot, tags=["workers"])
    async def get_worker(
        worker_id: Annotated[str, Field(max_length=32)], who: Caller
    ) -> WorkerSnapshot:
        return await run(lambda s: workers.get(ctx, s, worker_id))

    @api.patch(
        "/v1/workers/{worker_id}",
        response_model=WorkerSnapshot,
        tags=["workers"],
        summary="Change roles, areas, shifts, duty rosters, load limit, active",
    )
    async def change_worker(
        worker_id: Annotated[str, Field(max_length=32)], body: WorkerChange, who: Caller
    ) -> WorkerSnapshot:
        return await run(lambda s: workers.change(ctx, s, worker_id, body, who))

    # -- partners ------------------------------------------------------------------

    @api.post("/v1/partners", status_code=201, response_model=Created, tags=["partners"])
    async def create_partner(body: PartnerIn, who: Caller) -> Created:
        return Created(id=await run(lambda s: partners.create(ctx, s, body, who)))

    @api.get("/v1/partners", response_model=list[PartnerView], tags=["partners"])
    async def list_partners(who: Caller) -> list[PartnerView]:
        rows = await run(lambda s: partners.listing(s, who))
        return [PartnerView.model_validate(r, from_attributes=True) for r in rows]

    @api.post(
        "/v1/partners/{partner_id}/keys",
        status_code=201,
        response_model=KeyIssued,
        tags=["partners"],
        summary="Issue an API key (shown once)",
    )
    async def issue_key(
        partner_id: Annotated[str, Field(max_length=64)], body: ApiKeyIn, who: Caller
    ) -> KeyIssued:
        issued = await run(lambda s: partners.issue_key(ctx, s, partner_id, body, who))
        return KeyIssued(key_id=issued.key_id, api_key=issued.api_key, expires_at=issued.expires_at)

    @api.get("/v1/partners/{partner_id}/keys", response_model=list[KeyView], tags=["partners"])
    async def list_keys(
        partner_id: Annotated[str, Field(max_length=64)], who: Caller
    ) -> list[KeyView]:
        rows = await run(lambda s: partners.keys_of(s, partner_id, who))
        return [KeyView.model_validate(r, from_attributes=True) for r in rows]

    @api.delete(
        "/v1/partner-keys/{key_id}",
        status_code=204,
        tags=["partners"],
        summary="Revoke a key at once",
    )
    async def revoke_key(key_id: Annotated[str, Field(max_length=32)], who: Caller) -> Response:
        await run(lambda s: partners.revoke_key(ctx, s, key_id, who))
        return Response(status_code=204)

    @api.post(
        "/internal/v1/partner-keys/verify",
        response_model=VerifyOut,
        tags=["internal"],
        summary="Which partner a key belongs to (the gateway's call)",
    )
    async def verify_key(body: VerifyIn, who: Caller) -> VerifyOut:
        if not who.is_service:
            raise Problem(403, "Forbidden", "only services verify partner keys", type_="forbidden")
        found = await run(lambda s: partners.verify(ctx, s, body.api_key))
        if found is None:
            raise Problem(401, "Unauthorized", "unknown, expired or revoked key", type_="bad-key")
        return VerifyOut(
            partner_id=found.partner_id,
            key_id=found.key_id,
            allowed_kinds=[k.value for k in found.allowed_kinds],
            rate_limit_per_minute=found.rate_limit_per_minute,
        )

    @api.post(
        "/internal/v1/reporter-lookups",
        response_model=ReporterLookupOut,
        tags=["internal"],
        summary="The household a safety-net reporter named (the gateway's call, audited)",
    )
    async def reporter_lookup(body: ReporterLookupIn, who: Caller) -> ReporterLookupOut:
        if not who.is_service:
            raise Problem(
                403, "Forbidden", "only services look up for reporters", type_="forbidden"
            )
        found = await run(
            lambda s: reporter_lookups.look_up(
                ctx,
                s,
                invitation_id=body.invitation_id,
                reporter_role=body.reporter_role,
                lookup_kind=body.lookup_kind,
                value=body.value,
            )
        )
        return ReporterLookupOut(
            matched=found.household_id is not None,
            household_id=found.household_id,
            dong_code=found.dong_code,
        )

    # -- recipients, audit, imports ------------------------------------------------

    @api.post(
        "/internal/v1/recipients/resolve",
        response_model=ResolveResponse,
        tags=["internal"],
        summary="Addresses for a recipient reference (audited)",
    )
    async def resolve(body: ResolveRequest, who: Caller) -> ResolveResponse:
        found = await run(lambda s: recipients.resolve(ctx, s, body.recipient, who, body.purpose))
        return ResolveResponse(recipients=found)

    @api.get("/v1/audit", response_model=list[AuditEntry], tags=["audit"])
    async def audit(
        who: Caller,
        subject: Annotated[str | None, Query(max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AuditEntry]:
        if not who.is_admin:
            raise Problem(
                403, "Forbidden", "only administrators read the audit log", type_="forbidden"
            )

        def read(s: Session) -> list[AuditEntry]:
            query = select(AuditRow).order_by(col(AuditRow.id).desc()).limit(limit)
            if subject:
                query = query.where(AuditRow.subject == subject)
            return [AuditEntry.model_validate(r, from_attributes=True) for r in s.exec(query).all()]

        return await run(read)

    api.include_router(imports.router(runtime, ctx, getattr(runtime.settings, "import_workers", 0)))
    return api
