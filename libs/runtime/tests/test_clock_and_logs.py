from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from anbu_runtime.clock import AcceleratedClock, SystemClock, clock_from
from anbu_runtime.logs import configure_logging, get_logger, scrub


def test_an_accelerated_clock_runs_speed_times_faster_from_its_start() -> None:
    epoch = datetime.now(UTC)
    start = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    clock = AcceleratedClock(start=start, epoch=epoch, speed=3600)
    now = clock.now()
    assert start <= now < start + timedelta(hours=1)  # well under a real second has passed
    assert clock.real_seconds(timedelta(days=1)) == pytest.approx(24.0)


def test_two_processes_with_the_same_settings_agree_on_simulated_time() -> None:
    epoch = datetime.now(UTC) - timedelta(seconds=10)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    a = AcceleratedClock(start=start, epoch=epoch, speed=100)
    b = AcceleratedClock(start=start, epoch=epoch, speed=100)
    assert abs((a.now() - b.now()).total_seconds()) < 1.0  # 10 ms of real time at most
    assert a.now() >= start + timedelta(seconds=999)


def test_without_configuration_the_clock_is_the_system_clock() -> None:
    assert isinstance(clock_from(1.0, None, None), SystemClock)
    assert isinstance(clock_from(60.0, None, None), AcceleratedClock)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        AcceleratedClock(start=datetime(2026, 1, 1), epoch=datetime.now(UTC), speed=2)  # noqa: DTZ001


@pytest.mark.parametrize(
    "text",
    ["call 010-1234-5678 now", "rrn 900101-1234567", "mail kim@example.org", "tel 02-123-4567"],
)
def test_logs_never_carry_phone_numbers_resident_numbers_or_emails(text: str) -> None:
    assert "[redacted]" in scrub(text)
    assert not any(ch.isdigit() for ch in scrub(text).split("[redacted]")[0][-3:])


def test_log_lines_are_json_with_the_service_and_without_personal_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("unit-test", "INFO", "json")
    get_logger("t").info("resolved", phone="010-9999-8888", household_id="HH-AAAAAA")
    logging.getLogger().handlers[0].flush()
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["service"] == "unit-test"
    assert line["phone"] == "[redacted]"
    assert line["household_id"] == "HH-AAAAAA"


def test_a_line_below_the_level_costs_no_processing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Suppressed lines are dropped before the processors (the PII scrub ran on each)."""
    import anbu_runtime.logs as logs

    scrubbed: list[str] = []
    monkeypatch.setattr(logs, "scrub", lambda text: scrubbed.append(text) or text)
    configure_logging("unit-test", "INFO", "json")
    log = get_logger("below-the-level")
    for n in range(3):
        log.debug("step", household_id=f"HH-{n:06d}", protocol_id="welfare-check")
    assert scrubbed == []
    log.info("shown", household_id="HH-000009")
    logging.getLogger().handlers[0].flush()
    assert "HH-000009" in scrubbed
    assert "HH-000001" not in capsys.readouterr().out


def test_a_line_logged_after_stdout_was_swapped_and_closed_goes_to_the_current_stdout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pytest swaps sys.stdout per test; a background task of an earlier test (aiokafka
    failing to reconnect) logs later. It must reach today's stdout, not the closed one."""
    import io
    import sys

    configured = io.StringIO()
    monkeypatch.setattr(sys, "stdout", configured)
    configure_logging("unit-test", "INFO", "json")
    configured.close()
    current, errors = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", current)
    monkeypatch.setattr(sys, "stderr", errors)
    logging.getLogger("aiokafka").error("Unable connect to %s", "127.0.0.1:9")
    assert "Logging error" not in errors.getvalue()
    assert json.loads(current.getvalue().strip())["event"] == "Unable connect to 127.0.0.1:9"
