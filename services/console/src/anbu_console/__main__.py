"""``python -m anbu_console``: run the console until SIGINT or SIGTERM.

``python -m anbu_console rebuild`` drops the read model and replays the topics from their
beginning into it (the service may keep running meanwhile), then prints what it folded.
"""

from __future__ import annotations

import asyncio
import sys

from anbu_runtime.clock import SystemClock
from anbu_runtime.db import Database
from anbu_runtime.outbox import Outbox, install
from anbu_runtime.service import serve
from anbu_runtime.settings import CommonSettings
from anbu_runtime.uow import Transactions

from .adapters.migrations import MIGRATIONS
from .adapters.orm import metadata
from .adapters.replay import prepare
from .adapters.repository import ReadModel
from .bootstrap import NAME, ConsoleSettings, create
from .entrypoints.consumers import INPUT_TOPICS
from .handlers.rebuild import rebuild


def rebuild_command() -> int:
    common, settings = CommonSettings(), ConsoleSettings()
    db = Database(settings.resolved_database_url(common, NAME))
    try:
        with db.schema_lock():  # a console starting meanwhile migrates after us, or before
            MIGRATIONS.upgrade(db)
        with db.session() as session:
            prepare(session)
        # The console never publishes; the outbox is there because every unit of work has one.
        tx = Transactions(db, Outbox(install(metadata), NAME), SystemClock(), ReadModel)
        report = asyncio.run(rebuild(tx, common.kafka_bootstrap, INPUT_TOPICS))
    finally:
        db.dispose()
    print(f"read model rebuilt: {report.records} records folded, {report.skipped} skipped")  # noqa: T201
    return 0


def main() -> None:
    if sys.argv[1:2] == ["rebuild"]:
        raise SystemExit(rebuild_command())
    runtime, app = create()
    serve(app, runtime)


if __name__ == "__main__":
    main()
