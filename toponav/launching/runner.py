"""Start, supervise and stop the nodes of a :class:`LaunchDescription`, each in its own process.

Behaviour follows ``ros2 launch``: every line a node prints is prefixed with ``[label]``; a node
marked ``on_exit="shutdown"`` that exits takes the whole launch down (exit code
1); ``respawn`` nodes are restarted after ``respawn_delay``; SIGINT/SIGTERM to the launcher is
forwarded as SIGINT to every node, then escalated to SIGTERM and SIGKILL for anything that hangs.
Every process gets DDS on loopback and the launch's private ROS_DOMAIN_ID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from toponav.launching.errors import LaunchError
from toponav.launching.parser import LaunchDescription, NodeSpec
from toponav.launching.share import ENTRY_MODULE
from toponav.ros_env import local_ros_env, pick_domain_id


@dataclass
class _Proc:
    spec: NodeSpec
    popen: subprocess.Popen | None = None
    starts: int = 0
    restart_at: float | None = None
    exit_codes: list[int] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)


def default_domain_id() -> int:
    """ROS_DOMAIN_ID from the environment when set (the user chose one), else a private random one."""
    text = os.environ.get("ROS_DOMAIN_ID", "").strip()
    if text.isdigit():
        return int(text)
    return pick_domain_id()


class Launcher:
    """Supervise the nodes of one launch description.

    Use :meth:`run` for a blocking ``ros2 launch``-like run, or :meth:`start` / :meth:`poll` /
    :meth:`shutdown` to drive it from other code (the demo, tests).
    """

    def __init__(self, description: LaunchDescription, *, domain_id: int | None = None,
                 log_dir: str | Path | None = None, stream: TextIO | None = None,
                 sigint_timeout: float = 5.0, sigterm_timeout: float = 5.0,
                 on_line: Callable[[str, str], None] | None = None) -> None:
        self.description = description
        self.domain_id = default_domain_id() if domain_id is None else int(domain_id)
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="toponav-launch-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.stream = stream if stream is not None else sys.stdout
        self.sigint_timeout = sigint_timeout
        self.sigterm_timeout = sigterm_timeout
        self.on_line = on_line
        self.procs: list[_Proc] = [_Proc(spec) for spec in description.nodes]
        self._labels_unique()
        self._write_lock = threading.Lock()
        self._shutting_down = False
        self.exit_code = 0
        self.reason = ""
        self._param_dir = self.log_dir / "params"
        self._param_dir.mkdir(exist_ok=True)

    def _labels_unique(self) -> None:
        seen: dict[str, int] = {}
        for p in self.procs:
            base = p.spec.label
            seen[base] = seen.get(base, 0) + 1
        counts: dict[str, int] = {}
        self.labels: dict[int, str] = {}
        for i, p in enumerate(self.procs):
            base = p.spec.label
            if seen[base] > 1:
                counts[base] = counts.get(base, 0) + 1
                self.labels[i] = f"{base}-{counts[base]}"
            else:
                self.labels[i] = base

    # -- output -------------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        with self._write_lock:
            self.stream.write(f"[launch] {text}\n")
            self.stream.flush()

    def _pump(self, label: str, pipe: TextIO, log: TextIO, show: bool) -> None:
        for line in iter(pipe.readline, ""):
            line = line.rstrip("\n")
            with self._write_lock:
                log.write(line + "\n")
                log.flush()
                if show:
                    self.stream.write(f"[{label}] {line}\n")
                    self.stream.flush()
            if self.on_line is not None:
                self.on_line(label, line)
        pipe.close()

    # -- processes ----------------------------------------------------------------------------------
    def env_for(self, spec: NodeSpec) -> dict[str, str]:
        env = local_ros_env(self.domain_id)
        env.update(spec.env)
        # spec.env must not undo the loopback/private-domain rule
        env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        env["ROS_DOMAIN_ID"] = str(self.domain_id)
        return env

    def commands(self) -> list[list[str]]:
        return [p.spec.command(self._param_dir) for p in self.procs]

    def _spawn(self, index: int) -> None:
        proc = self.procs[index]
        label = self.labels[index]
        cmd = proc.spec.command(self._param_dir)
        log = open(self.log_dir / f"{label.replace('/', '_')}.log", "a")  # noqa: SIM115 (closed by pump end)
        with _start_guard(cmd):
            popen = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
                                     env=self.env_for(proc.spec), start_new_session=True, errors="replace")
        proc.popen = popen
        proc.starts += 1
        proc.restart_at = None
        show_out = proc.spec.output in ("screen", "both")
        proc.threads = [
            threading.Thread(target=self._pump, args=(label, popen.stdout, log, show_out), daemon=True),
            threading.Thread(target=self._pump, args=(label, popen.stderr, log, True), daemon=True),
        ]
        for t in proc.threads:
            t.start()
        self.say(f"process started with pid [{popen.pid}]: {label}")

    def start(self) -> None:
        """Start every node (fails fast, before starting anything, if an executable is missing)."""
        self.commands()  # resolves executables and writes parameter files; raises LaunchError
        self.say(f"domain {self.domain_id} (loopback only); logs in {self.log_dir}")
        for msg in self.description.messages:
            self.say(msg)
        for i in range(len(self.procs)):
            self._spawn(i)

    def poll(self) -> bool:
        """Handle exits and respawns; returns False once the launch is over (everything stopped)."""
        now = time.monotonic()
        for i, proc in enumerate(self.procs):
            label = self.labels[i]
            if proc.popen is not None and proc.popen.poll() is not None:
                code = proc.popen.returncode
                proc.exit_codes.append(code)
                for t in proc.threads:
                    t.join(timeout=1.0)
                proc.popen = None
                if self._shutting_down:
                    continue
                how = "cleanly" if code == 0 else f"with code {code}"
                if proc.spec.required:
                    if code == 0:  # a node that finishes its job (e.g. the bag player) ends the launch cleanly
                        self.say(f"process has finished [{label}] cleanly; on_exit=shutdown: shutting down the launch")
                        self.reason = f"required node '{label}' finished"
                    else:
                        self.say(f"process has died [{label}] {how}; it is required (on_exit=shutdown): "
                                 "shutting down the launch")
                        self.exit_code = 1
                        self.reason = f"required node '{label}' exited with code {code}"
                    self.shutdown()
                    return False
                if proc.spec.respawn:
                    proc.restart_at = now + proc.spec.respawn_delay
                    self.say(f"process has died [{label}] {how}; respawning in {proc.spec.respawn_delay:.1f} s")
                else:
                    self.say(f"process has finished [{label}] {how}")
            if proc.popen is None and proc.restart_at is not None and now >= proc.restart_at \
                    and not self._shutting_down:
                self._spawn(i)
        return not self._shutting_down and any(p.popen is not None or p.restart_at is not None
                                               for p in self.procs)

    def alive(self, label: str) -> bool:
        for i, proc in enumerate(self.procs):
            if self.labels[i] == label:
                return proc.popen is not None and proc.popen.poll() is None
        raise KeyError(label)

    def pids(self) -> list[int]:
        return [p.popen.pid for p in self.procs if p.popen is not None]

    def shutdown(self, reason: str = "") -> None:
        """SIGINT every node, wait, escalate to SIGTERM then SIGKILL (whole process group)."""
        if reason and not self.reason:
            self.reason = reason
        self._shutting_down = True
        running = [(i, p) for i, p in enumerate(self.procs) if p.popen is not None and p.popen.poll() is None]
        for _, p in running:
            _signal_group(p.popen, signal.SIGINT)
        for sig, timeout in ((signal.SIGTERM, self.sigint_timeout), (signal.SIGKILL, self.sigterm_timeout)):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and any(p.popen.poll() is None for _, p in running):
                time.sleep(0.05)
            for i, p in running:
                if p.popen.poll() is None:
                    self.say(f"process [{self.labels[i]}] did not stop, sending {sig.name}")
                    _signal_group(p.popen, sig)
        for _, p in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=5.0)
        for i, p in enumerate(self.procs):
            if p.popen is not None:
                p.exit_codes.append(p.popen.returncode)
                for t in p.threads:
                    t.join(timeout=1.0)
                p.popen = None
                self.say(f"process stopped [{self.labels[i]}] (code {p.exit_codes[-1]})")
            p.restart_at = None

    def run(self) -> int:
        """Blocking run until every node ends, a required node dies or SIGINT/SIGTERM arrives."""
        stop = threading.Event()
        signame: list[str] = []

        def _handler(signum: int, _frame: object) -> None:
            signame.append(signal.Signals(signum).name)
            stop.set()

        old = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not stop.is_set():
                if not self.poll():
                    break
                stop.wait(0.1)
            if stop.is_set():
                self.say(f"{signame[0]} received: shutting down")
                self.shutdown(f"{signame[0]} received")
            elif not self._shutting_down:
                self.say("all processes have finished")
        finally:
            if not self._shutting_down:
                self.shutdown()
            for s, h in old.items():
                signal.signal(s, h)
        if self.exit_code:
            self.say(f"launch failed: {self.reason}")
        return self.exit_code

    def __enter__(self) -> Launcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


@contextlib.contextmanager
def blocked_stop_signals() -> Iterator[None]:
    """Block SIGINT/SIGTERM in this thread while a child is started: the child inherits the mask across exec.
    For toponav's own node processes only (ros_nodes/entry.py unblocks them once its handler is in place, and
    a stop sent during the interpreter's start-up is then delivered to it); an executable that never unblocks
    them could not be stopped with SIGINT."""
    stops = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _start_guard(cmd: list[str]) -> contextlib.AbstractContextManager[None]:
    """Our own node processes (``python -m toponav.ros_nodes.entry``) start with the stop signals blocked
    (:func:`blocked_stop_signals`); anything else starts with the launcher's mask."""
    return blocked_stop_signals() if ENTRY_MODULE in cmd else contextlib.nullcontext()


def _signal_group(popen: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        if sig == signal.SIGINT:
            popen.send_signal(sig)  # the node itself; it tears down its own children
        else:
            os.killpg(popen.pid, sig)
    except ProcessLookupError:
        pass


__all__ = ["LaunchError", "Launcher", "default_domain_id"]
