"""Keep the local stack running: restart a service process that dies, give up on one that
crash-loops, stop everything only when asked (Ctrl-C or SIGTERM).

Used by ``python -m anbu_runtime.processes run`` (``make run``). Docker Compose has its own
``restart:`` policy; this is the same job for the embedded, no-Docker run.

The supervisor has no HTTP endpoint of its own, so its counters are written as a Prometheus
text file (``<var>/supervisor/metrics.prom``, the node_exporter textfile-collector format)
after every change, and every restart and give-up is logged.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, write_to_textfile

from anbu_runtime.logs import get_logger
from anbu_runtime.processes import Stack

log = get_logger("anbu.supervisor")


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential backoff between restarts and a crash-loop limit.

    A service that has already been restarted ``max_restarts`` times within ``window``
    seconds and dies again is given up on: restarting it further only hides the fault.
    """

    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    max_restarts: int = 5
    window: float = 60.0

    def backoff(self, recent_restarts: int) -> float:
        """Seconds to wait before the next restart, doubling with each recent one."""
        return float(min(self.initial_backoff * 2**recent_restarts, self.max_backoff))


@dataclass
class _ServiceTrack:
    restarts: deque[float] = field(default_factory=deque)  # monotonic times, within window
    restart_at: float | None = None
    gave_up: bool = False


class Supervisor:
    """Watches the processes of a :class:`Stack`; call :meth:`tick` periodically."""

    def __init__(
        self,
        stack: Stack,
        policy: RestartPolicy | None = None,
        metrics_path: Path | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stack = stack
        self.policy = policy or RestartPolicy()
        self.metrics_path = metrics_path
        self._monotonic = monotonic
        self._tracks: dict[str, _ServiceTrack] = {}
        self._registry = CollectorRegistry()
        self._restarts = Counter(
            "anbu_supervisor_restarts",
            "Service processes restarted by the local supervisor after they exited.",
            ["service"],
            registry=self._registry,
        )
        self._given_up = Gauge(
            "anbu_supervisor_given_up",
            "1 when the supervisor stopped restarting a crash-looping service.",
            ["service"],
            registry=self._registry,
        )
        for name in stack.processes:
            self._restarts.labels(service=name)
            self._given_up.labels(service=name).set(0)
        self._write_metrics()

    @property
    def given_up(self) -> set[str]:
        return {name for name, track in self._tracks.items() if track.gave_up}

    def tick(self) -> None:
        """Notice exits, schedule restarts with backoff, restart those that are due."""
        now = self._monotonic()
        for name, proc in list(self.stack.processes.items()):
            track = self._tracks.setdefault(name, _ServiceTrack())
            if track.gave_up or proc.alive():
                continue
            if track.restart_at is None:
                while track.restarts and now - track.restarts[0] > self.policy.window:
                    track.restarts.popleft()
                code = proc.popen.returncode if proc.popen is not None else None
                if len(track.restarts) >= self.policy.max_restarts:
                    track.gave_up = True
                    self._given_up.labels(service=name).set(1)
                    self._write_metrics()
                    log.error(
                        "service crash-looping; giving up on it, the others keep running",
                        service=name,
                        exit_code=code,
                        restarts=len(track.restarts),
                        window_s=self.policy.window,
                        log_path=str(proc.log_path),
                    )
                    continue
                delay = self.policy.backoff(len(track.restarts))
                track.restart_at = now + delay
                log.warning(
                    "service exited; restarting",
                    service=name,
                    exit_code=code,
                    restart_in_s=delay,
                    log_path=str(proc.log_path),
                )
            elif now >= track.restart_at:
                track.restart_at = None
                track.restarts.append(now)
                self.stack.start([name])
                self._restarts.labels(service=name).inc()
                self._write_metrics()
                log.warning(
                    "service restarted",
                    service=name,
                    restarts_in_window=len(track.restarts),
                )

    def _write_metrics(self) -> None:
        if self.metrics_path is None:
            return
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(self.metrics_path), self._registry)  # atomic: temp + rename


def run_supervised(
    stack: Stack,
    policy: RestartPolicy | None = None,
    *,
    metrics_path: Path | None = None,
    stop: threading.Event | None = None,
    interval: float = 0.2,
    on_started: Callable[[Stack], None] | None = None,
) -> int:
    """Start the stack and keep it running until SIGINT/SIGTERM (or ``stop`` is set), then
    stop every process. Returns 0."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stack.start()
        supervisor = Supervisor(stack, policy, metrics_path)
        if on_started is not None:
            on_started(stack)
        while not stop.is_set():
            supervisor.tick()
            stop.wait(interval)
    finally:
        stack.stop()
    return 0
