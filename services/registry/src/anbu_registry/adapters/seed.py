"""Load a seed file (YAML: users, workers, partners, households) into an empty registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import yaml
from sqlmodel import Session, select

from anbu_runtime.auth import SERVICE
from anbu_runtime.db import Database
from anbu_runtime.logs import get_logger

from ..domain.model import HouseholdIn, PartnerIn, UserIn, WorkerIn
from ..handlers import households, partners, users, workers
from ..handlers.common import Context
from .orm import HouseholdRow

log = get_logger(__name__)


def seeding(db: Database, ctx: Context, path: Path) -> Callable[[], Awaitable[None]]:
    """The start-up step that loads ``path`` into an empty registry."""

    async def seed() -> None:
        counts = await db.run(lambda s: load_seed(s, ctx, path))
        if counts:
            log.info("seed loaded", file=str(path), **counts)

    return seed


def load_seed(session: Session, ctx: Context, path: Path) -> dict[str, int]:
    """Register the seed unless the registry has households already; counts by kind."""
    if session.exec(select(HouseholdRow).limit(1)).first() is not None:
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    counts = {"workers": 0, "households": 0, "users": 0, "partners": 0}
    for item in data.get("workers", []):
        workers.register(ctx, session, WorkerIn.model_validate(item), SERVICE)
        counts["workers"] += 1
    for item in data.get("households", []):
        households.register(ctx, session, HouseholdIn.model_validate(item), SERVICE)
        counts["households"] += 1
    for item in data.get("users", []):
        users.create(ctx, session, UserIn.model_validate(item), SERVICE)
        counts["users"] += 1
    for item in data.get("partners", []):
        partners.create(ctx, session, PartnerIn.model_validate(item), SERVICE)
        counts["partners"] += 1
    return counts
