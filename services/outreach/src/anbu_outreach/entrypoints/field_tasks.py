"""The field app's task pages: the inbox, a task (with its household's address once
accepted), the outcome form, and the answers posted from them (accept, decline, start,
outcome). Sessions, CSRF and rendering are :class:`.field_app.FieldApp`'s."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from anbu_contracts import ContactMode, ItemState, MonitoringItems, Need, OutcomeResult
from anbu_runtime.auth import Principal
from anbu_runtime.logs import get_logger

from ..adapters.registry_client import AddressRefused, RegistryUnavailable
from ..adapters.repository import Loaded
from ..domain.offers import OPEN, DeclineReason, OfferState
from ..handlers import TaskNotFound, TaskStateError
from .service import may_view

if TYPE_CHECKING:
    from .field_app import FieldApp

log = get_logger(__name__)

ITEMS = tuple(MonitoringItems.model_fields)


class FieldTasks:
    def __init__(self, app: FieldApp) -> None:
        self.app = app

    async def inbox(self, request: Request) -> Response:
        found = self.app.session(request)
        if found is None:
            return self.app.to_login(request)
        token, who = found
        if who.worker_id is None:
            return self.app.message(request, token, 403, "no_worker")
        tasks = await self.app.service.inbox(who.worker_id)
        return self.app.render(
            request,
            "inbox.html",
            tasks=[_card(t, who.worker_id) for t in tasks],
            worker_id=who.worker_id,
            csrf=self.app.csrf_for(token),
            notice=self.app.notice(request),
        )

    async def visible(self, who: Principal, task_id: UUID) -> Loaded | None:
        """The task if it exists and ``who`` may see it, else None (shown as not found)."""
        try:
            loaded = await self.app.service.view(task_id)
        except TaskNotFound:
            return None
        return loaded if may_view(who, loaded) else None

    async def open(
        self, request: Request, task_id: UUID
    ) -> Response | tuple[str, Principal, Loaded]:
        """The session and the task for a task's page, or the page to show instead (the
        login, or not found for a task this person may not see)."""
        found = self.app.session(request)
        if found is None:
            return self.app.to_login(request)
        token, who = found
        loaded = await self.visible(who, task_id)
        if loaded is None:
            return self.app.message(request, token, 404, "not_found")
        return token, who, loaded

    async def task_page(self, request: Request, task_id: UUID) -> Response:
        opened = await self.open(request, task_id)
        if isinstance(opened, Response):
            return opened
        token, who, loaded = opened
        card = _card(loaded, who.worker_id)
        address, address_note = None, None
        if card["mine"] == OfferState.ACCEPTED.value and loaded.assignment.is_open:
            try:
                address = await self.app.registry.address(
                    loaded.task.household_id,
                    token,
                    purpose=f"outreach task {task_id}: {loaded.task.task_type}",
                )
                address_note = None if address else "address_none"
            except AddressRefused:
                address_note = "address_after_team"
            except RegistryUnavailable:
                address_note = "address_unavailable"
        elif loaded.assignment.is_open:
            address_note = "address_after_accept"
        return self.app.render(
            request,
            "task.html",
            task=card,
            address=address,
            address_note=address_note,
            csrf=self.app.csrf_for(token),
            notice=self.app.notice(request),
            reasons=list(DeclineReason),
        )

    async def outcome_page(self, request: Request, task_id: UUID) -> Response:
        opened = await self.open(request, task_id)
        if isinstance(opened, Response):
            return opened
        token, who, loaded = opened
        return self.app.render(
            request,
            "outcome.html",
            task=_card(loaded, who.worker_id),
            csrf=self.app.csrf_for(token),
            results=list(OutcomeResult),
            modes=list(ContactMode),
            items=ITEMS,
            item_states=list(ItemState),
            needs=list(Need),
            error=request.query_params.get("error") == "bad_form",
        )

    async def act(self, request: Request, task_id: UUID, action: str) -> Response:
        """A form post on a task: accept, decline, start or outcome."""
        found = self.app.session(request)
        if found is None:
            return self.app.to_login(request)
        token, who = found
        form = await request.form()
        here = f"/app/tasks/{task_id}"
        if not self.app.csrf_ok(token, form.get("csrf")):
            return RedirectResponse(f"{here}?notice=csrf", status_code=303)
        if who.worker_id is None:
            return RedirectResponse(f"{here}?notice=conflict", status_code=303)
        worker = who.worker_id
        try:
            if action == "accept":
                await self.app.service.accept(task_id, worker)
                done = "done_accepted"
            elif action == "decline":
                reason = DeclineReason(str(form.get("reason") or "other"))
                note = form.get("note")
                await self.app.service.decline(
                    task_id, worker, reason, note[:1000] if isinstance(note, str) and note else None
                )
                return RedirectResponse("/app/tasks?notice=done_declined", status_code=303)
            elif action == "start":
                confirmed = [v for v in form.getlist("confirmed") if isinstance(v, str)]
                await self.app.service.start(task_id, worker, confirmed)
                done = "done_started"
            else:
                parsed = _outcome_form(form)
                if parsed is None:
                    return RedirectResponse(f"{here}/outcome?error=bad_form", status_code=303)
                await self.app.service.outcome(task_id, worker, **parsed)
                return RedirectResponse("/app/tasks?notice=done_outcome", status_code=303)
        except (TaskStateError, ValueError) as exc:
            log.info(
                "field app action refused",
                task_id=str(task_id),
                action=action,
                error=type(exc).__name__,
            )
            return RedirectResponse(f"{here}?notice=conflict", status_code=303)
        except TaskNotFound:
            return RedirectResponse("/app/tasks", status_code=303)
        return RedirectResponse(f"{here}?notice={done}", status_code=303)


def _card(loaded: Loaded, me: str | None) -> dict[str, Any]:
    """What a page shows of a task: ids, codes, times and the team (no personal data)."""
    task, assignment = loaded.task, loaded.assignment
    team = []
    mine = None
    for i, role in enumerate(assignment.slots):
        holder = assignment.holder(i)
        state = holder.state.value if holder else "vacant"
        team.append(
            {
                "role": role.value,
                "worker_id": holder.worker_id if holder else None,
                "state": state,
                "me": bool(holder and holder.worker_id == me),
            }
        )
        if holder and holder.worker_id == me:
            mine = state
    return {
        "task_id": str(task.task_id),
        "task_type": task.task_type,
        "household_id": task.household_id,
        "dong_code": task.dong_code,
        "urgency": task.urgency,
        "status": task.status,
        "deadline": task.deadline,
        "step_id": task.step_id,
        "preconditions": task.preconditions,
        "team": team,
        "mine": mine,
        "open": assignment.status in OPEN,
        "team_complete": assignment.team_complete(),
    }


def _outcome_form(form: FormData) -> dict[str, Any] | None:
    try:
        result = OutcomeResult(str(form.get("result")))
        mode = ContactMode(str(form.get("contact_mode") or "visit"))
        monitoring = MonitoringItems(
            **{item: ItemState(str(form.get(f"item_{item}") or "not_checked")) for item in ITEMS}
        )
        needs = [Need(str(v)) for v in form.getlist("needs")]
    except ValueError:
        return None
    note = form.get("note")
    note = note.strip()[:4000] if isinstance(note, str) and note.strip() else None
    return {
        "result": result,
        "contact_mode": mode,
        "monitoring": monitoring,
        "needs": list(dict.fromkeys(needs)),
        "follow_up": form.get("follow_up") in ("1", "on", "yes", "true"),
        "note": note,
    }
