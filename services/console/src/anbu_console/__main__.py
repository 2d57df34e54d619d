"""``python -m anbu_console``: run the console until SIGINT or SIGTERM.

``python -m anbu_console rebuild`` drops the read model and replays the topics from their
beginning into it (the service may keep running meanwhile), then prints what it folded.
"""

from __future__ import annotations

import asyncio
import sys

from anbu_runtime.db import Database
from anbu_runtime.service import serve
from anbu_runtime.settings import CommonSettings

from .adapters.orm import metadata
from .adapters.replay import prepare, rebuild
from .bootstrap import NAME, ConsoleSettings, create
from .entrypoints.consumers import INPUT_TOPICS


def rebuild_command() -> int:
    common, settings = CommonSettings(), ConsoleSettings()
    db = Database(settings.resolved_database_url(common, NAME))
    db.create_all(metadata)
    try:
        with db.session() as session:
            prepare(session)
        report = asyncio.run(rebuild(db, common.kafka_bootstrap, INPUT_TOPICS))
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
