"""Households, their people, consent and tiers, and the consultation log."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from anbu_contracts import (
    HouseholdSnapshot,
    HouseholdStatus,
    Tier,
)
from anbu_runtime.auth import Caller
from anbu_runtime.problems import Problem

from ...adapters.repository import Repositories
from ...domain.model import (
    ConsentIn,
    ConsultationIn,
    HouseholdChange,
    HouseholdIn,
    PersonIn,
    PersonView,
)
from ...handlers import (
    consent,
    consultations,
    households,
    personal_data,
)
from ...views import households as household_views
from .transaction import Created, RouteTransactions

SEOUL = ZoneInfo("Asia/Seoul")
HouseholdPath = Annotated[str, Field(pattern=r"^HH-[0-9A-Z]{6,26}$")]


class HouseholdPage(BaseModel):
    items: list[HouseholdSnapshot]
    next_cursor: str | None
    total: int | None = Field(description="Number of matches, when with_total=true was asked.")


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


class ConsultationView(BaseModel):
    entry_id: str
    at: datetime
    kind: str
    channel: str | None
    actor: str
    result: str | None
    summary: str
    case_id: str | None


def router(tx: RouteTransactions) -> APIRouter:
    api = APIRouter()

    # -- households ----------------------------------------------------------------

    @api.post("/v1/households", status_code=201, response_model=Created, tags=["households"])
    async def create_household(body: HouseholdIn, who: Caller) -> Created:
        return Created(id=await tx.run(lambda uow: households.register(uow, body, who)))

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
        page = await tx.run(
            lambda uow: household_views.search(
                uow,
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
        return await tx.read(lambda repos: household_views.get(repos, household_id, who, tx.now()))

    @api.patch(
        "/v1/households/{household_id}",
        response_model=HouseholdSnapshot,
        tags=["households"],
        summary="Change tier, status, overrides, flags; or move dong",
    )
    async def change_household(
        household_id: HouseholdPath, body: HouseholdChange, who: Caller
    ) -> HouseholdSnapshot:
        return await tx.run(lambda uow: households.change(uow, household_id, body, who))

    @api.post(
        "/v1/households/{household_id}/consents",
        response_model=HouseholdSnapshot,
        tags=["consent"],
        summary="Record consent given or withdrawn for a channel",
    )
    async def record_consent(
        household_id: HouseholdPath, body: ConsentIn, who: Caller
    ) -> HouseholdSnapshot:
        return await tx.run(lambda uow: consent.record_consent(uow, household_id, body, who))

    @api.get(
        "/v1/households/{household_id}/consents",
        response_model=list[ConsentView],
        tags=["consent"],
        summary="The full consent history",
    )
    async def consent_history(household_id: HouseholdPath, who: Caller) -> list[ConsentView]:
        def read(repos: Repositories) -> list[ConsentView]:
            household_views.get(repos, household_id, who, tx.now())
            return [
                ConsentView(
                    channel=r.channel.value,
                    given=r.given,
                    at=r.at,
                    recorded_by=r.recorded_by,
                    form=r.form,
                )
                for r in consent.consent_history(repos, household_id)
            ]

        return await tx.read(read)

    @api.get(
        "/v1/households/{household_id}/tiers",
        response_model=list[TierView],
        tags=["households"],
        summary="Tier history with reasons",
    )
    async def tier_history(household_id: HouseholdPath, who: Caller) -> list[TierView]:
        def read(repos: Repositories) -> list[TierView]:
            household_views.get(repos, household_id, who, tx.now())
            return [
                TierView.model_validate(r, from_attributes=True)
                for r in repos.tier_history(household_id)
            ]

        return await tx.read(read)

    @api.post(
        "/v1/households/{household_id}/people",
        status_code=201,
        response_model=Created,
        tags=["households"],
    )
    async def add_person(household_id: HouseholdPath, body: PersonIn, who: Caller) -> Created:
        return Created(
            id=await tx.run(lambda uow: households.add_person(uow, household_id, body, who))
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
        return await tx.run(lambda uow: personal_data.people(uow, household_id, who, purpose))

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
        found = await tx.run(lambda uow: personal_data.address(uow, household_id, who, purpose))
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
        return await tx.read_rows(
            ConsultationView,
            lambda repos: consultations.of_household(repos, household_id, who, limit),
        )

    @api.post(
        "/v1/households/{household_id}/consultations",
        status_code=201,
        response_model=Created,
        tags=["consultation log"],
    )
    async def add_consultation(
        household_id: HouseholdPath, body: ConsultationIn, who: Caller
    ) -> Created:
        return Created(id=await tx.run(lambda uow: consultations.add(uow, household_id, body, who)))

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
        text = await tx.run(
            lambda uow: consultations.export_csv(
                uow, who, dong_code=dong_code, start=begin, end=finish
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

    return api
