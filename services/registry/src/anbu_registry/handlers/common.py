"""What every area of the registry's service layer shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from anbu_runtime.auth import Principal, forbidden
from anbu_runtime.clock import Clock
from anbu_runtime.outbox import Outbox

from ..adapters.orm import AuditRow
from ..adapters.pii import PiiCipher

SOURCE = "registry"


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    cipher: PiiCipher
    outbox: Outbox
    clock: Clock
    # Security times (token issue, login locks) follow the wall clock even when ``clock`` is
    # accelerated for a demo; tests replace it to step past a lock without sleeping.
    wall_clock: Callable[[], datetime] = wall_clock

    def now(self) -> datetime:
        return self.clock.now()

    def audit(
        self,
        session: Session,
        actor: Principal | str,
        action: str,
        subject: str,
        purpose: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append to the audit log (the database refuses updates and deletes of it)."""
        session.add(
            AuditRow(
                at=self.now(),
                actor=actor if isinstance(actor, str) else actor_name(actor),
                action=action,
                subject=subject,
                purpose=purpose,
                detail=detail or {},
            )
        )


def actor_name(principal: Principal) -> str:
    if principal.is_service:
        return "service"
    return f"{principal.role.value if principal.role else 'user'}:{principal.subject}"


def require(condition: bool, detail: str) -> None:
    if not condition:
        raise forbidden(detail)
