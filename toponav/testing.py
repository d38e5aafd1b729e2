"""Helpers for system tests and benchmarks that start real node processes (no rclpy import here).

:class:`NodeProcess` starts ``python -m toponav.ros_nodes.<module>`` (or a console script) with
DDS on loopback and a private ROS_DOMAIN_ID, keeps its output in a file for failure messages,
and stops it with SIGINT, as a user pressing Ctrl-C would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toponav.ros_env import local_ros_env, ros_args


class NodeProcess:
    """One node in its own process on a private, loopback-only DDS domain."""

    def __init__(self, module: str, domain_id: int, *, params: dict[str, Any] | None = None,
                 params_file: str | Path | None = None, remaps: dict[str, str] | None = None,
                 name: str | None = None, extra_args: Sequence[str] = (), env: dict[str, str] | None = None):
        self.module = module
        self.log_path = Path(tempfile.mkstemp(prefix=f"toponav-{module.rsplit('.', 1)[-1]}-", suffix=".log")[1])
        self._log = open(self.log_path, "w")  # noqa: SIM115 (kept open for the process lifetime)
        cmd = [sys.executable, "-m", module, *extra_args, *ros_args(params, params_file, remaps, name)]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=local_ros_env(domain_id, env), start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGINT, wait, then SIGKILL the whole group if it hangs; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()
        return int(self.proc.returncode)

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it returns truthy or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process: tests check no node outlives its launch."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (ProcessLookupError, OSError):
        return False
