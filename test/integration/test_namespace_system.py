"""One robot under a namespace, end to end through launch/sim_navigation.launch.xml with namespace:=robot1
(lockstep): every node uses relative names, so sim, mapper, planner and controller connect under /robot1; the
parameter files' "/**/<node>" sections still apply there; the robot reaches the goal without a collision. The
bag_recorder (record:=true) in /robot1 records the robot's topics under /robot1, and toponav eval reads the run
from it through the namespace the bag stores.
Before, the files' bare node-name keys did not match /robot1/<node> and five of the six nodes used absolute
topics, so nothing connected."""

from __future__ import annotations

import io
import math
import time
from pathlib import Path

import pytest

from toponav.bags import open_bag
from toponav.evaluation import EvalConfig
from toponav.evaluation.cli import evaluate
from toponav.launching import Launcher, find_package_share, parse_launch_file
from toponav.testing import wait_for
from toponav.worlds import heldout_seeds, make_world

pytestmark = [pytest.mark.system, pytest.mark.slow]

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rcl_interfaces.srv import GetParameters  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from toponav.ros_nodes.common import EVENT_QOS, LATCHED_QOS, STATE_QOS  # noqa: E402
from toponav.ros_nodes.demo import find_free_domain, missing_nodes  # noqa: E402
from toponav.ros_nodes.probe import Probe  # noqa: E402

LAUNCH = find_package_share("toponav") / "launch" / "sim_navigation.launch.xml"


def _param(probe: Probe, node: str, name: str):
    client = probe.node.create_client(GetParameters, f"{node}/get_parameters")
    assert client.wait_for_service(timeout_sec=60), node
    future = client.call_async(GetParameters.Request(names=[name]))
    assert wait_for(future.done, timeout=30)
    v = future.result().values[0]
    return v.string_value or v.double_value


@pytest.mark.skipif(bool(missing_nodes(("hodat_controller", "subgoal_planner", "topo_mapper"))),
                    reason="full stack not installed")
@pytest.mark.timeout(600)
def test_single_robot_stack_under_a_namespace(tmp_path: Path) -> None:
    domain = find_free_domain()
    seed = heldout_seeds(1)[0]
    world = make_world("empty", seed)
    desc = parse_launch_file(LAUNCH, {"world": "empty", "seed": str(seed), "namespace": "robot1",
                                      "real_time_factor": "0", "send_goal": "true", "record": "true",
                                      "bag": str(tmp_path / "bag")})
    assert {n.namespace for n in desc.nodes} == {"/robot1"}
    out = io.StringIO()
    launcher = Launcher(desc, domain_id=domain, log_dir=tmp_path / "logs", stream=out)
    try:
        with Probe(domain) as probe:
            probe.subscribe("/robot1/ground_truth/pose", PoseStamped, STATE_QOS)
            probe.subscribe("/robot1/collision", String, EVENT_QOS)
            probe.subscribe("/robot1/topo_graph", String, LATCHED_QOS)
            launcher.start()
            # the "/**/<node>" sections of config/sim_navigation.yaml reach the namespaced nodes
            assert _param(probe, "/robot1/hodat_controller", "mode") == "dwa", out.getvalue()[-3000:]
            assert _param(probe, "/robot1/sim_node", "odometry") == "wheels"  # corrected by the mapper
            gx, gy = world.goal
            deadline = time.monotonic() + 420

            def reached() -> bool:
                p = probe.last("/robot1/ground_truth/pose")
                return p is not None and math.hypot(p.pose.position.x - gx, p.pose.position.y - gy) <= 0.6

            while not reached() and time.monotonic() < deadline:
                assert launcher.poll(), f"launch stopped: {launcher.reason}\n{out.getvalue()[-3000:]}"
                time.sleep(0.2)
            assert reached(), out.getvalue()[-4000:]
            assert probe.count("/robot1/topo_graph") > 0 and probe.count("/robot1/collision") == 0
            topics = {name for name, _ in probe.node.get_topic_names_and_types()}
            # nothing of the robot's left in the root namespace; /clock and the lockstep protocol are global
            assert not {"/scan", "/odom", "/cmd_vel", "/map", "/topo_graph", "/subgoal", "/goal_pose"} & topics, topics
            assert {"/robot1/scan", "/robot1/cmd_vel", "/robot1/map", "/robot1/subgoal", "/clock"} <= topics, topics
    finally:
        launcher.shutdown()
    bag = open_bag(tmp_path / "bag")
    recorded = {t for t, info in bag.topics.items() if info.count}
    assert {"/robot1/scan", "/robot1/odom", "/robot1/ground_truth/pose", "/robot1/pose", "/robot1/topo_graph",
            "/clock"} <= recorded
    assert all(t.startswith("/robot1/") or t == "/clock" for t in bag.topics), sorted(bag.topics)
    assert bag.custom_data["toponav.namespace"] == "/robot1"
    bag.close()
    # judged with the tolerance the run was stopped on (0.6 m): the launch stops as soon as the probe sees it
    results = evaluate([str(tmp_path / "bag")], tmp_path / "eval", plots=False, cfg=EvalConfig(goal_tolerance=0.6))
    assert results[0]["reached"] and results[0]["collisions"] == 0 and results[0]["graph_nodes"] > 0, results
    assert results[0]["path_length"] > 0.5 * math.dist(world.start[:2], world.goal[:2]), results
