"""Reading partners' files (encodings, truncation) and the submission log on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from anbu_gateway.adapters import csv_files
from anbu_gateway.adapters import submission_log as log_repo
from anbu_gateway.adapters.events import file_progress
from anbu_gateway.adapters.orm import metadata
from anbu_gateway.adapters.submission_log import NewEntry

HEADER = "household_id,partner_event_id,occurred_at,round_id,reasons,due_date\n"


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    return path


def test_a_file_is_read_record_by_record_with_the_line_each_starts_on(tmp_path: Path) -> None:
    text = (
        HEADER
        + 'HH-AAAAAA,r-1,2026-11-01T09:00:00+09:00,2026-6,"단전\n건강보험료",2026-12-31\n'
        + "\n"
        + "HH-BBBBBB,r-2,x,y,z,w\n"
    )
    records = list(csv_files.records(write(tmp_path, text.encode()), "utf-8-sig"))
    assert [(r.line, r.row, r.cut) for r in records] == [(2, 1, False), (5, 2, False)]
    assert records[0].cells[4] == "단전\n건강보험료"


def test_a_last_row_without_a_line_break_is_marked_as_possibly_cut(tmp_path: Path) -> None:
    text = (
        HEADER
        + "HH-AAAAAA,r-1,2026-11-01T09:00:00+09:00,2026-6,단전,2026-12-31\nHH-BBBBBB,r-2,2026-11-0"
    )
    records = list(csv_files.records(write(tmp_path, text.encode()), "utf-8-sig"))
    assert [r.cut for r in records] == [False, True]
    assert len(records[1].cells) == 3


def test_a_quoted_field_never_closed_is_reported_on_the_line_its_record_starts(
    tmp_path: Path,
) -> None:
    text = (
        HEADER
        + "HH-AAAAAA,r-1,2026-11-01T09:00:00+09:00,2026-6,단전,2026-12-31\n"
        + 'HH-BBBBBB,r-2,2026-11-01T09:00:00+09:00,2026-6,"단전\nmore\n'
    )
    records = list(csv_files.records(write(tmp_path, text.encode()), "utf-8-sig"))
    assert records[-1].line == 3
    assert records[-1].error is not None and "never closed" in records[-1].error


def test_a_utf8_file_with_a_byte_order_mark_is_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, ("\ufeff" + HEADER + "a,b,c,d,단전,f\n").encode())
    check = csv_files.check_encoding(path, None)
    assert (check.name, check.detected, check.lines) == ("utf-8", False, 2)
    assert csv_files.read_header(path, check.codec) == HEADER.strip().split(",")


def test_an_euc_kr_file_is_recognised_without_being_declared(tmp_path: Path) -> None:
    rows = "".join(
        f"HH-AAAA{i:02d},r-{i},2026-11-01T09:00:00+09:00,2026-6,단전;건강보험료 체납,2026-12-31\n"
        for i in range(20)
    )
    path = write(tmp_path, (HEADER + rows).encode("euc-kr"))
    check = csv_files.check_encoding(path, None)
    assert (check.name, check.detected, check.lines) == ("cp949", True, 21)
    first = next(iter(csv_files.records(path, check.codec)))
    assert "건강보험료 체납" in first.cells[4]


def test_a_file_that_is_not_what_it_is_declared_is_refused_naming_the_line(tmp_path: Path) -> None:
    data = (HEADER + "a,b,c,d,e,f\n" * 3).encode() + "g,h,i,j,단전,l\n".encode("euc-kr")
    path = write(tmp_path, data)
    with pytest.raises(csv_files.Undecodable) as info:
        csv_files.check_encoding(path, "utf-8-sig")
    assert info.value.line == 5


def test_bytes_that_are_neither_utf8_nor_korean_are_refused(tmp_path: Path) -> None:
    data = (HEADER + "a,b,c,d,e,f\n").encode() + "x,y,z,naïve café déjà vu,e,f\n".encode("latin-1")
    with pytest.raises(csv_files.Undecodable) as info:
        csv_files.check_encoding(write(tmp_path, data), None)
    assert info.value.line == 3


# -- the submission log, on SQLite and PostgreSQL ------------------------------------


def entry(pid: str, digest: str = "d1", line: int | None = None) -> NewEntry:
    return NewEntry(pid, "arrears", digest, line, b"{}")


def test_the_log_reserves_once_and_a_second_owner_sees_the_first(database_url: str) -> None:
    engine = create_engine(database_url)
    metadata.create_all(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        mine = log_repo.reserve(session, "kepco", "req-1", [entry("a"), entry("b")], now)
        session.commit()
        assert mine == {"a", "b"}
        theirs = log_repo.reserve(session, "kepco", "req-2", [entry("b"), entry("c")], now)
        session.commit()
        assert theirs == {"c"}
        log_repo.mark_published(session, "kepco", ["a"], now)
        session.commit()
        found = log_repo.existing(session, "kepco", ["a", "b", "c", "zz"])
        assert {k: (e.status, e.owner) for k, e in found.items()} == {
            "a": ("published", "req-1"),
            "b": ("pending", "req-1"),
            "c": ("pending", "req-2"),
        }
        assert log_repo.existing(session, "other-partner", ["a"]) == {}
    engine.dispose()


def test_an_abandoned_pending_record_is_taken_over_once_and_swept_only_with_a_payload(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    metadata.create_all(engine)
    then = datetime.now(UTC) - timedelta(minutes=5)
    now = datetime.now(UTC)
    with Session(engine) as session:
        log_repo.reserve(
            session, "kepco", "req-dead", [entry("a"), NewEntry("f", "arrears", "d", 7, None)], then
        )
        session.commit()
        stale = list(log_repo.existing(session, "kepco", ["a"]).values())
        assert log_repo.take_over(session, "kepco", "req-new", stale, now) == {"a"}
        assert log_repo.take_over(session, "kepco", "req-other", stale, now) == set()
        session.commit()
        stranded = log_repo.stranded(session, now + timedelta(seconds=1), 10)
        assert [s.partner_event_id for s in stranded] == ["a"]  # the file row has no payload
        log_repo.mark_published(session, "kepco", ["a"], now)
        session.commit()
        assert log_repo.prune(session, now + timedelta(seconds=1)) == 1
        session.commit()
    engine.dispose()


def test_a_file_being_processed_reports_rows_done_and_an_eta_at_its_rate_so_far() -> None:
    from anbu_gateway.adapters.orm import SubmissionRow
    from anbu_gateway.entrypoints.files_http import SubmissionView

    now = datetime.now(UTC)
    row = SubmissionRow(
        submission_id="SUB-1",
        partner_id="kepco",
        kind="arrears",
        mode="accept_valid",
        encoding="utf-8",
        encoding_detected=False,
        file_sha256="0" * 64,
        file_bytes=1,
        file_lines=1001,  # the header and 1,000 rows
        file_path="/nowhere.csv",
        state="processing",
        created_at=now,
        updated_at=now,
        rows=250,
        published=250,
        cursor_line=251,
        processing_seconds=5.0,
    )
    view = SubmissionView.of(row)
    assert (view.rows, view.rows_per_second, view.eta_seconds) == (250, 50.0, 15.0)
    event = file_progress(row, now)  # the same figures for the console, on ops.job.v1
    assert (event.progress, event.rows_per_second, event.eta_seconds) == (0.25, 50.0, 15.0)
    assert (event.finished, event.succeeded) == (False, None)
    row.state = "completed"
    assert SubmissionView.of(row).eta_seconds is None
    done = file_progress(row, now)
    assert (done.progress, done.eta_seconds, done.finished, done.succeeded) == (
        1.0,
        None,
        True,
        True,
    )
