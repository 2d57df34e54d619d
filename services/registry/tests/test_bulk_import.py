"""Bulk enrolment from CSV: per-row report, all-or-nothing per batch, dry run."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anbu_contracts import JobKind
from anbu_registry.handlers.imports import MAX_LINE_BYTES
from anbu_runtime.db import Database

from .conftest import Registry, job_events

HEADER = (
    "district_code,dong_code,tier,channels,resident_name,resident_phone,landlord_name,medical_aid\n"
)


def csv_of(rows: list[str]) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode("utf-8")


def good(n: int) -> str:
    return f"11110,1111054000,caution,phone;smart_plug,주민{n},010-0000-{5000 + n:04d},집주인{n},예"


def upload(registry: Registry, body: bytes, **params: object) -> dict[str, object]:
    response = registry.client.post(
        "/v1/imports/households",
        headers=registry.service,
        params=params,
        files={"file": ("list.csv", body, "text/csv")},
    )
    assert response.status_code == 200, response.text
    report: dict[str, object] = response.json()
    return report


def count_in_dong(registry: Registry) -> int:
    params = {"dong_code": "1111054000", "limit": 1, "with_total": "true"}
    page = registry.client.get("/v1/households", headers=registry.service, params=params).json()
    return int(page["total"])


def test_a_dry_run_reports_every_invalid_row_and_writes_nothing(registry: Registry) -> None:
    before = count_in_dong(registry)
    body = csv_of(
        [
            good(1),
            "11110,1111054000,extreme,phone,주민,010-1,,",
            good(2),
            "11110,2611054000,watch,,주민,,,",
        ]
    )
    report = upload(registry, body, dry_run="true")
    assert (report["rows"], report["valid"], report["invalid"], report["imported"]) == (4, 2, 2, 0)
    errors = {e["line"]: e["errors"] for e in report["errors"]}  # type: ignore[union-attr]
    assert set(errors) == {3, 5}  # file lines (the header is line 1)
    assert any("tier" in e for e in errors[3])
    assert any("not in district" in e for e in errors[5])
    assert count_in_dong(registry) == before


def test_a_batch_with_an_invalid_row_is_written_not_at_all_and_other_batches_are(
    registry: Registry,
) -> None:
    before = count_in_dong(registry)
    rows = [
        good(10),
        good(11),
        "11110,1111054000,watch,teleport,주민,,,",
        good(12),
        good(13),
        good(14),
    ]
    report = upload(registry, csv_of(rows), batch_size=3)
    assert report["batches"] == 2 and report["batches_rejected"] == 1
    assert report["imported"] == 3  # the second batch (rows 12–14)
    assert count_in_dong(registry) == before + 3


def test_a_file_without_the_required_columns_is_refused_with_a_problem(registry: Registry) -> None:
    response = registry.client.post(
        "/v1/imports/households",
        headers=registry.service,
        files={"file": ("x.csv", b"name,phone\n", "text/csv")},
    )
    assert response.status_code == 400
    assert "district_code" in response.json()["detail"]


def refused(registry: Registry, body: bytes, **params: object) -> dict[str, Any]:
    response = registry.client.post(
        "/v1/imports/households",
        headers=registry.service,
        params=params,
        files={"file": ("list.csv", body, "text/csv")},
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    return problem


@pytest.mark.parametrize(
    ("body", "line", "says"),
    [
        (csv_of([good(20), "11110,1111054000,caution,phone," + "가" * 131_073]), 3, "longer than"),
        (csv_of([good(21), good(22), "11110,1111054000,caution,phone,a\x00b"]), 4, "NUL"),
        (csv_of([good(23), '11110,1111054000,caution,"phone"x,주민']), 3, "not CSV"),
        (csv_of([good(24), '11110,1111054000,caution,"phone,주민']), 3, "not CSV"),
        (csv_of([good(25)]) + b"11110,1111054000,caution,phone,\xe9\n", 3, "UTF-8"),
        (csv_of([good(26)]) + b"x" * (MAX_LINE_BYTES + 10) + b"\n", 3, "longer than"),
    ],
    ids=["huge-cell", "nul", "junk-after-quote", "unterminated-quote", "latin-1", "huge-line"],
)
def test_a_file_that_is_not_readable_csv_is_refused_with_its_line(
    registry: Registry, body: bytes, line: int, says: str
) -> None:
    before = count_in_dong(registry)
    problem = refused(registry, body, dry_run="false")
    assert problem["status"] == 422 and problem["line"] == line
    assert says in problem["detail"]
    assert count_in_dong(registry) == before  # the rows before it were one unfinished batch


def test_the_rows_of_complete_batches_before_an_unreadable_line_stay_written(
    registry: Registry,
) -> None:
    before = count_in_dong(registry)
    body = csv_of([good(30), good(31), good(32), "11110,1111054000,watch,phone,a\x00"])
    problem = refused(registry, body, batch_size=2)
    assert (problem["line"], problem["imported_before"]) == (5, 2)
    assert count_in_dong(registry) == before + 2


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (b"district_code,dong_code,tier,tier\n", "twice"),
        (b'"district_code,dong_code,tier\n', "not CSV"),
    ],
    ids=["empty", "bom-only", "repeated-column", "broken-header"],
)
def test_an_unfit_header_is_refused_as_line_1(registry: Registry, body: bytes, says: str) -> None:
    problem = refused(registry, body)
    assert problem["line"] == 1 and says in problem["detail"]


def test_a_bom_and_crlf_lines_are_read_and_a_row_with_extra_cells_is_reported(
    registry: Registry,
) -> None:
    body = b"\xef\xbb\xbf" + csv_of([good(40), good(41) + ",extra"]).replace(b"\n", b"\r\n")
    report = upload(registry, body, dry_run="true")
    assert (report["rows"], report["valid"], report["invalid"]) == (2, 1, 1)
    [error] = report["errors"]  # type: ignore[misc]
    assert error["line"] == 3 and "9 cells where the header has 8" in error["errors"][0]


CSV_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(',"\r\n\x00\t=;가'), st.characters()), max_size=300
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    body=st.one_of(
        st.binary(max_size=400),
        st.builds(lambda rest: HEADER.encode() + rest, st.binary(max_size=400)),
        st.builds(lambda rest: (HEADER + rest).encode("utf-8", "surrogatepass"), CSV_TEXT),
    ),
    dry_run=st.booleans(),
)
def test_no_file_makes_a_server_error(registry: Registry, body: bytes, dry_run: bool) -> None:
    response = registry.client.post(
        "/v1/imports/households",
        headers=registry.service,
        params={"dry_run": str(dry_run).lower(), "batch_size": 2},
        files={"file": ("fuzz.csv", body, "text/csv")},
    )
    assert response.status_code in (200, 400, 422), response.text
    if response.status_code != 200:
        assert isinstance(response.json()["line"], int)


def test_a_background_import_shows_rows_done_rising_and_an_eta_before_it_finishes(
    registry: Registry,
) -> None:
    before = count_in_dong(registry)
    rows = 3000
    response = registry.client.post(
        "/v1/imports/households/jobs",
        headers=registry.service,
        params={"batch_size": 50},
        files={"file": ("list.csv", csv_of([good(n) for n in range(rows)]), "text/csv")},
    )
    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    seen: list[dict[str, Any]] = [response.json()]
    deadline = time.monotonic() + 120
    while seen[-1]["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.01)
        status = registry.client.get(location, headers=registry.service)
        assert status.status_code == 200, status.text
        seen.append(status.json())
    under_way = [s for s in seen if s["state"] == "running" and s["rows_done"] > 0]
    done_counts = [s["rows_done"] for s in under_way]
    assert len(set(done_counts)) >= 2 and done_counts == sorted(done_counts)  # rising
    assert any(s["rows_done"] < rows for s in under_way)  # seen before the end
    assert all(s["eta_seconds"] is not None and s["eta_seconds"] >= 0 for s in under_way)
    assert all(0 < s["progress"] <= 1 for s in under_way)
    final = seen[-1]
    assert (final["state"], final["rows_done"], final["imported"]) == ("done", rows, rows)
    assert final["eta_seconds"] is None and final["progress"] == 1.0
    assert count_in_dong(registry) == before + rows
    # the same progress, for the console's partners page, on ops.job.v1
    db: Database = registry.client.app.state.runtime.db  # type: ignore[attr-defined]
    events = job_events(db, final["import_id"])
    first, last = events[0], events[-1]
    assert (first.kind, first.state, first.finished, first.rows) == (
        JobKind.HOUSEHOLD_IMPORT,
        "running",
        False,
        0,
    )
    assert (last.state, last.finished, last.succeeded, last.rows, last.progress) == (
        "done",
        True,
        True,
        rows,
        1.0,
    )
    assert last.eta_seconds is None and last.partner_id is None
    assert [e.updated_at for e in events] == sorted(e.updated_at for e in events)
    assert "주민1" not in str([e.model_dump() for e in events])  # counts only, no name


def test_a_background_import_is_private_to_whoever_started_it(registry: Registry) -> None:
    response = registry.client.post(
        "/v1/imports/households/jobs",
        headers=registry.service,
        params={"dry_run": "true"},
        files={"file": ("list.csv", csv_of([good(1)]), "text/csv")},
    )
    assert response.status_code == 202, response.text
    someone = registry.login("official-515")
    status = registry.client.get(response.headers["Location"], headers=someone)
    assert status.status_code == 404
    assert status.headers["content-type"].startswith("application/problem+json")
