"""The service layer's unit of work and handler tables.

A handler is a small synchronous function ``on_x(msg, uow)``: it reads and changes state
through ``uow.repos``, stages the events it causes with ``uow.publish`` and asks for work
after the commit (a wake-up, a cache update) with ``uow.after_commit``. It never commits,
never talks to Kafka and never sees the database engine. :class:`Transactions` (one per
service, built by its bootstrap) runs a handler in one database transaction off the event
loop; the state change, the inbox row and the outbox rows commit together, and only then
does the relay wake and the after-commit effects run.

A :class:`HandlerTable` maps contract types to handlers, so consumers dispatch with one
lookup instead of an ``isinstance`` ladder, and adding an event kind is one table entry.
FastStream subscribers call :meth:`HandlerTable.handle` for one record; batch consumers call
:meth:`HandlerTable.handle_batch`, which runs the whole batch inside one unit of work.

The shape follows cosmicpython's ``service_layer`` (``unit_of_work.py``, ``handlers.py``'s
``EVENT_HANDLERS``), adapted to anbu's outbox/inbox and its synchronous SQLAlchemy sessions.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from sqlmodel import Session

from anbu_contracts.topics import Topic

from .clock import Clock
from .db import Database
from .logs import get_logger
from .metrics import MESSAGES_CONSUMED
from .outbox import Inbox, Outbox

log = get_logger(__name__)

R = TypeVar("R")
T = TypeVar("T")
Effect = Callable[[], Awaitable[None] | None]


class Deferred(Protocol):
    """Writes a unit collects and makes just before it commits (see ``UnitOfWork.deferred``)."""

    def write(self) -> None: ...


D = TypeVar("D", bound=Deferred)


class UnitOfWork(Generic[R]):
    """One transaction's worth of work: what a handler may touch.

    ``repos`` is the service's repository bundle over this transaction's session; ``now``
    is the service clock's time when the unit began (one instant for the whole batch, so
    every row and event it writes agrees); ``correlation_id``/``causation_id`` come from
    the message being handled (:meth:`ids` gives them to new events).
    """

    def __init__(
        self,
        session: Session,
        repos: R,
        outbox: Outbox,
        now: datetime,
        *,
        inbox: Inbox | None = None,
    ) -> None:
        self.session = session
        self.repos = repos
        self.now = now
        self.correlation_id: str | None = None
        self.causation_id: str | None = None
        self._outbox = outbox
        self._inbox = inbox
        self._effects: list[Effect] = []
        self._deferred: dict[str, Deferred] = {}
        self.published = 0

    # -- what a handler does --------------------------------------------------------------

    def publish(self, topic: Topic, event: BaseModel) -> None:
        """Stage ``event`` on ``topic``; it is published after (and only if) the commit."""
        self._outbox.add(self.session, topic, event)
        self.published += 1

    def publish_many(self, topic: Topic, events: list[BaseModel]) -> None:
        """Stage many events in one statement (COPY on PostgreSQL)."""
        self._outbox.add_many(self.session, topic, events)
        self.published += len(events)

    def after_commit(self, effect: Effect) -> None:
        """Run ``effect`` on the event loop once the transaction committed (never on rollback)."""
        self._effects.append(effect)

    def deferred(self, key: str, make: Callable[[], D]) -> D:
        """This unit's ``key`` writes, made by ``make`` the first time: collected by the
        handlers of a batch and written with a few set-based statements just before the
        transaction commits (``write()``; a handler that needs them sooner calls it, so it
        writes only what is new)."""
        found = self._deferred.get(key)
        if found is None:
            found = self._deferred[key] = make()
        return found  # type: ignore[return-value]

    def write_deferred(self) -> None:
        """Write what the handlers deferred (the unit's last step before the commit)."""
        # taken out first: a deferred writer holds the unit, which holds it (no cycle left)
        deferred, self._deferred = self._deferred, {}
        for writes in deferred.values():
            writes.write()

    def first_time(self, message_id: str) -> bool:
        """Record ``message_id`` in the inbox; False when it was applied before (a redelivery)."""
        return self._require_inbox().first_time(self.session, message_id)

    def first_times(self, message_ids: list[str]) -> list[bool]:
        """:meth:`first_time` for a whole batch in a few statements."""
        return self._require_inbox().first_times(self.session, message_ids)

    def _require_inbox(self) -> Inbox:
        if self._inbox is None:
            raise RuntimeError("this unit of work has no inbox; build Transactions with one")
        return self._inbox

    def caused_by(self, event: BaseModel | None) -> None:
        """Take the correlation and causation ids for what follows from ``event``."""
        if event is None:
            self.correlation_id = self.causation_id = None
            return
        event_id = getattr(event, "event_id", None)
        self.causation_id = str(event_id) if event_id is not None else None
        self.correlation_id = getattr(event, "correlation_id", None) or self.causation_id

    def ids(self) -> dict[str, str | None]:
        """``correlation_id`` and ``causation_id`` for an event caused by the current message."""
        return {"correlation_id": self.correlation_id, "causation_id": self.causation_id}

    def pop_effects(self) -> list[Effect]:
        effects, self._effects = self._effects, []
        return effects


class Transactions(Generic[R]):
    """Builds and runs units of work for one service (its database, outbox, clock, repos)."""

    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        clock: Clock,
        repositories: Callable[[Session], R],
        *,
        inbox: Inbox | None = None,
        service: str | None = None,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.clock = clock
        self.repositories = repositories
        self.inbox = inbox
        self.service = service or outbox.service

    async def run(self, fn: Callable[[UnitOfWork[R]], T], *, cause: BaseModel | None = None) -> T:
        """Run ``fn(uow)`` in one transaction; then wake the relay and run the effects."""
        now = self.clock.now()

        def work(session: Session) -> tuple[T, UnitOfWork[R]]:
            uow = UnitOfWork(
                session, self.repositories(session), self.outbox, now, inbox=self.inbox
            )
            uow.caused_by(cause)
            result = fn(uow)
            uow.write_deferred()
            return result, uow

        result, uow = await self.db.run(work)
        await self._after_commit(uow)
        return result

    def run_sync(self, fn: Callable[[UnitOfWork[R]], T]) -> T:
        """``run`` for code already off the event loop (a bulk import's thread, the command
        line): ``fn(uow)`` in one transaction. The caller wakes the outbox relay afterwards
        (its wake-up belongs to the event loop's thread); after-commit effects are refused."""
        with self.db.session() as session:
            uow = UnitOfWork(
                session, self.repositories(session), self.outbox, self.clock.now(), inbox=self.inbox
            )
            result = fn(uow)
            uow.write_deferred()
            if uow.pop_effects():
                raise RuntimeError("after-commit effects need Transactions.run on the event loop")
            return result

    async def read(self, fn: Callable[[R], T]) -> T:
        """Run the read-only ``fn(repos)`` on a snapshot (views; never writes)."""
        return await self.db.read(lambda session: fn(self.repositories(session)))

    async def _after_commit(self, uow: UnitOfWork[R]) -> None:
        if uow.published:
            self.outbox.notify()
        for effect in uow.pop_effects():
            try:
                result = effect()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # committed already: an effect is an optimisation, never state
                log.exception("after-commit effect failed", service=self.service)


Handler = Callable[[Any, UnitOfWork[R]], Any]


class Unhandled(LookupError):
    """No handler for this contract type (a consumer subscribed to more than its table)."""


class HandlerTable(Generic[R]):
    """Contract type → handler; a subclass's event goes to its nearest registered base."""

    def __init__(self, handlers: Mapping[type[BaseModel], Handler[R]] | None = None) -> None:
        self._handlers: dict[type[BaseModel], Handler[R]] = dict(handlers or {})

    def register(self, *types: type[BaseModel]) -> Callable[[Handler[R]], Handler[R]]:
        """Decorator form: ``@HANDLERS.register(Signal)`` above ``def on_signal(msg, uow)``."""

        def add(handler: Handler[R]) -> Handler[R]:
            for kind in types:
                if kind in self._handlers:
                    raise ValueError(f"{kind.__name__} already has a handler")
                self._handlers[kind] = handler
            return handler

        return add

    @property
    def types(self) -> tuple[type[BaseModel], ...]:
        return tuple(self._handlers)

    def handler_for(self, event: BaseModel) -> Handler[R]:
        for kind in type(event).__mro__:
            handler = self._handlers.get(kind)
            if handler is not None:
                return handler
        raise Unhandled(f"no handler for {type(event).__name__}")

    def __contains__(self, event: BaseModel) -> bool:
        return any(kind in self._handlers for kind in type(event).__mro__)

    def dispatch(self, event: BaseModel, uow: UnitOfWork[R]) -> Any:
        """Call the event's handler inside ``uow`` with the event as cause."""
        uow.caused_by(event)
        return self.handler_for(event)(event, uow)

    async def handle(
        self, tx: Transactions[R], event: BaseModel, *, message_id: str | None = None
    ) -> Any:
        """Handle one message in its own unit of work, once.

        With an inbox on ``tx``, a message whose id (``message_id`` or the event's
        ``event_id``) was applied before changes nothing and returns None.
        """
        self.handler_for(event)  # fail before opening a transaction
        key = message_id or str(getattr(event, "event_id", "") or "") or None

        def work(uow: UnitOfWork[R]) -> tuple[bool, Any]:
            if tx.inbox is not None and key is not None and not uow.first_time(key):
                return False, None
            return True, self.dispatch(event, uow)

        applied, result = await tx.run(work, cause=event)
        if not applied:
            MESSAGES_CONSUMED.labels(tx.service, "*", "duplicate").inc()
        return result

    async def handle_batch(self, tx: Transactions[R], events: Iterable[BaseModel]) -> list[Any]:
        """Handle a batch in ONE unit of work (one commit), each event in order, each once."""
        batch = list(events)
        for event in batch:
            self.handler_for(event)

        def work(uow: UnitOfWork[R]) -> list[Any]:
            if tx.inbox is None:
                return [self.dispatch(event, uow) for event in batch]
            # One inbox check for the batch, not two statements per event; events without
            # an id are always applied.
            ids = [str(getattr(event, "event_id", "") or "") for event in batch]
            first = iter(uow.first_times([i for i in ids if i]))
            fresh = [e for e, i in zip(batch, ids, strict=True) if not i or next(first)]
            if duplicates := len(batch) - len(fresh):
                MESSAGES_CONSUMED.labels(tx.service, "*", "duplicate").inc(duplicates)
            return [self.dispatch(event, uow) for event in fresh]

        return await tx.run(work)
