"""Run the registry's Alembic migrations (at start-up, and from the command line).

anbu-registry-db upgrade            migrate the configured database to head
anbu-registry-db revision -m MSG    autogenerate a migration from the models
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from anbu_runtime.db import Database

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(db: Database) -> None:
    """Bring ``db`` to the newest schema (idempotent)."""
    config = alembic_config(db.url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def main(argv: list[str] | None = None) -> int:
    from anbu_runtime.settings import CommonSettings

    from ..bootstrap import RegistrySettings

    parser = argparse.ArgumentParser(prog="anbu-registry-db", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("upgrade")
    revision = sub.add_parser("revision")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    url = RegistrySettings().resolved_database_url(CommonSettings(), "registry")
    if args.command == "upgrade":
        upgrade(Database(url))
    else:
        command.revision(alembic_config(url), message=args.message, autogenerate=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
