"""Load a seed file (YAML: users, workers, partners, households) into an empty registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import yaml

from anbu_runtime.auth import SERVICE
from anbu_runtime.logs import get_logger
from anbu_runtime.uow import Transactions

from ..domain.model import HouseholdIn, PartnerIn, UserIn, WorkerIn
from ..handlers import households, partners, users, workers
from .repository import Repositories, UoW

log = get_logger(__name__)


def seeding(tx: Transactions[Repositories], path: Path) -> Callable[[], Awaitable[None]]:
    """The start-up step that loads ``path`` into an empty registry."""

    async def seed() -> None:
        counts = await tx.run(lambda uow: load_seed(uow, path))
        if counts:
            log.info("seed loaded", file=str(path), **counts)

    return seed


def load_seed(uow: UoW, path: Path) -> dict[str, int]:
    """Register the seed unless the registry has households already; counts by kind."""
    if uow.repos.any_household():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    counts = {"workers": 0, "households": 0, "users": 0, "partners": 0}
    for item in data.get("workers", []):
        workers.register(uow, WorkerIn.model_validate(item), SERVICE)
        counts["workers"] += 1
    for item in data.get("households", []):
        households.register(uow, HouseholdIn.model_validate(item), SERVICE)
        counts["households"] += 1
    for item in data.get("users", []):
        users.create(uow, UserIn.model_validate(item), SERVICE)
        counts["users"] += 1
    for item in data.get("partners", []):
        partners.create(uow, PartnerIn.model_validate(item), SERVICE)
        counts["partners"] += 1
    return counts
