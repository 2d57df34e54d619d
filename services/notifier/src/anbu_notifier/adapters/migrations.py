"""The notifier's Alembic migrations: run under the schema lock before the service serves
(any number of replicas may start together), and from the command line.

anbu-notifier-db upgrade            migrate the configured database to head
anbu-notifier-db revision -m MSG    autogenerate a migration from the models
"""

from __future__ import annotations

import sys

from anbu_runtime.migrations import Migrations
from anbu_runtime.migrations import main as migrations_main

MIGRATIONS = Migrations("anbu_notifier.migrations")


def main(argv: list[str] | None = None) -> int:
    from anbu_runtime.settings import CommonSettings

    from ..bootstrap import NotifierSettings

    url = NotifierSettings().resolved_database_url(CommonSettings(), "notifier")
    return migrations_main([MIGRATIONS.package, "--url", url, *(argv or sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
