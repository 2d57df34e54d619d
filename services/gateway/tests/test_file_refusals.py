"""Refused rows of a file: where they are (line and row) across chunks, and the
all_or_nothing scan's look at ids published before; against the real broker."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from anbu_contracts import SignalKind

from .conftest import Registry, household_id, unique
from .test_ingest_api import ARREARS_HEADER, arrears_rows, upload

pytestmark = pytest.mark.integration


def row(pid: str, months: str = "3") -> str:
    return f"{household_id()},{pid},2026-11-01T09:00:00+09:00,gas,{months},5000,2026-10-31\n"


async def test_refused_rows_are_named_by_line_and_row_in_every_chunk_of_a_file(
    gateway: httpx.AsyncClient, registry: Registry, tail: Any
) -> None:
    # the test gateway checks files in 500-row chunks: these refusals are in the 1st, 2nd
    # and 3rd, after a blank line (a line, not a row) and a record spanning two lines
    partner = registry.partner(["arrears"])
    arrears = await tail(SignalKind.ARREARS)
    p = unique("r")
    text = (
        ARREARS_HEADER
        + "\n"  # line 2: blank
        + row(f"{p}-bad-1", "x")  # line 3, row 1
        + f'{household_id()},{p}-q,2026-11-01T09:00:00+09:00,"gas",3,"5\n000",2026-10-31\n'
        + arrears_rows(600, p)  # lines 6-605, rows 3-602
        + row(f"{p}-bad-2", "-1")  # line 606, row 603
        + arrears_rows(500, p, start=600)  # lines 607-1106, rows 604-1103
        + row(f"{p}-7", "9")  # line 1107, row 1104: reuses row 10's id for other content
    )
    response = await upload(
        gateway, partner, text.encode(), "kind=arrears&mode=accept_valid&wait=60"
    )

    status = response.json()
    assert (status["state"], status["accepted"], status["rejected"]) == ("completed", 1100, 4)
    assert [
        (r["line"], r["row"], r["type"].rsplit("/", 1)[1]) for r in status["rejected_rows"]
    ] == [
        (3, 1, "invalid-signal"),
        (4, 2, "invalid-signal"),  # "5\n000" is not a number
        (606, 603, "invalid-signal"),
        (1107, 1104, "reused-partner-event-id"),
    ]
    assert len(await arrears.signals(partner_id=partner.partner_id)) == 1100


async def test_an_all_or_nothing_file_reusing_an_id_published_before_is_refused_whole(
    gateway: httpx.AsyncClient, registry: Registry, tail: Any
) -> None:
    partner = registry.partner(["arrears"])
    arrears = await tail(SignalKind.ARREARS)
    p = unique("o")
    first = await upload(
        gateway, partner, (ARREARS_HEADER + row(f"{p}-1")).encode(), "kind=arrears&wait=60"
    )
    assert first.json()["accepted"] == 1

    again = ARREARS_HEADER + arrears_rows(700, p, start=2) + row(f"{p}-1", "4")
    refused = await upload(gateway, partner, again.encode(), "kind=arrears&wait=60")

    assert refused.status_code == 422
    problem = refused.json()
    assert [(r["line"], r["row"], r["partner_event_id"]) for r in problem["rejected_rows"]] == [
        (702, 701, f"{p}-1")
    ]
    assert problem["rejected_rows"][0]["type"].endswith("/reused-partner-event-id")
    assert len(await arrears.signals(partner_id=partner.partner_id)) == 1
