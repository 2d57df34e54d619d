"""Load a seed file (YAML: households with people, and workers) into an empty registry."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlmodel import Session, select

from ..domain.model import HouseholdIn, WorkerIn
from ..handlers import Registry
from .orm import HouseholdRow


def load_seed(session: Session, registry: Registry, path: Path) -> tuple[int, int]:
    """Register the seed's workers and households unless the registry has households already."""
    if session.exec(select(HouseholdRow).limit(1)).first() is not None:
        return 0, 0
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    workers = [WorkerIn.model_validate(w) for w in data.get("workers", [])]
    households = [HouseholdIn.model_validate(h) for h in data.get("households", [])]
    for worker in workers:
        registry.register_worker(session, worker, "seed")
    for household in households:
        registry.register_household(session, household, "seed")
    return len(households), len(workers)
