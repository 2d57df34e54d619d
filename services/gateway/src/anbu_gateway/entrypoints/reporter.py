"""The reporter form: a small server-rendered mobile page, Korean by default (``?lang=en``).

The invitation link's token is the reporter's credential. The page never shows anything
from the registry but "found / not found" and the household's dong code; no external
assets, no scripts, and the token never leaves in a Referer header.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from anbu_contracts import ReporterRole

from ..adapters.orm import InvitationRow
from ..adapters.registry_client import RegistryClient
from ..domain.rate_limit import TokenBucket
from ..domain.reports import (
    CATEGORY_LABELS,
    CATEGORY_ORDER,
    ROLE_LABELS,
    TEXT,
    URGENCY_LABELS,
    Lang,
    Lookup,
    LookupKind,
    LookupResult,
    ReportInput,
    check_form,
)
from ..handlers.reports import SafetyNet

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
LOOKUPS_PER_HOUR = 30

Token = Annotated[str, PathParam(max_length=100)]
LangQuery = Annotated[str | None, Query(max_length=8)]
Short = Annotated[str | None, Form(max_length=32)]


def router(net: SafetyNet, registry: RegistryClient) -> APIRouter:
    api = APIRouter(prefix="/r", tags=["reporter form"])
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"])
    )
    lookups: dict[str, TokenBucket] = {}

    def page(name: str, lang: Lang, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(lang=lang.value, t=TEXT[lang], **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def invalid_link(lang: Lang) -> HTMLResponse:
        t = TEXT[lang]
        return page(
            "message.html", lang, 404, heading=t["invalid_link"], body=t["invalid_link_body"]
        )

    def form_page(
        invitation: InvitationRow,
        lang: Lang,
        form: dict[str, str],
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        lookup: str | None = None,
        dong_code: str | None = None,
    ) -> HTMLResponse:
        role = ReporterRole(invitation.reporter_role)
        return page(
            "form.html",
            lang,
            status,
            form=form,
            errors=errors or {},
            lookup=lookup,
            dong_code=dong_code,
            reporter_id=invitation.reporter_id,
            role_label=ROLE_LABELS[lang].get(role, role.value),
            categories=[(c.value, CATEGORY_LABELS[lang][c]) for c in CATEGORY_ORDER],
            urgencies=[(u.value, label) for u, label in URGENCY_LABELS[lang].items()],
        )

    def may_look_up(invitation: InvitationRow) -> bool:
        now = time.monotonic()
        bucket = lookups.get(invitation.invitation_id)
        if bucket is None:
            bucket = lookups[invitation.invitation_id] = TokenBucket(
                LOOKUPS_PER_HOUR, LOOKUPS_PER_HOUR / 3600, LOOKUPS_PER_HOUR, now
            )
        return bucket.admit(1, now).allowed

    async def look_up(invitation: InvitationRow, checked: ReportInput) -> Lookup | None:
        if checked.lookup_kind is LookupKind.HOUSEHOLD_ID and "lookup_value" not in checked.errors:
            if not may_look_up(invitation):
                return None
            return await registry.household(checked.lookup_value)
        if checked.lookup_kind is LookupKind.PHONE and "lookup_value" not in checked.errors:
            if not may_look_up(invitation):
                return None
            return await registry.household_by_phone(checked.lookup_value)
        return Lookup(LookupResult.NOT_FOUND)

    @api.get("/{token}", response_class=HTMLResponse, summary="The reporter form")
    async def show(token: Token, lang: LangQuery = None) -> Response:
        language = Lang.of(lang)
        invitation = await net.invitation_for(token)
        if invitation is None:
            return invalid_link(language)
        return form_page(
            invitation,
            language,
            {
                "lookup_kind": "household_id",
                "lookup_value": "",
                "category": "",
                "urgency": "normal",
                "note": "",
            },
        )

    @api.post("/{token}", response_class=HTMLResponse, summary="Check a household or send a report")
    async def send(
        token: Token,
        lang: LangQuery = None,
        action: Short = None,
        lookup_kind: Short = None,
        lookup_value: Annotated[str | None, Form(max_length=300)] = None,
        category: Short = None,
        urgency: Short = None,
        note: Annotated[str | None, Form(max_length=4000)] = None,
        form_lang: Annotated[str | None, Form(alias="lang", max_length=8)] = None,
    ) -> Response:
        language = Lang.of(form_lang or lang)
        invitation = await net.invitation_for(token)
        if invitation is None:
            return invalid_link(language)
        echo = {
            "lookup_kind": lookup_kind or "",
            "lookup_value": (lookup_value or "")[:300],
            "category": category or "",
            "urgency": urgency or "",
            "note": (note or "")[:4000],
        }
        checked = check_form(lookup_kind, lookup_value, category, urgency, note)
        if action == "check":
            if "lookup_value" in checked.errors:
                return form_page(
                    invitation, language, echo, status=422, errors={"lookup_value": "err_lookup"}
                )
            if checked.lookup_kind is LookupKind.ADDRESS:
                return form_page(invitation, language, echo, lookup="address")
            found = await look_up(invitation, checked)
            if found is None:
                return form_page(
                    invitation, language, echo, status=429, errors={"rate": "err_too_many"}
                )
            return form_page(
                invitation, language, echo, lookup=found.result.value, dong_code=found.dong_code
            )
        if not checked.ok:
            return form_page(invitation, language, echo, status=422, errors=checked.errors)
        if not net.admit(invitation):
            return form_page(
                invitation, language, echo, status=429, errors={"rate": "err_too_many"}
            )
        if checked.lookup_kind is LookupKind.ADDRESS:
            found = Lookup(LookupResult.NOT_FOUND)
        else:
            looked = await look_up(invitation, checked)
            if looked is None:
                return form_page(
                    invitation, language, echo, status=429, errors={"rate": "err_too_many"}
                )
            found = looked
            if found.result in (LookupResult.NOT_FOUND, LookupResult.AMBIGUOUS):
                return form_page(
                    invitation,
                    language,
                    echo,
                    status=422,
                    errors={"lookup_value": "err_not_found"},
                    lookup=found.result.value,
                )
            if found.result is LookupResult.UNAVAILABLE:
                # Keep the report: an operator matches what the reporter typed later.
                checked = ReportInput(
                    LookupKind.ADDRESS,
                    checked.lookup_value,
                    checked.category,
                    checked.urgency,
                    checked.note,
                )
        row, _ = await net.submit(invitation, checked, found)
        return RedirectResponse(
            f"/r/{token}/done/{row.reference}?lang={language.value}",
            status_code=303,
            headers=SECURITY_HEADERS,
        )

    @api.get("/{token}/done/{reference}", response_class=HTMLResponse, summary="The confirmation")
    async def done(
        token: Token,
        reference: Annotated[str, PathParam(max_length=32)],
        lang: LangQuery = None,
    ) -> Response:
        language = Lang.of(lang)
        invitation = await net.invitation_for(token)
        if invitation is None:
            return invalid_link(language)
        row = await net.report_of(invitation, reference)
        if row is None:
            return invalid_link(language)
        state = await net.state_of(row)
        return page(
            "done.html",
            language,
            reference=row.reference,
            state=state.value,
            token=token,
        )

    return api
