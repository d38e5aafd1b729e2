"""Parameters of running node processes, as ``ros2 param set`` / ``describe`` reach them (the parameter
services): a live parameter takes effect (a new ``rate`` changes how often the controller publishes, not only
its dt), a parameter the node reads once is refused as read-only instead of "succeeding" with no effect, the
config bounds are the descriptor's range, and RND settings reach the running planner."""

from __future__ import annotations

import time

import pytest

from toponav.testing import NodeProcess, wait_for

pytestmark = [pytest.mark.system]

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import Twist  # noqa: E402
from rcl_interfaces.msg import Parameter as ParameterMsg  # noqa: E402
from rcl_interfaces.srv import DescribeParameters, SetParameters  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from toponav.ros_nodes.probe import Probe  # noqa: E402


def _call(probe: Probe, srv_type, name: str, request, timeout: float = 30.0):
    client = probe.node.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=timeout), f"no service {name}"
    future = client.call_async(request)
    assert wait_for(future.done, timeout=timeout), f"{name} did not answer"
    return future.result()


def set_param(probe: Probe, node: str, name: str, value) -> tuple[bool, str]:
    """What ``ros2 param set <node> <name> <value>`` does: one SetParameters call."""
    req = SetParameters.Request(parameters=[ParameterMsg(name=name, value=Parameter(name, value=value)
                                                         .get_parameter_value())])
    result = _call(probe, SetParameters, f"/{node}/set_parameters", req).results[0]
    return result.successful, result.reason


def _rate(probe: Probe, topic: str, seconds: float) -> float:
    n0, t0 = probe.count(topic), time.monotonic()
    time.sleep(seconds)
    return (probe.count(topic) - n0) / (time.monotonic() - t0)


def test_controller_live_rate_read_only_and_ranges(domain_id: int) -> None:
    ctrl = NodeProcess("toponav.ros_nodes.hodat_controller", domain_id, params={"mode": "dwa", "rate": 20.0})
    try:
        with Probe(domain_id) as probe:
            probe.subscribe("/cmd_vel", Twist, 10)
            # with no scan/odom the controller publishes a zero command every tick
            assert probe.wait("/cmd_vel", 5, timeout=60), ctrl.output()
            before = _rate(probe, "/cmd_vel", 2.0)
            assert 12.0 <= before <= 26.0, (before, ctrl.output())

            ok, reason = set_param(probe, "hodat_controller", "rate", 5.0)
            assert ok, reason
            time.sleep(0.5)
            after = _rate(probe, "/cmd_vel", 3.0)
            assert 3.0 <= after <= 7.0, (before, after, ctrl.output())  # the timer runs at the new period

            # read once at start (decides the subscriptions): refused with rclpy's reason, value unchanged
            ok, reason = set_param(probe, "hodat_controller", "goal_fallback", False)
            assert not ok and "read-only" in reason, reason
            # outside the config bounds (rate: 1..200 Hz): refused by the descriptor's range
            ok, reason = set_param(probe, "hodat_controller", "rate", 1000.0)
            assert not ok and "out of range" in reason, reason
            # a value inside the range but invalid for the config is refused naming the parameter
            ok, reason = set_param(probe, "hodat_controller", "mode", "teleport")
            assert not ok and "mode" in reason, reason

            desc = _call(probe, DescribeParameters, "/hodat_controller/describe_parameters",
                         DescribeParameters.Request(names=["rate", "goal_fallback", "safety.margin"])).descriptors
            rate, fallback, margin = desc
            assert not rate.read_only and fallback.read_only and not margin.read_only
            assert (rate.floating_point_range[0].from_value, rate.floating_point_range[0].to_value) == (1.0, 200.0)
            assert rate.description
            assert ctrl.alive()
    finally:
        code = ctrl.stop()
    assert code == 0, ctrl.output()


def test_mapper_and_planner_parameters(domain_id: int) -> None:
    mapper = NodeProcess("toponav.ros_nodes.topo_mapper", domain_id)
    planner = NodeProcess("toponav.ros_nodes.subgoal_planner", domain_id, params={"rate": 5.0})
    try:
        with Probe(domain_id) as probe:
            # the mapper core copies node_distance at start: `ros2 param set /topo_mapper node_distance 3.0`
            # used to report success and change nothing
            ok, reason = set_param(probe, "topo_mapper", "node_distance", 3.0)
            assert not ok and "read-only" in reason, reason
            ok, reason = set_param(probe, "topo_mapper", "publish_period", 1.0)  # read by the node: live
            assert ok, reason

            ok, reason = set_param(probe, "subgoal_planner", "planner.rnd.lr", 0.01)
            assert ok, reason
            ok, reason = set_param(probe, "subgoal_planner", "planner.rnd.enabled", False)
            assert ok, reason
            assert wait_for(lambda: "RND settings now" in planner.output() and "enabled=False" in planner.output(),
                            timeout=20), planner.output()
            ok, reason = set_param(probe, "subgoal_planner", "torch_threads", 4)
            assert not ok and "read-only" in reason, reason
            ok, reason = set_param(probe, "subgoal_planner", "planner.max_failures", 0)  # integer_range min 1
            assert not ok and "out of range" in reason, reason
            assert mapper.alive() and planner.alive()
    finally:
        codes = mapper.stop(), planner.stop()
    assert codes == (0, 0), mapper.output() + planner.output()
