"""The one computation of an import's pace (share done, rows/s, ETA) behind the status
endpoint, the ops.job.v1 event and the command line's counter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from anbu_registry.adapters.events import import_progress
from anbu_registry.adapters.orm import HouseholdImportRow
from anbu_registry.domain.import_progress import Pace, pace
from anbu_registry.entrypoints.routes.imports import status_view


def test_a_running_import_has_its_share_its_rate_and_the_time_left_at_that_rate() -> None:
    at = pace(running=True, rows=3000, bytes_done=250, bytes_total=1000, elapsed=6.0)
    # a quarter in 6 s: three quarters left take 18 s
    assert at == Pace(share=0.25, rows_per_second=500.0, eta_seconds=18.0)


def test_the_share_is_rounded_to_four_places() -> None:
    assert pace(running=True, rows=1, bytes_done=1, bytes_total=3, elapsed=1.0).share == 0.3333


def test_no_rows_yet_is_a_rate_of_zero_and_no_eta_before_any_byte() -> None:
    assert pace(running=True, rows=0, bytes_done=0, bytes_total=1000, elapsed=2.0) == Pace(
        0.0, 0.0, None
    )


def test_no_time_elapsed_gives_no_rate_and_no_eta() -> None:
    assert pace(running=True, rows=0, bytes_done=0, bytes_total=1000, elapsed=0.0) == Pace(
        0.0, None, None
    )
    assert pace(running=True, rows=50, bytes_done=500, bytes_total=1000, elapsed=0.0) == Pace(
        0.5, None, None
    )


def test_more_bytes_done_than_the_file_holds_clamps_to_all_and_nothing_left() -> None:
    assert pace(running=True, rows=10, bytes_done=1200, bytes_total=1000, elapsed=5.0) == Pace(
        1.0, 2.0, 0.0
    )


def test_an_empty_file_is_wholly_done() -> None:
    assert pace(running=True, rows=0, bytes_done=0, bytes_total=0, elapsed=1.0).share == 1.0


def test_a_finished_import_has_no_eta_and_keeps_the_share_it_reached() -> None:
    assert pace(running=False, rows=400, bytes_done=400, bytes_total=1000, elapsed=4.0) == Pace(
        0.4, 100.0, None
    )


def test_the_status_endpoint_and_the_event_report_the_same_pace() -> None:
    started = datetime(2026, 12, 4, 9, tzinfo=UTC)
    job = HouseholdImportRow(
        import_id="IMP-PACE",
        state="running",
        started_by="service",
        batch_size=1000,
        bytes_total=3,
        bytes_done=1,
        rows=7,
        started_at=started,
        updated_at=started + timedelta(seconds=3),
    )
    view = status_view(job)
    event = import_progress(job, started + timedelta(seconds=4))
    # one third in 3 s: 6 s left; the share rounded alike (it once was clamped in one
    # and rounded in the other)
    assert (view.progress, view.rows_per_second, view.eta_seconds) == (0.3333, 2.3, 6.0)
    assert (event.progress, event.rows_per_second, event.eta_seconds) == (0.3333, 2.3, 6.0)
