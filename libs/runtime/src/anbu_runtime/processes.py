"""Run the services as local processes: used by ``make run`` and the end-to-end tests.

    python -m anbu_runtime.processes run      start every service and keep them running
                                              (a service that dies is restarted, see
                                              supervisor.py); Ctrl-C or SIGTERM stops them

Each service is ``python -m anbu_<name>`` with its log in ``<var>/log/<name>.log``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVICES: dict[str, int] = {
    "registry": 8701,
    "gateway": 8702,
    "detector": 8703,
    "outreach": 8704,
    "notifier": 8705,
    "console": 8700,
}


@dataclass
class ServiceProcess:
    name: str
    port: int
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Stack:
    """A set of service processes sharing one environment."""

    var_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=lambda: dict(SERVICES))
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    # Several instances of one service: name → service ("detector-2" → "detector").
    instances: Mapping[str, str] = field(default_factory=dict)
    # Extra environment per process name (an instance's own id, for example).
    env_for: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # A command other than ``python -m anbu_<service>`` per process name (tests of the
    # supervisor run tiny stand-in processes through the same code).
    commands: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "ANBU_VAR_DIR": str(self.var_dir),
                "ANBU_REGISTRY_URL": f"http://127.0.0.1:{self._port('registry')}",
                "ANBU_OUTREACH_PUBLIC_URL": f"http://127.0.0.1:{self._port('outreach')}",
                "ANBU_GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{self._port('gateway')}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for name, port in self.ports.items():
            if name not in self.instances:
                env[f"ANBU_{name.upper()}_HTTP_PORT"] = str(port)
        env.update(self.env)
        return env

    def _port(self, name: str) -> int:
        return self.ports.get(name, SERVICES.get(name, 0))

    def start(self, names: Iterable[str] | None = None) -> None:
        (self.var_dir / "log").mkdir(parents=True, exist_ok=True)
        env = self.environment()
        for name in names or self.ports:
            proc = self.processes.get(name) or ServiceProcess(
                name, self.ports[name], self.var_dir / "log" / f"{name}.log"
            )
            if proc.alive():
                continue
            log = proc.log_path.open("ab")
            service = self.instances.get(name, name)
            own = dict(env, **self.env_for.get(name, {}))
            own[f"ANBU_{service.upper()}_HTTP_PORT"] = str(self.ports[name])
            proc.popen = subprocess.Popen(
                list(self.commands.get(name) or _command(service)),
                env=own,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            self.processes[name] = proc

    def wait_ready(
        self, names: Iterable[str] | None = None, timeout: float = 90.0, path: str = "/readyz"
    ) -> None:
        """Block until every named service answers ``path`` (``/readyz``) with 200."""
        pending = set(names or self.processes)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name in sorted(pending):
                    proc = self.processes[name]
                    if not proc.alive():
                        raise RuntimeError(
                            f"{name} exited during start; see {proc.log_path}:\n"
                            + _tail(proc.log_path)
                        )
                    try:
                        if client.get(f"{proc.url}{path}").status_code == 200:
                            pending.discard(name)
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout:.0f} s: {sorted(pending)}")
                if pending:
                    time.sleep(0.3)

    def stop(self, names: Iterable[str] | None = None, *, kill: bool = False) -> None:
        """SIGTERM (graceful) or SIGKILL the named services, and wait for them."""
        targets = [
            self.processes[n] for n in (names or list(self.processes)) if n in self.processes
        ]
        for proc in targets:
            if proc.alive() and proc.popen is not None:
                proc.popen.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        for proc in targets:
            if proc.popen is None:
                continue
            try:
                proc.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=5)


def _command(name: str) -> list[str]:
    """``python -m anbu_<name>``, under ``setpriv --pdeathsig TERM`` where available, so a
    service never outlives the supervisor that started it, even one killed outright."""
    command = [sys.executable, "-m", f"anbu_{name}"]
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", *command] if setpriv else command


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if args[:1] != ["run"]:
        print("usage: python -m anbu_runtime.processes run", file=sys.stderr)
        return 2
    from anbu_runtime.logs import configure_logging
    from anbu_runtime.supervisor import run_supervised

    configure_logging("supervisor")
    var_dir = Path(os.environ.get("ANBU_VAR_DIR", "var")).resolve()
    stack = Stack(var_dir=var_dir)

    def _announce(stack: Stack) -> None:
        try:
            stack.wait_ready()
        except (RuntimeError, TimeoutError) as exc:
            # Not fatal: the supervisor restarts what died and the others keep serving.
            with contextlib.suppress(OSError):
                print(f"not every service came up: {exc}", file=sys.stderr, flush=True)
            return
        print("services ready:", flush=True)
        for name, proc in stack.processes.items():
            print(f"  {name:<9} {proc.url}   log: {proc.log_path}", flush=True)

    try:
        return run_supervised(
            stack, metrics_path=var_dir / "supervisor" / "metrics.prom", on_started=_announce
        )
    finally:
        # If the terminal is gone, printing fails; stopping has already happened.
        with contextlib.suppress(OSError):
            print("services stopped.", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
