"""sim_node in lockstep with the test as the only participant: time advances exactly one step per ack, the
step names the keys of the sensor messages it published, the ack's command drives the robot, a participant
that stops acking is reported hung, and a step period that is no multiple of the tick is refused."""

from __future__ import annotations

import json
import time

import pytest

from toponav.lockstep import ACK_TOPIC, HELLO, STATUS_TOPIC, STEP_TOPIC, AckMsg, StepMsg, stamp_key
from toponav.testing import NodeProcess, wait_for

rclpy = pytest.importorskip("rclpy")

from geometry_msgs.msg import PoseStamped, Twist  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from sensor_msgs.msg import LaserScan  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from toponav.ros_nodes.common import LATCHED_QOS, LOCKSTEP_ACK_QOS, LOCKSTEP_STEP_QOS, SENSOR_QOS  # noqa: E402
from toponav.ros_nodes.probe import Probe  # noqa: E402

pytestmark = pytest.mark.system
MODULE = "toponav.ros_nodes.sim_node"


def _steps(probe: Probe) -> list[StepMsg]:
    return [StepMsg.from_json(m.data) for m in probe.messages[STEP_TOPIC]]


def _status(probe: Probe) -> dict:
    m = probe.last(STATUS_TOPIC)
    return json.loads(m.data) if m is not None else {}


def test_sim_node_lockstep_barrier_with_the_test_as_participant(domain_id: int) -> None:
    params = {"world": "empty", "lockstep": True, "lockstep_nodes": ["tester"], "real_time_factor": 0.0,
              "step_period": 0.1, "lockstep_timeout": 2.0, "lidar.beams": 16, "odometry": "ground_truth"}
    node = NodeProcess(MODULE, domain_id, params=params)
    try:
        with Probe(domain_id) as probe:
            probe.subscribe(STEP_TOPIC, String, LOCKSTEP_STEP_QOS)
            probe.subscribe(STATUS_TOPIC, String, LATCHED_QOS)
            probe.subscribe("/scan", LaserScan, SENSOR_QOS)
            probe.subscribe("/odom", Odometry, SENSOR_QOS)
            probe.subscribe("/ground_truth/pose", PoseStamped, SENSOR_QOS)

            def ack(step: int, cmd: tuple[float, float] | None = None, **kw) -> None:
                probe.publish(ACK_TOPIC, String(data=AckMsg("tester", step, cmd=cmd, **kw).to_json()),
                              LOCKSTEP_ACK_QOS)

            assert wait_for(lambda: _status(probe).get("lockstep"), timeout=60), node.output()
            assert wait_for(lambda: (ack(HELLO, inputs=["/scan", "/odom"]) or bool(_steps(probe))), timeout=30,
                            interval=0.5), node.output()
            s0 = _steps(probe)[0]
            assert s0.step == 0 and s0.stamp == 0
            assert wait_for(lambda: probe.count("/scan") >= 1 and probe.count("/odom") >= 1, timeout=10)
            scan0, odom0 = probe.last("/scan"), probe.last("/odom")
            assert s0.latest["scan"] == stamp_key(scan0.header.stamp.sec, scan0.header.stamp.nanosec) == 0
            assert s0.latest["odom"] == stamp_key(odom0.header.stamp.sec, odom0.header.stamp.nanosec) == 0

            # no ack, no time: the sim waits (within the deadline)
            time.sleep(1.0)
            assert len(_steps(probe)) == 1
            # a plain Twist is ignored once the participant commands through its acks
            probe.publish("/cmd_vel", Twist())
            for k in range(10):
                ack(k, cmd=(0.5, 0.0))
                assert wait_for(lambda k=k: len(_steps(probe)) >= k + 2, timeout=10), node.output()
            steps = _steps(probe)
            assert [s.step for s in steps] == list(range(11))
            assert [s.stamp for s in steps] == [round(k * 0.1e9) for k in range(11)]  # exactly one step per ack
            assert steps[-1].latest["odom"] == steps[-1].stamp  # odom at 20 Hz: one at every 0.1 s step
            assert wait_for(lambda: probe.last("/ground_truth/pose").header.stamp.sec >= 1, timeout=10)
            poses = probe.messages["/ground_truth/pose"]
            moved = poses[-1].pose.position.x - poses[0].pose.position.x
            assert moved > 0.25, moved  # ~1 s at up to 0.5 m/s from standstill under the accel limit

            # stop acking: reported hung within the deadline, the sim goes on without the participant
            assert wait_for(lambda: "tester" in _status(probe).get("hung", []), timeout=10), _status(probe)
            assert "no ack for step 10" in _status(probe)["hung_reasons"]["tester"]
            n = len(_steps(probe))
            assert wait_for(lambda: len(_steps(probe)) > n + 3, timeout=10)
            assert "did not ack step 10" in node.output()
        assert node.stop() == 0
    finally:
        node.stop()


def test_lockstep_waits_for_the_recorder_so_the_bag_starts_at_t0(domain_id: int, tmp_path) -> None:
    """With lockstep_recorder the sim steps only after bag_recorder's hello, however late the recorder starts:
    the bag then holds the run from sim time 0 (a late recorder had cost bench stack the first seconds)."""
    from toponav.bags import TYPESTORE, open_bag

    params = {"world": "empty", "lockstep": True, "lockstep_nodes": ["tester"], "lockstep_recorder": True,
              "real_time_factor": 0.0, "step_period": 0.1, "lockstep_timeout": 5.0, "lidar.beams": 16,
              "odometry": "ground_truth"}
    node = NodeProcess(MODULE, domain_id, params=params)
    recorder = None
    try:
        with Probe(domain_id) as probe:
            probe.subscribe(STEP_TOPIC, String, LOCKSTEP_STEP_QOS)
            probe.subscribe(STATUS_TOPIC, String, LATCHED_QOS)

            def ack(step: int, **kw) -> None:
                probe.publish(ACK_TOPIC, String(data=AckMsg("tester", step, **kw).to_json()), LOCKSTEP_ACK_QOS)

            assert wait_for(lambda: _status(probe).get("lockstep"), timeout=60), node.output()
            for _ in range(6):  # the participant is there, the recorder is not: no step
                ack(HELLO)
                time.sleep(0.5)
            assert not _steps(probe), node.output()
            recorder = NodeProcess("toponav.ros_nodes.bag_recorder", domain_id,
                                   params={"output": str(tmp_path / "bag"), "lockstep": True, "use_sim_time": True})
            assert wait_for(lambda: (ack(HELLO) or bool(_steps(probe))), timeout=60, interval=0.5), recorder.output()
            assert "observed by bag_recorder" in node.output()
            for k in range(5):
                ack(k)
                assert wait_for(lambda k=k: len(_steps(probe)) >= k + 2, timeout=10), node.output()
        assert recorder.stop() == 0
        with open_bag(tmp_path / "bag") as bag:
            stamps = [TYPESTORE.deserialize_cdr(data, "geometry_msgs/msg/PoseStamped").header.stamp
                      for _, _, data in bag.messages(["/ground_truth/pose"])]
        assert stamps and (stamps[0].sec, stamps[0].nanosec) == (0, 0), stamps[:3]  # recorded from the first step
        assert node.stop() == 0
    finally:
        node.stop()
        if recorder is not None:
            recorder.stop()


def test_sim_node_refuses_a_step_period_that_is_no_multiple_of_the_tick(domain_id: int) -> None:
    node = NodeProcess(MODULE, domain_id, params={"lockstep": True, "step_period": 0.025, "tick": 0.01})
    assert node.proc.wait(60) == 2
    assert "step_period" in node.output()
    node.stop()


def test_one_barrier_for_several_robots(domain_id: int) -> None:
    """Two robots, one barrier: the participants are named in the robots' namespaces, a step waits for every
    robot's participant, the streams carry the robots' names (robot1/scan, robot2/scan), and each ack's command
    drives the robot whose cmd_vel it names. Before, lockstep refused more than one robot."""
    params = {"world": "empty", "robots": ["robot1", "robot2"], "lockstep": True,
              "lockstep_nodes": ["robot1/tester", "robot2/tester"], "real_time_factor": 0.0, "step_period": 0.1,
              "lockstep_timeout": 5.0, "lidar.beams": 16, "odometry": "ground_truth"}
    node = NodeProcess(MODULE, domain_id, params=params)
    try:
        # two participants, two subscribers of the steps: the sim starts once every participant gets them
        with Probe(domain_id) as probe, Probe(domain_id, name="second_participant") as second:
            second.subscribe(STEP_TOPIC, String, LOCKSTEP_STEP_QOS)
            probe.subscribe(STEP_TOPIC, String, LOCKSTEP_STEP_QOS)
            probe.subscribe(STATUS_TOPIC, String, LATCHED_QOS)
            for r in ("robot1", "robot2"):
                probe.subscribe(f"/{r}/ground_truth/pose", PoseStamped, SENSOR_QOS)
                probe.subscribe(f"/{r}/scan", LaserScan, SENSOR_QOS)

            def ack(robot: str, step: int, **kw) -> None:
                probe.publish(ACK_TOPIC, String(data=AckMsg(f"{robot}/tester", step, **kw).to_json()),
                              LOCKSTEP_ACK_QOS)

            assert wait_for(lambda: _status(probe).get("lockstep"), timeout=60), node.output()
            assert _status(probe)["participants"] == ["robot1/tester", "robot2/tester"]
            def hello_then_steps() -> bool:
                for r in ("robot1", "robot2"):
                    ack(r, HELLO, inputs=[f"/{r}/scan"])
                return bool(_steps(probe))

            assert wait_for(hello_then_steps, timeout=30, interval=0.5), node.output()
            s0 = _steps(probe)[0]
            assert {"robot1/scan", "robot2/scan", "robot1/odom", "robot2/odom"} <= set(s0.latest), s0.latest
            assert "scan" not in s0.latest
            for k in range(10):
                ack("robot1", k, outputs={"robot1/cmd_vel": k}, cmd=(0.5, 0.0))
                time.sleep(0.2 if k == 0 else 0.0)
                assert len(_steps(probe)) == k + 1, "stepped before robot2's participant acked"
                ack("robot2", k, outputs={"robot2/cmd_vel": k}, cmd=(0.0, 0.0))
                assert wait_for(lambda k=k: len(_steps(probe)) >= k + 2, timeout=10), node.output()
            assert [s.step for s in _steps(probe)] == list(range(11))
            assert wait_for(lambda: probe.last("/robot1/ground_truth/pose").header.stamp.sec >= 1, timeout=10)

            def moved(r: str) -> float:
                poses = probe.all(f"/{r}/ground_truth/pose")
                return poses[-1].pose.position.x - poses[0].pose.position.x

            assert moved("robot1") > 0.25 and abs(moved("robot2")) < 0.01, (moved("robot1"), moved("robot2"))
        assert node.stop() == 0
    finally:
        node.stop()
