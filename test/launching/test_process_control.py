"""Launcher process control with real processes: prefixes, required nodes, respawn, signals, cleanup."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toponav.launching import Launcher, parse_launch_file

ROOT = Path(__file__).resolve().parents[2]

SLEEPER = """import signal, sys, time
print("hello from sleeper", flush=True)
signal.signal(signal.SIGINT, lambda *a: sys.exit(0))
while True:
    time.sleep(0.05)
"""
CRASHER = """import sys, time
print("crasher up", flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "--ros-args" else 0.5)
print("crasher dying", file=sys.stderr, flush=True)
sys.exit(3)
"""
STUBBORN = """import signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
print("ignoring SIGINT", flush=True)
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def fake_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ament prefix holding package 'fakepkg' with small executables."""
    prefix = tmp_path / "prefix"
    (prefix / "share/ament_index/resource_index/packages").mkdir(parents=True)
    (prefix / "share/ament_index/resource_index/packages/fakepkg").write_text("")
    (prefix / "share/fakepkg").mkdir()
    lib = prefix / "lib/fakepkg"
    lib.mkdir(parents=True)
    for name, body in (("sleeper", SLEEPER), ("crasher", CRASHER), ("stubborn", STUBBORN)):
        exe = lib / name
        exe.write_text(f"#!{sys.executable}\n{body}")
        exe.chmod(0o755)
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    return prefix


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_required_node_death_stops_everything(tmp_path: Path, fake_prefix: Path) -> None:
    launch = tmp_path / "t.launch.xml"
    launch.write_text("""<launch>
      <node pkg="fakepkg" exec="sleeper" name="a" output="screen"/>
      <node pkg="fakepkg" exec="sleeper" name="b" output="screen"/>
      <node pkg="fakepkg" exec="crasher" name="c" output="screen" on_exit="shutdown"/>
    </launch>""")
    out = io.StringIO()
    launcher = Launcher(parse_launch_file(launch), domain_id=7, log_dir=tmp_path / "logs", stream=out)
    t0 = time.monotonic()
    code = launcher.run()
    text = out.getvalue()
    assert code == 1, text
    assert time.monotonic() - t0 < 15
    assert "required node 'c' exited with code 3" in launcher.reason
    assert "[a] hello from sleeper" in text and "[c] crasher dying" in text
    pids = [int(p) for p in re.findall(r"pid \[(\d+)\]", text)]
    assert len(pids) == 3 and not any(_alive(p) for p in pids)
    assert (tmp_path / "logs" / "a.log").read_text().startswith("hello from sleeper")


def test_respawn_and_escalation(tmp_path: Path, fake_prefix: Path) -> None:
    launch = tmp_path / "t.launch.xml"
    launch.write_text("""<launch>
      <node pkg="fakepkg" exec="crasher" name="again" args="0.1" respawn="true" respawn_delay="0.2"/>
      <node pkg="fakepkg" exec="stubborn" name="stubborn" output="screen"/>
    </launch>""")
    out = io.StringIO()
    launcher = Launcher(parse_launch_file(launch), domain_id=7, log_dir=tmp_path / "logs", stream=out,
                        sigint_timeout=1.0, sigterm_timeout=1.0)
    launcher.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and launcher.procs[0].starts < 3:
        assert launcher.poll()
        time.sleep(0.05)
    assert launcher.procs[0].starts >= 3, out.getvalue()
    pids = launcher.pids()
    launcher.shutdown()
    text = out.getvalue()
    assert "respawning in 0.2 s" in text
    assert "did not stop, sending SIGTERM" in text
    assert not any(_alive(p) for p in pids)
    assert launcher.exit_code == 0


def test_sigint_to_launcher_cli_shuts_down_cleanly(tmp_path: Path, fake_prefix: Path) -> None:
    launch = tmp_path / "t.launch.xml"
    launch.write_text("""<launch>
      <arg name="n" default="x"/>
      <node pkg="fakepkg" exec="sleeper" name="s1_$(var n)" output="screen"/>
      <node pkg="fakepkg" exec="sleeper" name="s2" output="screen" on_exit="shutdown"/>
    </launch>""")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "toponav.cli", "launch", str(launch), "n:=y"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum("hello from sleeper" in ln for ln in lines) < 2:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
    assert sum("hello from sleeper" in ln for ln in lines) == 2, "".join(lines)
    assert any(ln.startswith("[s1_y] hello") for ln in lines)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=20)
    text = "".join(lines) + rest
    assert proc.returncode == 0, text
    assert "SIGINT received: shutting down" in text
    pids = [int(p) for p in re.findall(r"pid \[(\d+)\]", text)]
    assert len(pids) == 2 and not any(_alive(p) for p in pids)


def test_cli_reports_bad_file_and_argument(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    bad = tmp_path / "bad.launch.xml"
    bad.write_text("<launch>\n  <node pkg='toponav' exec='goal_controller'>\n    <bogus/>\n  </node>\n</launch>\n")
    r = subprocess.run([sys.executable, "-m", "toponav.cli", "launch", str(bad)], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 2 and f"{bad}:3:" in r.stderr and "<bogus>" in r.stderr
    r = subprocess.run([sys.executable, "-m", "toponav.cli", "launch", "sim_navigation.launch.xml", "wrld:=maze"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "unknown launch argument 'wrld'" in r.stderr
    r = subprocess.run([sys.executable, "-m", "toponav.cli", "launch", "toponav", "robot.launch.xml",
                        "controller:=goal", "--print"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "toponav.ros_nodes.entry goal_controller" in r.stdout and "hodat_controller" not in r.stdout
