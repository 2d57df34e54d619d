"""Run the gateway's Alembic migrations (at start-up, and from the command line).

python -m anbu_gateway.adapters.migrations upgrade            migrate the configured database
python -m anbu_gateway.adapters.migrations revision -m MSG    autogenerate a migration
"""

from __future__ import annotations

import sys

from anbu_runtime.migrations import Migrations
from anbu_runtime.migrations import main as migrations_main

MIGRATIONS = Migrations("anbu_gateway.migrations")
upgrade = MIGRATIONS.upgrade


def main(argv: list[str] | None = None) -> int:
    from anbu_runtime.settings import CommonSettings

    from ..bootstrap import NAME, GatewaySettings

    url = GatewaySettings().resolved_database_url(CommonSettings(), NAME)
    return migrations_main([MIGRATIONS.package, "--url", url, *(argv or sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
