"""The local supervisor (``make run``) keeps a city running when one service dies.

The supervisor runs for real, in its own process (``run_supervised``, the function
``python -m anbu_runtime.processes run`` calls), over tiny stand-in children that record
their process ids, so the tests can kill them with SIGKILL and watch what happens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from anbu_runtime.supervisor import RestartPolicy

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

_CHILD = "import os, sys, time; open(sys.argv[1], 'a').write(str(os.getpid()) + ' '); "


def _child(pids: Path, *, crash: bool) -> list[str]:
    tail = "sys.exit(3)" if crash else "time.sleep(600)"
    return [sys.executable, "-c", _CHILD + tail, str(pids)]


def _start_supervisor(tmp_path: Path, crash: set[str]) -> subprocess.Popen[bytes]:
    commands = {
        name: _child(tmp_path / f"{name}.pids", crash=name in crash)
        for name in ("steady", "victim", *sorted(crash))
    }
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from anbu_runtime.processes import Stack
        from anbu_runtime.supervisor import RestartPolicy, run_supervised
        commands = {commands!r}
        stack = Stack(var_dir=Path({str(tmp_path)!r}), ports={{n: 0 for n in commands}},
                      commands=commands)
        policy = RestartPolicy(initial_backoff=0.1, max_backoff=0.4, max_restarts=3, window=30)
        raise SystemExit(run_supervised(stack, policy, interval=0.05,
                         metrics_path=Path({str(tmp_path / "metrics.prom")!r})))
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _pids(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) is not alive.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def _until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_a_killed_service_is_restarted_and_the_others_are_untouched(tmp_path: Path) -> None:
    supervisor = _start_supervisor(tmp_path, crash=set())
    try:
        _until(lambda: len(_pids(tmp_path / "victim.pids")) == 1)
        _until(lambda: len(_pids(tmp_path / "steady.pids")) == 1)
        steady = _pids(tmp_path / "steady.pids")[0]
        victim = _pids(tmp_path / "victim.pids")[0]

        os.kill(victim, signal.SIGKILL)

        _until(lambda: len(_pids(tmp_path / "victim.pids")) == 2)
        restarted = _pids(tmp_path / "victim.pids")[1]
        assert restarted != victim and _alive(restarted)
        assert _pids(tmp_path / "steady.pids") == [steady] and _alive(steady)
        assert supervisor.poll() is None
        _until(lambda: 'service="victim"} 1.0' in _text(tmp_path / "metrics.prom"))
        metrics = _text(tmp_path / "metrics.prom")
        assert 'anbu_supervisor_restarts_total{service="steady"} 0.0' in metrics
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=30)


def test_a_service_that_dies_at_once_hits_the_crash_loop_limit(tmp_path: Path) -> None:
    supervisor = _start_supervisor(tmp_path, crash={"broken"})
    try:
        metrics = tmp_path / "metrics.prom"
        _until(lambda: 'anbu_supervisor_given_up{service="broken"} 1.0' in _text(metrics))
        # The first start and three restarts, then nothing more.
        time.sleep(1.0)
        assert len(_pids(tmp_path / "broken.pids")) == 1 + 3
        assert 'anbu_supervisor_restarts_total{service="broken"} 3.0' in _text(metrics)
        assert supervisor.poll() is None  # the others keep running
        assert all(_alive(pid) for pid in _pids(tmp_path / "steady.pids"))
    finally:
        supervisor.send_signal(signal.SIGTERM)
        output, _ = supervisor.communicate(timeout=30)
    assert b"crash-looping" in output


def test_sigterm_stops_every_service(tmp_path: Path) -> None:
    supervisor = _start_supervisor(tmp_path, crash=set())
    _until(lambda: len(_pids(tmp_path / "victim.pids")) == 1)
    _until(lambda: len(_pids(tmp_path / "steady.pids")) == 1)
    children = _pids(tmp_path / "victim.pids") + _pids(tmp_path / "steady.pids")

    supervisor.send_signal(signal.SIGTERM)

    assert supervisor.wait(timeout=30) == 0
    _until(lambda: not any(_alive(pid) for pid in children))


def test_the_backoff_doubles_up_to_its_cap() -> None:
    policy = RestartPolicy(initial_backoff=1, max_backoff=30)
    assert [policy.backoff(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
