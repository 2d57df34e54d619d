"""What every area of the registry's service layer shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from anbu_runtime.auth import Principal, forbidden

from ..adapters.orm import AuditRow
from ..adapters.pii import PiiCipher

if TYPE_CHECKING:  # the repository bundle imports this module
    from ..adapters.repository import UoW

SOURCE = "registry"
R = TypeVar("R")
T = TypeVar("T")


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    """What the registry's handlers need beside the unit of work: the PII cipher, and the
    wall clock for security times (token issue, login locks), which follow the wall even
    when the service clock is accelerated for a demo; tests replace it to step past a lock
    without sleeping."""

    cipher: PiiCipher
    wall_clock: Callable[[], datetime] = wall_clock


def audit(
    uow: UoW,
    actor: Principal | str,
    action: str,
    subject: str,
    purpose: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append to the audit log (the database refuses updates and deletes of it)."""
    uow.session.add(
        AuditRow(
            at=uow.now,
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
