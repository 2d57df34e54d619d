"""A task's team slots and the offers made for them: the offer lifecycle, pure.

Every slot of a task's team (one per role, see :func:`.assignment.team_slots`) is offered
to one person at a time. An offer is *offered* until the person accepts or declines, or
until its window passes (*expired*); a declined or lapsed slot goes to the next candidate,
and a person who declined or let an offer lapse is never offered the same task again. A
slot nobody can take is *vacant*: the task is then ``unassigned`` and the duty officer has
it (an operator may offer the slot by hand).

The task is ``accepted`` when the whole team has accepted; until then it stays ``offered``
(or ``unassigned`` while a slot is vacant), and members who accepted keep their place. Any
member who accepted may record the outcome, which completes the task; the visit is
``started`` only by a complete team (nobody goes alone). A task nobody accepted expires
some time after its deadline; a task the protocol no longer needs is cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from anbu_contracts import Role, TaskStatus, TaskType, Urgency

OPEN = frozenset(
    {TaskStatus.OFFERED, TaskStatus.ACCEPTED, TaskStatus.UNASSIGNED, TaskStatus.STARTED}
)
ENDED = frozenset({TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.EXPIRED})
IN_PERSON_TYPES = frozenset(
    {
        TaskType.HOME_VISIT,
        TaskType.VISIT_STICKER,
        TaskType.DOOR_OPENING,
        TaskType.EMERGENCY_RESPONSE,
        TaskType.INVESTIGATION,
    }
)
CRITICAL_TYPES = frozenset(
    {TaskType.EMERGENCY_RESPONSE, TaskType.DOOR_OPENING, TaskType.MISSING_PERSON_REPORT}
)
HIGH_WITHIN = timedelta(hours=24)


class TaskStateError(ValueError):
    """The task is not in a state that allows this (accepting a cancelled task, ...)."""


class OfferState(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"  # not answered within the offer window
    WITHDRAWN = "withdrawn"  # the task ended before the person answered
    CLOSED = "closed"  # accepted, and the task has ended

    @property
    def active(self) -> bool:
        return self in (OfferState.OFFERED, OfferState.ACCEPTED)


class DeclineReason(StrEnum):
    """Why a person declined (a code: the free-text note stays in outreach's database)."""

    BUSY = "busy"
    OFF_DUTY = "off_duty"
    TOO_FAR = "too_far"
    CONFLICT_OF_INTEREST = "conflict_of_interest"
    SAFETY = "safety"
    OTHER = "other"


def task_urgency(task_type: TaskType, created_at: datetime, deadline: datetime) -> Urgency:
    """Critical for emergencies and police steps; high when due within a day; else routine."""
    if task_type in CRITICAL_TYPES:
        return Urgency.CRITICAL
    if deadline - created_at <= HIGH_WITHIN:
        return Urgency.HIGH
    return Urgency.ROUTINE


@dataclass(frozen=True)
class OfferWindows:
    """How long a person has to answer an offer, on the service clock.

    ``minimum`` is a floor in simulated time that the caller derives from a floor in real
    seconds: under an accelerated clock (demos, end-to-end runs) people still answer in
    real seconds.
    """

    urgent: timedelta = timedelta(minutes=15)
    routine: timedelta = timedelta(hours=2)
    minimum: timedelta = timedelta(0)

    def for_urgency(self, urgency: Urgency) -> timedelta:
        window = self.routine if urgency is Urgency.ROUTINE else self.urgent
        return max(window, self.minimum)


@dataclass
class Offer:
    slot: int
    role: Role
    worker_id: str
    state: OfferState
    offered_at: datetime
    expires_at: datetime
    decided_at: datetime | None = None
    reason: DeclineReason | None = None


@dataclass
class Change:
    """What one operation did, for the caller to persist, publish and notify."""

    offered: list[Offer] = field(default_factory=list)
    accepted: list[Offer] = field(default_factory=list)
    declined: list[Offer] = field(default_factory=list)
    expired: list[Offer] = field(default_factory=list)
    became_vacant: list[int] = field(default_factory=list)

    def merge(self, other: Change) -> Change:
        self.offered += other.offered
        self.accepted += other.accepted
        self.declined += other.declined
        self.expired += other.expired
        self.became_vacant += other.became_vacant
        return self


@dataclass
class TaskAssignment:
    """One task's slots, its offers (all of them, past and present) and its status."""

    status: TaskStatus
    slots: list[Role]
    offers: list[Offer] = field(default_factory=list)

    # -- reading -------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def holder(self, slot: int) -> Offer | None:
        """The slot's current offer (offered or accepted), if any; once the task has ended,
        the offer that held the slot at the end."""
        holding = (
            (OfferState.CLOSED, OfferState.WITHDRAWN)
            if self.status in ENDED
            else (OfferState.OFFERED, OfferState.ACCEPTED)
        )
        for offer in reversed(self.offers):
            if offer.slot == slot and offer.state in holding:
                return offer
        return None

    def vacant_slots(self) -> list[int]:
        return [i for i in range(len(self.slots)) if self.holder(i) is None]

    def active_offers(self) -> list[Offer]:
        return [o for o in (self.holder(i) for i in range(len(self.slots))) if o is not None]

    def assignees(self) -> list[str]:
        """The people holding the team's slots, in slot order (offered or accepted)."""
        return [o.worker_id for o in self.active_offers()]

    def accepted_by(self) -> list[str]:
        accepted = (OfferState.ACCEPTED, OfferState.CLOSED)
        return [o.worker_id for o in self.active_offers() if o.state in accepted]

    def tried(self) -> frozenset[str]:
        """People never to be offered this task again: they declined or let it lapse."""
        return frozenset(
            o.worker_id for o in self.offers if o.state in (OfferState.DECLINED, OfferState.EXPIRED)
        )

    def excluded(self) -> frozenset[str]:
        """Everyone a new offer of this task must not go to."""
        return self.tried() | frozenset(self.assignees())

    def has_accepted(self, worker_id: str) -> bool:
        return worker_id in self.accepted_by()

    def team_complete(self) -> bool:
        return len(self.accepted_by()) == len(self.slots)

    def _offer_of(self, worker_id: str) -> Offer | None:
        for offer in self.active_offers():
            if offer.worker_id == worker_id:
                return offer
        return None

    def _require_open(self, action: str) -> None:
        if not self.is_open:
            raise TaskStateError(f"the task is {self.status.value}; it cannot be {action}")

    # -- offering ------------------------------------------------------------------

    def offer(self, slot: int, worker_id: str, now: datetime, window: timedelta) -> Offer:
        """Offer the vacant ``slot`` to ``worker_id``."""
        self._require_open("offered")
        if not 0 <= slot < len(self.slots):
            raise TaskStateError(f"the team has no slot {slot}")
        if self.holder(slot) is not None:
            raise TaskStateError(f"slot {slot} is already offered")
        if worker_id in self.excluded():
            raise TaskStateError(f"{worker_id} is on the team or has already been asked")
        if self.status is TaskStatus.STARTED:
            raise TaskStateError("a started task takes no new people")
        offer = Offer(slot, self.slots[slot], worker_id, OfferState.OFFERED, now, now + window)
        self.offers.append(offer)
        self._settle()
        return offer

    def fill(self, choices: Sequence[str | None], now: datetime, window: timedelta) -> Change:
        """Offer each vacant slot to the chosen person (None leaves it vacant)."""
        change = Change()
        for slot, worker_id in zip(self.vacant_slots(), choices, strict=False):
            if worker_id is None:
                change.became_vacant.append(slot)
            else:
                change.offered.append(self.offer(slot, worker_id, now, window))
        self._settle()
        return change

    # -- answers -------------------------------------------------------------------

    def accept(self, worker_id: str, now: datetime) -> Offer:
        """The person accepts their offer; accepting twice is harmless."""
        self._require_open("accepted")
        offer = self._offer_of(worker_id)
        if offer is None:
            raise TaskStateError(f"the task is not offered to {worker_id}")
        if offer.state is OfferState.OFFERED:
            offer.state, offer.decided_at = OfferState.ACCEPTED, now
        self._settle()
        return offer

    def decline(self, worker_id: str, now: datetime, reason: DeclineReason) -> Offer:
        """The person declines a pending offer; their slot becomes vacant."""
        self._require_open("declined")
        offer = self._offer_of(worker_id)
        if offer is None:
            raise TaskStateError(f"the task is not offered to {worker_id}")
        if offer.state is not OfferState.OFFERED:
            raise TaskStateError(f"{worker_id} has accepted the task; ask the duty officer")
        offer.state, offer.decided_at, offer.reason = OfferState.DECLINED, now, reason
        self._settle()
        return offer

    def expire_offers(self, now: datetime) -> list[Offer]:
        """Offers whose window has passed unanswered lapse; their slots become vacant."""
        if not self.is_open:
            return []
        lapsed = [
            o for o in self.active_offers() if o.state is OfferState.OFFERED and o.expires_at <= now
        ]
        for offer in lapsed:
            offer.state, offer.decided_at = OfferState.EXPIRED, now
        self._settle()
        return lapsed

    # -- the work ------------------------------------------------------------------

    def start(self, worker_id: str) -> None:
        """A member of a complete team sets out (nobody goes alone)."""
        self._require_open("started")
        if not self.has_accepted(worker_id):
            raise TaskStateError(f"{worker_id} has not accepted the task")
        if not self.team_complete():
            raise TaskStateError("the whole team must accept before the task starts")
        self.status = TaskStatus.STARTED

    def complete(self, worker_id: str, now: datetime) -> None:
        """A member who accepted records the outcome; the task is done."""
        self._require_open("completed")
        if not self.has_accepted(worker_id):
            raise TaskStateError(f"{worker_id} has not accepted the task")
        self.end(TaskStatus.COMPLETED, now)

    def end(self, status: TaskStatus, now: datetime) -> None:
        """Close the task (completed, cancelled, expired) and every offer still standing."""
        if status not in ENDED:
            raise TaskStateError(f"{status.value} does not end a task")
        self._require_open(status.value)
        for offer in self.active_offers():
            offer.state = (
                OfferState.CLOSED if offer.state is OfferState.ACCEPTED else OfferState.WITHDRAWN
            )
            offer.decided_at = offer.decided_at or now
        self.status = status

    def is_stale(self, deadline: datetime, now: datetime, grace: timedelta) -> bool:
        """Nobody accepted, and the deadline passed ``grace`` ago: the task expires."""
        return self.is_open and not self.accepted_by() and now >= deadline + grace

    def _settle(self) -> None:
        if self.status not in (TaskStatus.OFFERED, TaskStatus.ACCEPTED, TaskStatus.UNASSIGNED):
            return
        if self.vacant_slots():
            self.status = TaskStatus.UNASSIGNED
        elif self.team_complete():
            self.status = TaskStatus.ACCEPTED
        else:
            self.status = TaskStatus.OFFERED
