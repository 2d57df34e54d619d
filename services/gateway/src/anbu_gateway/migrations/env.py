"""Alembic environment: the gateway's metadata (plus the outbox and inbox)."""

from anbu_gateway.adapters.orm import metadata
from anbu_runtime.migrations import run_env

run_env(metadata)
