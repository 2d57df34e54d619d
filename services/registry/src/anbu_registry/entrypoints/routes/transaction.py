"""What every route module shares: the registry's units of work, whose domain errors are
answered as problems (RFC 9457), and the body of a 201."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from anbu_runtime.problems import Problem
from anbu_runtime.uow import Transactions

from ...adapters.repository import Repositories, UoW
from ...domain.cases import IllegalTransition, RuleViolation
from ...handlers.common import Conflict, NotFound

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Created(BaseModel):
    id: str


@contextmanager
def problems() -> Iterator[None]:
    """A domain error raised inside as the problem the API answers with."""
    try:
        yield
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from exc
    except IllegalTransition as exc:
        raise Problem(409, "Illegal case transition", str(exc), type_="case-transition") from exc
    except RuleViolation as exc:
        raise Problem(409, "Case rule violated", str(exc), type_="case-rule") from exc
    except Conflict as exc:
        raise Problem(409, "Conflict", str(exc), type_="conflict") from exc


class RouteTransactions:
    """``tx.run(fn)`` (``fn(uow)`` in one unit of work) and ``tx.read(fn)`` (``fn(repos)``
    on a snapshot) for the routes, with domain errors answered as problems."""

    def __init__(self, tx: Transactions[Repositories]) -> None:
        self.units = tx

    async def run(self, fn: Callable[[UoW], T]) -> T:
        with problems():
            return await self.units.run(fn)

    async def read(self, fn: Callable[[Repositories], T]) -> T:
        with problems():
            return await self.units.read(fn)

    async def read_rows(
        self, model: type[M], fn: Callable[[Repositories], Iterable[Any]]
    ) -> list[M]:
        """``fn(repos)``'s rows as ``model``s, made on the snapshot (its rows expire with it)."""
        return await self.read(
            lambda repos: [model.model_validate(r, from_attributes=True) for r in fn(repos)]
        )

    def now(self) -> datetime:
        """The service clock's time, for views that stamp what they show."""
        return self.units.clock.now()
