"""Bring-up on a robot (launch/robot.launch.xml, config/robot.yaml) against the simulator as the robot's drivers:
nodes that die are respawned, the mapper reloads its last autosaved graph, the e-stop topic (std_msgs/Bool,
latched) holds /cmd_vel at zero until released, also across a controller respawn; and a node interrupted by
SIGINT at any moment of its start-up, imports included, exits with code 0 and no traceback."""

from __future__ import annotations

import io
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from toponav.launching import Launcher, find_package_share, parse_launch_file
from toponav.launching.runner import blocked_stop_signals
from toponav.ros_env import local_ros_env
from toponav.testing import NodeProcess, wait_for
from toponav.worlds import heldout_seeds, make_world

pytestmark = [pytest.mark.system, pytest.mark.slow]

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseStamped, Twist  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402
from std_msgs.msg import Bool, String  # noqa: E402

from toponav.ros_nodes.common import COMMAND_QOS, LATCHED_QOS, STATE_QOS  # noqa: E402
from toponav.ros_nodes.probe import Probe  # noqa: E402

SHARE = find_package_share("toponav")


@pytest.mark.parametrize("delay", [0.01, 0.1, 0.6, 1.5, None])
def test_sigint_at_any_moment_of_start_up_exits_zero(delay: float | None, domain_id: int) -> None:
    """SIGINT 0.01 and 0.1 s in (interpreter start: the stop waits, blocked, until entry.py's handler is in), 0.6 and
    1.5 s (torch, rclpy imports on a busy machine) and once the node is up. The launcher starts nodes exactly this
    way (find_executable, blocked_stop_signals)."""
    cmd = [sys.executable, "-m", "toponav.ros_nodes.entry", "subgoal_planner"]
    with blocked_stop_signals():  # as the launcher starts its nodes
        proc = subprocess.Popen(cmd, env=local_ros_env(domain_id), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    if delay is None:
        lines: list[str] = []
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if not line or "sub-goal planner up" in line:
                break
        assert "sub-goal planner up" in "".join(lines), "".join(lines)
    else:
        time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out


def _zero(m: Twist) -> bool:
    return m.linear.x == 0.0 and m.angular.z == 0.0


@pytest.mark.timeout(600)
def test_robot_launch_respawn_reload_and_e_stop(tmp_path: Path, domain_id: int) -> None:
    seed = heldout_seeds(1)[0]
    world = make_world("empty", seed)
    graph = tmp_path / "graph.geojson"
    params = yaml.safe_load((SHARE / "config" / "robot.yaml").read_text())
    params["/**/topo_mapper"]["ros__parameters"].update(graph_path=str(graph), autosave_period=1.0)
    params_file = tmp_path / "robot.yaml"
    params_file.write_text(yaml.safe_dump(params))
    desc = parse_launch_file(SHARE / "launch" / "robot.launch.xml",
                             {"params_file": str(params_file), "use_sim_time": "true"})
    assert all(n.respawn and not n.required for n in desc.nodes), [(n.label, n.respawn) for n in desc.nodes]
    out = io.StringIO()
    sim = NodeProcess("toponav.ros_nodes.sim_node", domain_id,
                      params={"world": "empty", "seed": seed, "odometry": "ground_truth", "real_time_factor": 1.0})
    launcher = Launcher(desc, domain_id=domain_id, log_dir=tmp_path / "logs", stream=out)
    proc = {p.spec.executable: p for p in launcher.procs}

    def respawned(name: str) -> bool:
        assert launcher.poll(), launcher.reason  # poll() is what restarts exited nodes
        return proc[name].starts == 2 and launcher.alive(name)
    try:
        with Probe(domain_id) as probe:
            probe.subscribe("/topo_graph", String, LATCHED_QOS)
            probe.subscribe("/cmd_vel", Twist, 10)
            e_stop = probe.node.create_publisher(Bool, "/e_stop", LATCHED_QOS)
            launcher.start()
            assert wait_for(lambda: graph.is_file(), timeout=120), out.getvalue()[-3000:] + sim.output()[-2000:]

            goal = probe.node.create_publisher(PoseStamped, "/goal_pose", COMMAND_QOS)
            assert wait_for(lambda: goal.get_subscription_count() >= 2, timeout=60)  # sim + planner
            msg = PoseStamped()
            msg.header.frame_id = "map"
            msg.pose.position.x, msg.pose.position.y = world.goal
            msg.pose.orientation.w = 1.0
            goal.publish(msg)
            moving = wait_for(lambda: any(not _zero(m) for m in probe.all("/cmd_vel")), timeout=90)
            assert moving, out.getvalue()[-3000:]

            # e-stop: /cmd_vel is zero from the next message on, for as long as it is engaged
            e_stop.publish(Bool(data=True))
            assert wait_for(lambda: "e-stop ENGAGED" in out.getvalue(), timeout=10), out.getvalue()[-2000:]
            n = probe.count("/cmd_vel")
            time.sleep(3.0)
            engaged = probe.all("/cmd_vel")[n:]
            assert len(engaged) >= 10 and all(_zero(m) for m in engaged), engaged[:5]

            # the mapper dies: it is respawned and reloads the graph it autosaved (the robot stands still)
            places = [len([f for f in json.loads(m.data)["nodes"] if not f.get("frontier")])
                      for m in probe.all("/topo_graph")]
            assert places and places[-1] > 0
            os.kill(proc["topo_mapper"].popen.pid, signal.SIGKILL)
            assert wait_for(lambda: respawned("topo_mapper"), timeout=30)
            assert wait_for(lambda: re.search(r"loaded (\d+) places from", out.getvalue()), timeout=60), \
                out.getvalue()[-3000:]
            loaded = int(re.search(r"loaded (\d+) places from", out.getvalue()).group(1))
            assert loaded == places[-1], (loaded, places[-5:])

            # the controller dies while the e-stop is engaged: the respawned one starts stopped (latched e-stop)
            os.kill(proc["hodat_controller"].popen.pid, signal.SIGKILL)
            assert wait_for(lambda: respawned("hodat_controller"), timeout=30)
            assert wait_for(lambda: out.getvalue().count("e-stop ENGAGED") >= 2, timeout=60), out.getvalue()[-3000:]
            n = probe.count("/cmd_vel")
            time.sleep(3.0)
            engaged = probe.all("/cmd_vel")[n:]
            assert len(engaged) >= 10 and all(_zero(m) for m in engaged), engaged[:5]

            # released: it drives again
            n = probe.count("/cmd_vel")
            e_stop.publish(Bool(data=False))
            assert wait_for(lambda: any(not _zero(m) for m in probe.all("/cmd_vel")[n:]), timeout=60), \
                out.getvalue()[-3000:]
            assert launcher.poll(), launcher.reason  # nothing took the launch down
    finally:
        launcher.shutdown()
        sim_code = sim.stop()
    assert sim_code == 0, sim.output()[-2000:]
    codes = [(p.spec.executable, p.exit_codes) for p in launcher.procs]
    assert all(c[-1] == 0 for _, c in codes), codes  # each stopped by the launcher's SIGINT: code 0


def test_goal_controller_e_stop(domain_id: int) -> None:
    """The simple goal_controller (robot.launch.xml controller:=goal) obeys the same e-stop, latched: a controller
    started after the e-stop was engaged starts stopped."""
    with Probe(domain_id) as probe:
        probe.subscribe("/cmd_vel", Twist, 10)
        probe.publish("/e_stop", Bool(data=True), LATCHED_QOS)  # engaged before the controller exists
        ctrl = NodeProcess("toponav.ros_nodes.goal_controller", domain_id)
        try:
            odom, scan = Odometry(), LaserScan()
            odom.header.frame_id = "odom"
            odom.pose.pose.orientation.w = 1.0
            scan.angle_min, scan.angle_increment, scan.range_min, scan.range_max = -math.pi, math.pi / 180, 0.1, 8.0
            scan.ranges = [5.0] * 360
            goal = PoseStamped()
            goal.header.frame_id = "odom"
            goal.pose.position.x = 3.0

            def feed(seconds: float) -> list[Twist]:
                n = probe.count("/cmd_vel")
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    probe.publish("/odom", odom, STATE_QOS)
                    probe.publish("/scan", scan, qos_profile_sensor_data)
                    probe.publish("/goal_pose", goal, COMMAND_QOS)
                    time.sleep(0.05)
                return probe.all("/cmd_vel")[n:]

            assert wait_for(lambda: "e-stop ENGAGED" in ctrl.output(), timeout=60), ctrl.output()
            engaged = feed(3.0)
            assert len(engaged) >= 10 and all(_zero(m) for m in engaged), engaged[:5]
            probe.publish("/e_stop", Bool(data=False), LATCHED_QOS)
            released = feed(3.0)
            assert any(m.linear.x > 0.0 for m in released), ctrl.output()
        finally:
            code = ctrl.stop()
    assert code == 0, ctrl.output()
