"""Run the registry's Alembic migrations (at start-up, and from the command line).

anbu-registry-db upgrade            migrate the configured database to head
anbu-registry-db revision -m MSG    autogenerate a migration from the models
"""

from __future__ import annotations

import sys

from anbu_runtime.migrations import Migrations
from anbu_runtime.migrations import main as migrations_main

MIGRATIONS = Migrations("anbu_registry.migrations")
upgrade = MIGRATIONS.upgrade


def main(argv: list[str] | None = None) -> int:
    from anbu_runtime.settings import CommonSettings

    from ..bootstrap import RegistrySettings

    url = RegistrySettings().resolved_database_url(CommonSettings(), "registry")
    return migrations_main([MIGRATIONS.package, "--url", url, *(argv or sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
