"""What every route module shares: one transaction whose domain errors become problems
(RFC 9457), and the body of a 201."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel
from sqlmodel import Session

from anbu_runtime.problems import Problem
from anbu_runtime.service import ServiceRuntime

from ...domain.cases import IllegalTransition, RuleViolation
from ...handlers.common import Conflict, NotFound

T = TypeVar("T")


class Created(BaseModel):
    id: str


def in_transaction(runtime: ServiceRuntime) -> Callable[[Callable[[Session], T]], Awaitable[T]]:
    """``run(fn)``: ``fn(session)`` in one transaction off the event loop; a domain error
    is answered as a problem, a success wakes the outbox relay."""

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

    return run
