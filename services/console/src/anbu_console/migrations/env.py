"""Alembic environment: the console's read model (plus the outbox and inbox)."""

from anbu_console.adapters.orm import metadata
from anbu_runtime.migrations import run_env

run_env(metadata)
