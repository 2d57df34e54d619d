"""Alembic environment: the registry's metadata; the connection comes from the caller."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from anbu_registry.adapters.orm import metadata
from anbu_runtime.outbox import install

install(metadata)  # the outbox and inbox live in the registry's database too
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
