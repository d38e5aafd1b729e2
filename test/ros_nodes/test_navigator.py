"""The navigator of a stack run (ros_nodes/stack_run.Navigator: wait until active, send the goal, follow it) on a
scripted stack: a fake probe plays /clock, /ground_truth/pose and the sim's status, so each ending is checked
without launching nodes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from geometry_msgs.msg import PoseStamped
from rosgraph_msgs.msg import Clock
from std_msgs.msg import String

from toponav.ros_nodes.convert import make_pose_stamped, sec_to_stamp
from toponav.ros_nodes.stack_run import Navigator, StackOutcome, StackRunConfig


class _Launcher:
    def __init__(self) -> None:
        self.reason, self.procs, self.labels = "", [], []

    def poll(self) -> bool:
        return True


class _Publisher:
    def __init__(self) -> None:
        self.sent: list = []

    def get_subscription_count(self) -> int:
        return 3

    def publish(self, msg) -> None:
        self.sent.append(msg)


class _Probe:
    """Each look at /clock moves the scripted stack one frame on: (sim t, x, y, lockstep status)."""

    def __init__(self, frames: list[tuple[float, float, float, dict]]) -> None:
        self.frames, self.i = frames, -1

    def last(self, topic: str):
        if topic == "/clock":
            self.i = min(self.i + 1, len(self.frames) - 1)
        t, x, y, status = self.frames[max(self.i, 0)]
        if topic == "/clock":
            return Clock(clock=sec_to_stamp(t))
        if topic == "ground_truth/pose":
            return make_pose_stamped(x, y, 0.0, "map", sec_to_stamp(t))
        if topic == "goal_pose":
            return PoseStamped(header=make_pose_stamped(0, 0, 0, "map", sec_to_stamp(0.5)).header)
        if topic == "/lockstep/status":
            return String(data=json.dumps(status)) if status else None
        return None

    def count(self, topic: str) -> int:
        return 0


def _navigator(frames, tmp_path: Path, *, sim_sends_goal: bool = True, **cfg) -> Navigator:
    run = StackRunConfig(world="empty", seed=0, out=tmp_path, goal=(5.0, 0.0), tolerance=0.5, progress_every=0,
                         **cfg)
    nav = Navigator(run, StackOutcome(), _Launcher(), sim_sends_goal=sim_sends_goal, say=lambda _: None,
                    stop=threading.Event())
    nav.probe, nav.goal_pub = _Probe(frames), _Publisher()
    return nav


def test_goal_reached(tmp_path: Path) -> None:
    nav = _navigator([(t, float(t), 0.0, {}) for t in range(7)], tmp_path)
    assert nav.wait_until_active()
    assert nav.res.goal_sent_at == 0.5  # the stamp of the goal the sim sent
    nav.follow_goal()
    assert nav.res.reached and nav.res.reason == "goal reached at sim t=5.0 s"
    assert nav.res.time_to_goal == 4.5 and nav.failure() == ""


def test_goal_sent_by_the_navigator_when_the_sim_does_not(tmp_path: Path) -> None:
    nav = _navigator([(2.0, 0.0, 0.0, {}), (3.0, 5.0, 0.0, {})], tmp_path, sim_sends_goal=False)
    assert nav.wait_until_active()
    (goal,) = nav.goal_pub.sent
    assert (goal.pose.position.x, goal.pose.position.y, goal.header.frame_id) == (5.0, 0.0, "map")
    assert nav.res.goal_sent_at == 2.0
    nav.follow_goal()
    assert nav.res.reached


def test_hung_node_ends_the_run(tmp_path: Path) -> None:
    nav = _navigator([(0.0, 0.0, 0.0, {"hung": ["topo_mapper"]})], tmp_path)
    assert not nav.wait_until_active()
    assert nav.res.hung == ["topo_mapper"] and nav.failure() == "node hung"


def test_budget_spent(tmp_path: Path) -> None:
    nav = _navigator([(t, 0.0, 0.0, {}) for t in range(6)], tmp_path, budget=3.0)
    assert nav.wait_until_active()
    nav.follow_goal()
    assert not nav.res.reached and nav.res.reason == "sim-time budget 3 s spent"
    assert nav.failure() == "timeout"
