"""The reporter form: a small server-rendered mobile page, Korean by default (``?lang=en``).

The invitation link's token is the reporter's credential. The page never shows anything
from the registry, not even whether the household was found: a report naming an enrolled
household (in the invitation's area or not), an unknown one or an address gets the same
answer, and the household is matched server-side (by an operator when the lookup finds
nobody). No external assets, no scripts, and the token never leaves in a Referer header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from anbu_contracts import ReporterRole

from ..adapters.orm import InvitationRow
from ..domain.reports import (
    CATEGORY_LABELS,
    CATEGORY_ORDER,
    ROLE_LABELS,
    TEXT,
    URGENCY_LABELS,
    Lang,
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
Token = Annotated[str, PathParam(max_length=100)]
LangQuery = Annotated[str | None, Query(max_length=8)]
Short = Annotated[str | None, Form(max_length=32)]


def router(net: SafetyNet) -> APIRouter:
    api = APIRouter(prefix="/r", tags=["reporter form"])
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"])
    )

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
    ) -> HTMLResponse:
        role = ReporterRole(invitation.reporter_role)
        return page(
            "form.html",
            lang,
            status,
            form=form,
            errors=errors or {},
            reporter_id=invitation.reporter_id,
            role_label=ROLE_LABELS[lang].get(role, role.value),
            categories=[(c.value, CATEGORY_LABELS[lang][c]) for c in CATEGORY_ORDER],
            urgencies=[(u.value, label) for u, label in URGENCY_LABELS[lang].items()],
        )

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

    @api.post("/{token}", response_class=HTMLResponse, summary="Send a report")
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
        if action == "check":
            # Pages served before had a "check" button that confirmed enrolment: it looks
            # nothing up any more, the form simply comes back.
            return form_page(invitation, language, echo)
        checked = check_form(lookup_kind, lookup_value, category, urgency, note)
        # The answer depends on the form and the rate limit only, never on the registry:
        # the lookup happens inside ``submit``, whose result the reporter does not see.
        if not checked.ok:
            return form_page(invitation, language, echo, status=422, errors=checked.errors)
        if not net.admit(invitation):
            return form_page(
                invitation, language, echo, status=429, errors={"rate": "err_too_many"}
            )
        row = await net.submit(invitation, checked)
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
        # One text for every report: whether it was matched or published is not the
        # reporter's to learn.
        return page("done.html", language, reference=row.reference, token=token)

    return api
