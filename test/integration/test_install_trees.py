"""share/toponav resolution for the three install layouts, and a real ``colcon build`` of the repo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toponav.launching import LaunchError, find_package_share
from toponav.launching import share as share_mod

ROOT = Path(__file__).resolve().parents[2]
NODES = ["sim_node", "arm_sim_node", "topo_mapper", "subgoal_planner", "hodat_controller", "world_model_controller",
         "goal_controller", "bag_recorder", "bag_player", "toponav"]


def _fake_prefix(base: Path, package: str) -> Path:
    (base / "share/ament_index/resource_index/packages").mkdir(parents=True)
    (base / f"share/ament_index/resource_index/packages/{package}").write_text("")
    (base / f"share/{package}/launch").mkdir(parents=True)
    return base


def test_share_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # source checkout / editable install: the repository root stands in for share/toponav
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    assert find_package_share("toponav") == ROOT
    # an ament prefix (colcon install tree, sourced) wins
    prefix = _fake_prefix(tmp_path / "install", "toponav")
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{tmp_path / 'nothing'}{os.pathsep}{prefix}")
    assert find_package_share("toponav") == prefix / "share/toponav"
    # a non-editable pip install puts share/ under the interpreter prefix
    monkeypatch.delenv("AMENT_PREFIX_PATH")
    venv = _fake_prefix(tmp_path / "venv", "otherpkg")
    monkeypatch.setattr(share_mod.sys, "prefix", str(venv))
    assert find_package_share("otherpkg") == venv / "share/otherpkg"
    with pytest.raises(LaunchError, match="package 'nopkg' not found"):
        find_package_share("nopkg")


@pytest.mark.slow
def test_colcon_build_installs_executables_and_share(tmp_path: Path) -> None:
    colcon = Path(sys.executable).parent / "colcon"
    if not colcon.exists():
        pytest.skip("colcon is not installed in this environment")
    src = tmp_path / "ws"
    try:
        files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                               capture_output=True, check=True).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    for rel in filter(None, files):
        path = ROOT / rel.decode()
        if path.is_file():
            (src / rel.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / rel.decode())
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("AMENT_PREFIX_PATH", None)
    t0 = time.monotonic()
    r = subprocess.run([str(colcon), "build"], cwd=src, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert time.monotonic() - t0 < 120
    lib = src / "install/toponav/lib/toponav"
    assert {p.name for p in lib.iterdir()} >= set(NODES)
    share = src / "install/toponav/share/toponav"
    assert (share / "package.xml").is_file()
    assert {p.name for p in (share / "launch").glob("*.launch.xml")} >= {
        "sim_navigation.launch.xml", "robot.launch.xml", "sim_manipulation.launch.xml", "bag_replay.launch.xml"}
    assert (share / "config/robot.yaml").is_file()
    # the installed CLI resolves $(find-pkg-share toponav) to the install tree
    site = next((src / "install/toponav/lib").glob("python3*/site-packages"))
    run_env = dict(env, PYTHONPATH=str(site), AMENT_PREFIX_PATH=str(src / "install/toponav"))
    r = subprocess.run([sys.executable, "-m", "toponav.cli", "launch", "toponav", "robot.launch.xml",
                        "controller:=goal", "--print"], cwd=tmp_path, env=run_env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"{share}/config/robot.yaml" in r.stdout
