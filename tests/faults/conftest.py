"""The fault-injection suite's city: started once, shared by the cases in order.

Run apart with ``uv run --frozen pytest -m faults -s`` (the figures are printed per case and
again as a table at the end of the run).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from .city import City, started_city
from .load import HEADER, Figures, Load

FIGURES: list[Figures] = []


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    with started_city(tmp_path_factory.mktemp("faults")) as city:
        yield city


@pytest.fixture(scope="session")
async def load(city: City) -> AsyncIterator[Load]:
    load = await Load(city).start()
    yield load
    await load.stop()


@pytest.fixture
def record() -> Iterator[list[Figures]]:
    """Figures a case appends here are printed with the others at the end of the run."""
    yield FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault injection: figures per case")
    terminalreporter.write_line(HEADER)
    for figures in FIGURES:
        for row in figures.rows():
            terminalreporter.write_line(row)
