"""The QoS of every toponav topic, in one place (ROS-free: plain data the nodes and the bag code convert).

The rule, as in ROS 2 drivers and Nav2: a **publisher offers what every usual subscriber can take**, a
**subscriber asks for the least it needs**. A reliable publisher serves both reliable (the default QoS of
``ros2 topic echo``, RViz, Nav2's controller_server, robot_localization) and best-effort subscribers; a
best-effort publisher serves only best-effort ones. So:

* raw sensor streams (``/scan``, ``/points``) are published best effort, as real lidar drivers publish
  them (the sensor-data profile): a subscriber must ask for sensor data QoS to get them;
* state estimates and clocks (``/odom``, ``/ground_truth/pose``, ``/clock``, ``/joint_states``,
  ``/object_pose``) are published reliable: a default-QoS subscriber gets them, and our own nodes still
  subscribe best effort (a late or lost odometry message is replaced by the next one);
* commands (``/cmd_vel``, ``/goal_pose``, ``/subgoal``, arm trajectories) reliable, newest only;
* maps and graphs (``/map``, ``/topo_graph``, markers, ``/plan``, ``/world_info``, lockstep status)
  reliable + transient local, so a late subscriber gets the last one (a volatile default subscriber
  still gets every new one);
* events and status (``/collision``, ``/toponav/status``, node status) reliable with a deep queue.

``toponav.ros_nodes.common`` turns these into rclpy ``QoSProfile`` objects; ``toponav.bags`` writes them as
the offered QoS of recorded topics, so a replayed topic is offered exactly as the live one was.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QosSpec:
    """Keep-last history of ``depth``; reliable or best effort; transient local or volatile."""

    reliable: bool
    transient_local: bool
    depth: int


#: Raw sensor streams, publishers and every sensor subscriber: rclpy's sensor-data profile (best effort, 5).
SENSOR = QosSpec(reliable=False, transient_local=False, depth=5)
#: State estimates published by drivers/simulators (/odom, ground truth, joint states): reliable.
STATE = QosSpec(reliable=True, transient_local=False, depth=10)
#: /clock as the simulator and the bag player publish it: reliable, so default-QoS tools get it.
CLOCK_PUB = QosSpec(reliable=True, transient_local=False, depth=1)
#: /clock as a subscriber asks for it: best effort, newest only (rclcpp's ClockQoS, rclpy's time source).
CLOCK_SUB = QosSpec(reliable=False, transient_local=False, depth=1)
#: Commands: reliable, only the newest matters.
COMMAND = QosSpec(reliable=True, transient_local=False, depth=1)
#: Maps, graphs, world description, lockstep status: reliable + transient local ("latched").
LATCHED = QosSpec(reliable=True, transient_local=True, depth=1)
#: Events and status that must not be dropped.
EVENT = QosSpec(reliable=True, transient_local=False, depth=50)
#: Lockstep protocol (toponav.lockstep): steps sim -> nodes and acks nodes -> sim must all arrive.
LOCKSTEP_STEP = QosSpec(reliable=True, transient_local=False, depth=10)
LOCKSTEP_ACK = QosSpec(reliable=True, transient_local=False, depth=50)
#: Anything else (what rclpy's default profile is, with a keep-last depth of 10).
DEFAULT = QosSpec(reliable=True, transient_local=False, depth=10)

#: What toponav's publishers offer, by topic name relative to the robot's namespace.
OFFERED: dict[str, QosSpec] = {
    "scan": SENSOR,
    "points": SENSOR,
    "odom": STATE,
    "ground_truth/pose": STATE,
    "wheel_odom": STATE,  # the sim's raw wheels-only odometry (evaluation)
    "pose": STATE,  # the mapper's corrected pose (PoseWithCovarianceStamped in map)
    "joint_states": STATE,
    "object_pose": STATE,
    "clock": CLOCK_PUB,
    "cmd_vel": COMMAND,
    "goal_pose": COMMAND,
    "subgoal": COMMAND,
    "topo_graph": LATCHED,
    "topo_graph/markers": LATCHED,
    "map": LATCHED,
    "plan": LATCHED,
    "world_info": LATCHED,
    "target_pose": LATCHED,
    "lockstep/status": LATCHED,
    "e_stop": LATCHED,  # the state a (re)started controller must know; hodat_controller also hears volatile
    "collision": EVENT,
    "toponav/status": EVENT,
    "world_model/status": EVENT,
}


def offered(topic: str) -> QosSpec:
    """The QoS a toponav publisher offers on ``topic`` (absolute, relative or under a robot namespace:
    ``/robot1/odom`` is offered like ``/odom``); :data:`DEFAULT` for topics not in :data:`OFFERED`."""
    name = topic.strip("/")
    best: tuple[int, QosSpec] | None = None
    for key, spec in OFFERED.items():
        if (name == key or name.endswith("/" + key)) and (best is None or len(key) > best[0]):
            best = (len(key), spec)
    return best[1] if best else DEFAULT
