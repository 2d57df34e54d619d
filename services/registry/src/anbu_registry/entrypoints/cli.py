"""``anbu-registry-import FILE``: bulk-import households from CSV, with progress.

    anbu-registry-import households.csv --dry-run
    anbu-registry-import households.csv --batch-size 2000

Uses the registry's configured database (``ANBU_REGISTRY_DATABASE_URL``) and PII keys; the
snapshots go out through the outbox when the registry service runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from anbu_runtime.auth import SERVICE
from anbu_runtime.clock import SystemClock
from anbu_runtime.db import Database
from anbu_runtime.outbox import Outbox, install
from anbu_runtime.settings import CommonSettings
from anbu_runtime.uow import Transactions

from ..adapters.migrations import upgrade
from ..adapters.orm import metadata
from ..adapters.pii import cipher_from_settings
from ..adapters.repository import Repositories
from ..domain.import_progress import pace
from ..handlers.common import Context
from ..handlers.imports import HeaderError, ImportReport, MalformedFile, file_lines, run_import


def import_main(argv: list[str] | None = None) -> int:
    from ..bootstrap import RegistrySettings

    parser = argparse.ArgumentParser(
        prog="anbu-registry-import",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes that validate and seal batches (0: none, all in this process)",
    )
    parser.add_argument("--encoding", default="utf-8-sig", help="e.g. euc-kr for legacy files")
    parser.add_argument("--report", type=Path, help="write the full report as JSON here")
    args = parser.parse_args(argv)

    common, settings = CommonSettings(), RegistrySettings()
    db = Database(settings.resolved_database_url(common, "registry"))
    with db.schema_lock():
        upgrade(db)
    ctx = Context(cipher_from_settings(settings.pii_keys, settings.blind_index_key, common.var_dir))
    tx = Transactions(
        db,
        Outbox(install(metadata), "registry"),
        SystemClock(),
        lambda session: Repositories(session, ctx),
    )
    started = time.monotonic()
    total = args.file.stat().st_size

    def progress(report: ImportReport) -> None:
        at = pace(
            running=True,
            rows=report.rows,
            bytes_done=binary.tell(),
            bytes_total=total,
            elapsed=time.monotonic() - started,
        )
        sys.stderr.write(
            f"\r{report.rows:>10,} rows  {report.imported:>10,} imported  "
            f"{report.invalid:>7,} invalid  {at.rows_per_second or 0:>8,.0f} rows/s"
            f"  ETA {'?' if at.eta_seconds is None else f'{at.eta_seconds:,.0f} s'}   "
        )
        sys.stderr.flush()

    # What is loaded by now lives until exit: keeping it out of the collector's scans takes
    # a third off the CPU an imported row costs (docs/performance.md).
    gc.freeze()
    try:
        with args.file.open("rb") as binary:
            report = run_import(
                tx,
                ctx.cipher,
                file_lines(binary, args.encoding),
                SERVICE,
                dry_run=args.dry_run,
                batch_size=args.batch_size,
                progress=progress,
                workers=args.workers,
                start_method="fork",  # one thread here: forked workers skip the imports
            )
    except HeaderError as exc:
        sys.stderr.write(f"error: line 1: {exc}\n")
        return 2
    except MalformedFile as exc:
        done = exc.report.imported if exc.report else 0
        sys.stderr.write(f"\nerror: {exc} ({done:,} households imported before it)\n")
        return 2
    sys.stderr.write("\n")
    summary = {k: v for k, v in asdict(report).items() if k != "errors"}
    sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
    for error in report.errors[:20]:
        sys.stdout.write(f"line {error.line}: {'; '.join(error.errors)}\n")
    if args.report:
        args.report.write_text(json.dumps(asdict(report), ensure_ascii=False, indent=2))
    db.dispose()
    return 0 if report.invalid == 0 else 1


if __name__ == "__main__":
    sys.exit(import_main())
