"""Message types and QoS of toponav's topics, as bag metadata (rosbags types; no rclpy).

The typestore is ROS 2 Kilted's (the distro of the wheels this project runs on); message
definitions written into bags come from it, so tools that read bags see the real .msg text.
"""

from __future__ import annotations

from rosbags.interfaces import Qos
from rosbags.rosbag2.metadata import QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.typesys import Stores, get_typestore

from toponav import qos

TYPESTORE = get_typestore(Stores.ROS2_KILTED)

#: The recorder's default topic set -> message type.
DEFAULT_TOPICS: dict[str, str] = {
    "/clock": "rosgraph_msgs/msg/Clock",
    "/scan": "sensor_msgs/msg/LaserScan",
    "/odom": "nav_msgs/msg/Odometry",
    "/ground_truth/pose": "geometry_msgs/msg/PoseStamped",
    "/wheel_odom": "nav_msgs/msg/Odometry",
    "/pose": "geometry_msgs/msg/PoseWithCovarianceStamped",
    "/cmd_vel": "geometry_msgs/msg/Twist",
    "/goal_pose": "geometry_msgs/msg/PoseStamped",
    "/subgoal": "geometry_msgs/msg/PoseStamped",
    "/topo_graph": "std_msgs/msg/String",
    "/collision": "std_msgs/msg/String",
    "/toponav/status": "diagnostic_msgs/msg/DiagnosticArray",
    "/world_info": "std_msgs/msg/String",
}

#: What bag_recorder records by default: the same set as relative names (``/clock`` is global), resolved in the
#: recorder's namespace as ``ros2 bag record`` resolves a relative topic: at the root ``/scan``, ``/odom``, ...;
#: a recorder in ``/robot1`` records ``/robot1/scan``, ``/robot1/odom``, ... The bag stores the resolved names.
RECORD_TOPICS: list[str] = [t if t == "/clock" else t.lstrip("/") for t in DEFAULT_TOPICS]


def default_type(topic: str, namespace: str = "/") -> str | None:
    """The message type of one of toponav's topics, by its name relative to ``namespace`` (``/robot1/odom``
    in ``/robot1`` is ``/odom``'s type); None for other topics."""
    ns = namespace.rstrip("/")
    if ns and topic.startswith(ns + "/"):
        topic = topic[len(ns):]
    return DEFAULT_TOPICS.get(topic if topic.startswith("/") else "/" + topic)

_ZERO = QosTime(sec=0, nsec=0)
_INF = QosTime(sec=2147483647, nsec=4294967295)


def make_qos(*, reliable: bool, transient_local: bool, depth: int) -> Qos:
    """A rosbags Qos record (what rosbag2 stores as offered_qos_profiles)."""
    return Qos(
        history=QosHistory.KEEP_LAST,
        depth=depth,
        reliability=QosReliability.RELIABLE if reliable else QosReliability.BEST_EFFORT,
        durability=QosDurability.TRANSIENT_LOCAL if transient_local else QosDurability.VOLATILE,
        deadline=_INF,
        lifespan=_INF,
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=_INF,
        avoid_ros_namespace_conventions=False,
    )


def qos_for_topic(topic: str) -> Qos:
    """The QoS toponav's nodes offer on ``topic`` (toponav/qos.py), as bag metadata."""
    spec = qos.offered(topic)
    return make_qos(reliable=spec.reliable, transient_local=spec.transient_local, depth=spec.depth)


def ensure_type(msgtype: str, msgdef: str | None = None, fmt: str = "msg") -> bool:
    """Make ``msgtype`` known to the typestore, from a definition if one is given; True when known."""
    if msgtype in TYPESTORE.types:
        return True
    if not msgdef:
        return False
    from rosbags.typesys import get_types_from_idl, get_types_from_msg

    try:
        types = get_types_from_idl(msgdef) if fmt == "idl" else _types_from_concatenated_msg(msgtype, msgdef,
                                                                                          get_types_from_msg)
        TYPESTORE.register(types)
    except Exception:  # a broken definition makes the type unknown, not the bag unreadable
        return False
    return msgtype in TYPESTORE.types


def _types_from_concatenated_msg(msgtype: str, msgdef: str, parse) -> dict:
    """rosbag2's concatenated .msg text: the main type, then '====' separated 'MSG: pkg/Type' blocks."""
    types: dict = {}
    blocks = msgdef.split("=" * 80 + "\n")
    types.update(parse(blocks[0], msgtype))
    for block in blocks[1:]:
        header, _, body = block.partition("\n")
        if header.startswith("MSG: "):
            name = header[5:].strip()
            if "/msg/" not in name:
                pkg, _, base = name.partition("/")
                name = f"{pkg}/msg/{base}"
            types.update(parse(body, name))
    return types
