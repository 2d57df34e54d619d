"""Alembic migrations for every service with a database, run once under the schema lock.

A service keeps its migrations in a ``migrations`` package beside its code (``env.py``,
``script.py.mako``, ``versions/``). Its ``env.py`` is two lines::

    from anbu_runtime.migrations import run_env
    from anbu_x.adapters.orm import metadata
    run_env(metadata)

:class:`Migrations` upgrades a database to head (at start-up, under
:meth:`Database.schema_lock`, so replicas starting together take turns and the second finds
nothing to do) and autogenerates revisions from the command line
(``python -m anbu_runtime.migrations <package> revision -m MSG --url URL``).
:func:`schema_drift` lists the differences between the migrated schema and the models, so
a test fails when a model changes without a migration.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, inspect, pool

from .db import Database
from .outbox import install


class Migrations:
    """The migrations package of one service (e.g. ``"anbu_detector.migrations"``)."""

    def __init__(self, package: str) -> None:
        self.package = package

    @property
    def location(self) -> Path:
        module = import_module(self.package)
        assert module.__file__ is not None
        return Path(module.__file__).resolve().parent

    def config(self, url: str) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.location))
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        return config

    def upgrade(self, db: Database) -> None:
        """Bring ``db`` to the newest schema (idempotent). Call it under the schema lock.

        A database made by ``create_all`` (it has the outbox but no version table) is
        adopted: stamped at head when its schema already is the models' (``create_all``
        from today's code: a benchmark's seed, a test fixture), otherwise at the first
        revision, which describes the schema services made before they had migrations,
        and migrated on from there.
        """
        config = self.config(db.url)
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            tables = set(inspect(connection).get_table_names())
            if "outbox" in tables and "alembic_version" not in tables:
                command.stamp(config, self._adopted_at(config, connection))
            command.upgrade(config, "head")

    def _adopted_at(self, config: Config, connection: Any) -> str:
        """The revision an unversioned database is at: head if it matches the models."""
        command.current(config)  # runs env.py, which leaves the models in the config
        metadata = config.attributes.get("target_metadata")
        if metadata is not None and not _compare(connection, metadata):
            return "head"
        return ScriptDirectory.from_config(config).get_bases()[0]

    def __call__(self, db: Database) -> None:  # ServiceRuntime(migrate=...)
        self.upgrade(db)

    def revision(self, url: str, message: str) -> None:
        """Autogenerate a revision against the database at ``url`` (migrated to head first)."""
        self.upgrade(Database(url))
        command.revision(self.config(url), message=message, autogenerate=True)


def run_env(metadata: MetaData) -> None:
    """The body of a service's Alembic ``env.py``: migrate ``metadata`` (plus outbox/inbox)."""
    from alembic import context

    install(metadata)  # the outbox and inbox live in every service's database
    config = context.config
    config.attributes["target_metadata"] = metadata  # for Migrations' adoption check
    connection = config.attributes.get("connection")
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "render_as_batch": True,  # SQLite alters tables by copying them
        "compare_type": True,
        "include_object": _ours,
    }
    if connection is not None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, **options)
        with context.begin_transaction():
            context.run_migrations()


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate only the service's own tables: a table in the database that no model
    describes (APScheduler's ``timers_pNN`` job stores share the detector's PostgreSQL
    database) is someone else's, never a table to drop."""
    return not (type_ == "table" and reflected and compare_to is None)


def schema_drift(db: Database, metadata: MetaData) -> list[Any]:
    """Differences between ``db``'s schema and ``metadata`` (empty when migrations match)."""
    install(metadata)
    with db.engine.connect() as connection:
        return _compare(connection, metadata)


def _compare(connection: Any, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": False, "include_object": _ours}
    )
    return list(compare_metadata(context, metadata))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m anbu_runtime.migrations", description="Run a service's migrations."
    )
    parser.add_argument("package", help="e.g. anbu_detector.migrations")
    parser.add_argument("--url", required=True, help="database URL")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("upgrade")
    revision = sub.add_parser("revision")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    migrations = Migrations(args.package)
    if args.command == "upgrade":
        db = Database(args.url)
        with db.schema_lock():
            migrations.upgrade(db)
    else:
        migrations.revision(args.url, args.message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
