"""An in-memory recipient directory with the registry client's interface.

Households and workers are registered with their people; ``resolve`` answers the way the
registry's ``/internal/v1/recipients/resolve`` does (404 → RecipientNotFound), and can be
told to be unavailable for the next calls.
"""

from __future__ import annotations

from collections import defaultdict

from anbu_contracts import RecipientKind, RecipientRef
from anbu_notifier.adapters.registry_client import DirectoryUnavailable, RecipientNotFound
from anbu_notifier.domain.model import Recipient


class FakeDirectory:
    def __init__(self) -> None:
        self.people: dict[str, dict[RecipientKind, list[Recipient]]] = defaultdict(dict)
        self.workers: dict[str, Recipient] = {}
        self.lookups: list[tuple[RecipientRef, str]] = []
        self.unavailable = 0

    def add(self, household_id: str, kind: RecipientKind, *recipients: Recipient) -> None:
        self.people[household_id].setdefault(kind, []).extend(recipients)

    def add_worker(self, recipient: Recipient) -> None:
        self.workers[recipient.person_ref] = recipient

    def remove_household(self, household_id: str) -> None:
        self.people.pop(household_id, None)

    async def resolve(self, recipient: RecipientRef, purpose: str) -> list[Recipient]:
        self.lookups.append((recipient, purpose))
        if self.unavailable > 0:
            self.unavailable -= 1
            raise DirectoryUnavailable("registry answered 503")
        if recipient.kind in (RecipientKind.STAFF, RecipientKind.DUTY_OFFICER):
            worker = self.workers.get(recipient.ref or "")
            return [worker] if worker else []
        if recipient.household_id not in self.people:
            raise RecipientNotFound(f"household {recipient.household_id} not found")
        found = self.people[recipient.household_id].get(recipient.kind, [])
        return [r for r in found if recipient.ref in (None, r.person_ref)]

    async def close(self) -> None:
        return None
