"""``topo_mapper``: the topological mapper as a ROS 2 node (a thin shell around toponav.mapping.TopoMap).

Subscribes /scan and /odom (sensor QoS), optionally /points; publishes /topo_graph (std_msgs/String
JSON, schema in docs/mapping.md), /topo_graph/markers (MarkerArray) and /map (OccupancyGrid), all
latched, and, with the pose correction on (``localisation.enabled``), the corrected pose of every scan on
``pose`` (geometry_msgs/PoseWithCovarianceStamped in ``map``, stamped with the scan; state QoS) and, where
tf2_msgs is importable, ``map -> odom`` on /tf. Services ``~/save`` and ``~/load`` (std_srvs/Trigger)
write/read the GeoJSON graph file named by the ``graph_path`` parameter. Publishing is throttled on the node
clock (sim time honoured); a clock that jumps back (sim reset, bag loop) resets the throttle and, in the core,
clears the map.
With ``lockstep: true`` the mapper integrates, per sim step, the scans and odometry the step names, in stamp
order, and throttles publishing on step stamps (ros_nodes/lockstep.py): the same graph in every run.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass

from geometry_msgs.msg import PoseWithCovarianceStamped
from nav_msgs.msg import OccupancyGrid, Odometry
from rclpy.node import Node
from sensor_msgs.msg import LaserScan, PointCloud2
from std_msgs.msg import String
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from toponav.config import param
from toponav.localisation.frames import OdomFilter, Paired
from toponav.lockstep import StepMsg, payload_key, stamp_key
from toponav.mapping import FRONTIER, TopoMap
from toponav.mapping.config import TopoMapperConfig
from toponav.mapping.geojson import MapError, load_geojson, save_geojson
from toponav.ros_nodes.common import LATCHED_QOS, SENSOR_QOS, STATE_QOS, declare_config, run_node
from toponav.ros_nodes.convert import (
    ConversionError,
    color,
    grid_to_occupancy_msg,
    laserscan_range_limits,
    laserscan_to_arrays,
    make_pose_with_covariance,
    odometry_to_pose,
    pointcloud2_to_xyz,
    points,
    quaternion_from_yaw,
    sec_to_stamp,
    stamp_to_sec,
)
from toponav.ros_nodes.lockstep import LockstepClient, Stream, lockstep_enabled

try:  # tf2_msgs is not among the ROS wheels on PyPI: map -> odom goes on /tf only where a full install has it
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage
except ImportError:  # pragma: no cover - depends on the install
    TFMessage = None

_EDGE_COLOURS = {"travel": (0.9, 0.9, 0.9), "los": (0.4, 0.6, 1.0), "frontier": (0.2, 0.9, 0.3)}


@dataclass
class MapperNodeConfig(TopoMapperConfig):
    """The node's own settings on top of the mapper's (kept here: they are about the process, not the map)."""

    autosave_period: float = param(
        0.0, "save the graph to graph_path every this many seconds (node clock) and on shutdown; 0 = only on "
        "~/save. With load_on_start a restarted (respawned) mapper continues from the last save", min=0.0)


#: topo_mapper parameters that take effect while running; every other one is read-only.
MAPPER_LIVE = ("publish_period", "map_period", "max_odom_age", "publish_markers", "graph_path")


class TopoMapperNode(Node):
    def __init__(self) -> None:
        super().__init__("topo_mapper")
        # the mapper core copies its settings at start (node_distance, grid, descriptor, ...): those are read-only;
        # what the node itself reads on every message stays live
        self.config: MapperNodeConfig = declare_config(self, MapperNodeConfig, live=MAPPER_LIVE)
        self.map = TopoMap(self.config)
        self.map.descriptors.warm_up()
        # each scan waits for the odometry of its stamp (interpolated), as tf2's MessageFilter would hold it
        self._pairing: OdomFilter[LaserScan] = OdomFilter(jump_tolerance=self.config.time_jump_tolerance)
        self._cloud = None
        self._last_graph_pub: float | None = None
        self._last_map_pub: float | None = None
        self._graph_dirty = True
        self._map_version = -1
        self.scans = 0
        self.graph_pub = self.create_publisher(String, "topo_graph", LATCHED_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, "topo_graph/markers", LATCHED_QOS)
        self.map_pub = self.create_publisher(OccupancyGrid, "map", LATCHED_QOS)
        self.pose_pub = self.create_publisher(PoseWithCovarianceStamped, "pose", STATE_QOS)
        self.tf_pub = self.create_publisher(TFMessage, "/tf", STATE_QOS) \
            if TFMessage is not None and self.map.localiser is not None else None
        self._published: dict[str, int] = {}
        streams = [Stream("odom", "odom", Odometry, SENSOR_QOS, self._on_odom)]
        if self.config.use_points:
            streams.append(Stream("points", "points", PointCloud2, SENSOR_QOS, self._on_points))
        streams.append(Stream("scan", "scan", LaserScan, SENSOR_QOS, self._on_scan))
        on, input_timeout = lockstep_enabled(self)
        self.lockstep: LockstepClient | None = None
        if on:
            self.lockstep = LockstepClient(self, streams, lambda step: self._streams, self._lockstep_step,
                                           input_timeout)
        else:
            for st in streams:
                self.create_subscription(st.msg_type, st.topic, st.callback, st.qos)
        self._streams = tuple(st.name for st in streams)
        self.create_service(Trigger, "~/save", self._on_save)
        self.create_service(Trigger, "~/load", self._on_load)
        if self.config.load_on_start:
            ok, text = self._load(self.config.graph_path)
            # rclpy refuses one call site logging at two severities: keep them on separate lines
            if ok:
                self.get_logger().info(text)
            else:
                self.get_logger().warning(text)
        self._saved_scans = self.scans
        if self.config.autosave_period > 0:
            self.create_timer(self.config.autosave_period, self._autosave)
        self._publish(force=True)
        self.get_logger().info(
            f"topo_mapper up: node_distance={self.config.node_distance} m, grid {self.config.grid.resolution} m, "
            f"descriptor {self.config.descriptor.method}, frame '{self.config.frame_id}'")

    # -- inputs -------------------------------------------------------------------------------------
    def _on_odom(self, msg: Odometry) -> None:
        try:
            x, y, yaw, t = odometry_to_pose(msg)
        except ConversionError as exc:
            self.get_logger().warning(f"/odom ignored: {exc}", throttle_duration_sec=5.0)
            return
        self._sync_pairing()
        for paired in self._pairing.add_odom(t, (x, y, yaw)):
            self._take(paired)

    def _on_points(self, msg: PointCloud2) -> None:
        try:
            self._cloud = pointcloud2_to_xyz(msg)
        except ConversionError as exc:
            self.get_logger().warning(f"/points ignored: {exc}", throttle_duration_sec=5.0)

    def _sync_pairing(self) -> None:
        """max_odom_age is live: how long a scan waits for its odometry, and half the widest gap interpolated."""
        age = self.config.max_odom_age
        self._pairing.wait, self._pairing.max_gap = age, 2.0 * age

    def _on_scan(self, msg: LaserScan) -> None:
        """Integrate the scan with the odometry of its stamp (:class:`OdomFilter`): /scan and /odom are two topics
        with no order between them, so a scan that overtook its odometry waits for it, and one whose odometry
        does not come within max_odom_age is dropped, never paired with the odometry of another time. In lockstep
        the sim step's messages come in stamp order, odometry first."""
        self._sync_pairing()
        t = stamp_to_sec(msg.header.stamp)
        if self.lockstep is not None:
            self._take(self._pairing.pair_now(t, msg))
            return
        for paired in self._pairing.add(t, msg):
            self._take(paired)

    def _take(self, paired: Paired[LaserScan]) -> None:
        if paired.pose is None:
            self.get_logger().warning(f"/scan at {paired.stamp:.3f} s dropped: {paired.reason}",
                                      throttle_duration_sec=5.0)
            return
        x, y, yaw = (float(v) for v in paired.pose)
        self._integrate(paired.item, (x, y, yaw))

    def _integrate(self, msg: LaserScan, pose: tuple[float, float, float]) -> None:
        log = self.get_logger()
        t = stamp_to_sec(msg.header.stamp)
        try:
            ranges, angles, warnings = laserscan_to_arrays(msg)
        except ConversionError as exc:
            log.warning(f"/scan unusable ({exc}): pose-only update", throttle_duration_sec=5.0)
            ranges = angles = None
            warnings = []
        for w in warnings:
            log.warning(w, throttle_duration_sec=10.0)
        range_min, range_max = laserscan_range_limits(msg)
        try:
            res = self.map.update(pose, ranges, angles, t, range_min=range_min, range_max=range_max,
                                  points=self._cloud)
        except Exception as exc:  # a mapper bug must not take the robot's map offline: log it loudly, go on
            log.error(f"map update failed on the scan at {t:.3f} s, scan dropped: {exc!r}\n"
                      f"{traceback.format_exc()}", throttle_duration_sec=10.0)
            return
        self.scans += 1
        if self.map.localiser is not None and res.pose is not None and res.covariance is not None:
            self._publish_pose(msg, res.pose, res.covariance)
        for m in res.messages:
            if res.reset:
                log.warning(m)
            elif res.skipped and m == res.skipped:
                log.warning(m, throttle_duration_sec=5.0)
            else:
                log.info(m)
        if res.reset:
            self._last_graph_pub = self._last_map_pub = None
        self._graph_dirty |= res.changed
        self._publish()

    # -- outputs ------------------------------------------------------------------------------------
    def _publish_pose(self, scan: LaserScan, pose: tuple[float, float, float], cov) -> None:
        """The scan's corrected pose on ``pose`` (and map -> odom on /tf where tf2_msgs exists)."""
        frame = self.config.frame_id
        out = make_pose_with_covariance(*pose, cov, frame, scan.header.stamp)
        self.pose_pub.publish(out)
        if self.lockstep is not None:
            self._published["pose"] = stamp_key(scan.header.stamp.sec, scan.header.stamp.nanosec)
        if self.tf_pub is not None:
            x, y, yaw = self.map.localiser.map_from_odom  # the pose's map <- odom, as the localiser keeps it
            tf = TransformStamped()
            tf.header.stamp, tf.header.frame_id, tf.child_frame_id = scan.header.stamp, frame, "odom"
            tf.transform.translation.x, tf.transform.translation.y = float(x), float(y)
            tf.transform.rotation = quaternion_from_yaw(yaw)
            self.tf_pub.publish(TFMessage(transforms=[tf]))

    def _now(self) -> float:
        if self.lockstep is not None:  # the step's stamp: throttling on sim time, not arrival; 0 before step 0
            return self.lockstep.now.nanoseconds * 1e-9 if self.lockstep.now is not None else 0.0
        return self.get_clock().now().nanoseconds * 1e-9

    def _lockstep_step(self, step: StepMsg) -> tuple[dict[str, int], None]:
        """The step's scans were integrated as they were fed (``_on_scan``); report the graph published."""
        out, self._published = self._published, {}
        return out, None

    def _due(self, last: float | None, period: float, now: float) -> bool:
        return last is None or now < last or now - last >= period  # now < last: the clock jumped back

    def _publish(self, force: bool = False) -> None:
        now = self._now()
        if force or (self._graph_dirty and self._due(self._last_graph_pub, self.config.publish_period, now)):
            data = self.map.to_json()
            text = json.dumps(data, separators=(",", ":"))
            self.graph_pub.publish(String(data=text))
            if self.lockstep is not None:
                self._published["topo_graph"] = payload_key(text)
            if self.config.publish_markers:
                self.marker_pub.publish(self._markers(now))
            self._last_graph_pub = now
            self._graph_dirty = False
        grid = self.map.occupancy
        if not grid.empty and grid.version != self._map_version and (
                force or self._due(self._last_map_pub, self.config.map_period, now)):
            stamp = sec_to_stamp(now)
            self.map_pub.publish(grid_to_occupancy_msg(grid.to_occupancy_values(), grid.resolution, grid.origin,
                                                       self.config.frame_id, stamp))
            if self.lockstep is not None:  # the planner joins /map too (its optimistic goal distance)
                self._published["map"] = stamp_key(stamp.sec, stamp.nanosec)
            self._map_version = grid.version
            self._last_map_pub = now

    def _markers(self, now: float) -> MarkerArray:
        stamp = sec_to_stamp(now)
        frame = self.config.frame_id
        out = MarkerArray()
        clear = Marker()
        clear.action = Marker.DELETEALL
        out.markers.append(clear)
        g = self.map.graph
        places = [(n, d) for n, d in g.nodes(data=True) if d["kind"] != FRONTIER]
        frontiers = [(n, d) for n, d in g.nodes(data=True) if d["kind"] == FRONTIER]
        max_visits = max([d["visits"] for _, d in places] + [1])

        def base(ns: str, mid: int, mtype: int, scale: float) -> Marker:
            m = Marker()
            m.header.frame_id = frame
            m.header.stamp = stamp
            m.ns, m.id, m.type, m.action = ns, mid, mtype, Marker.ADD
            m.pose.orientation.w = 1.0
            m.scale.x = m.scale.y = m.scale.z = scale
            return m

        if places:
            m = base("places", 0, Marker.SPHERE_LIST, 0.3)
            m.points = points([(d["x"], d["y"]) for _, d in places], 0.1)
            # visits: few = blue, many = red
            m.colors = [color(v, 0.2, 1.0 - v, 1.0) for v in (min(d["visits"] / max_visits, 1.0) for _, d in places)]
            out.markers.append(m)
            cur = self.map.current_node
            if cur is not None and cur in g:
                c = base("current", 0, Marker.SPHERE, 0.45)
                c.pose.position.x, c.pose.position.y, c.pose.position.z = g.nodes[cur]["x"], g.nodes[cur]["y"], 0.1
                c.color = color(1.0, 1.0, 0.0, 0.6)
                out.markers.append(c)
        if frontiers:
            m = base("frontiers", 0, Marker.CUBE_LIST, 0.3)
            m.points = points([(d["x"], d["y"]) for _, d in frontiers], 0.1)
            m.color = color(0.1, 0.9, 0.2, 1.0)
            out.markers.append(m)
        for k, kind in enumerate(("travel", "los", "frontier")):
            segs = [(g.nodes[u], g.nodes[v]) for u, v, kk in g.edges(data="kind") if kk == kind]
            if not segs:
                continue
            m = base("edges_" + kind, k, Marker.LINE_LIST, 0.04 if kind == "travel" else 0.02)
            m.points = points([(p["x"], p["y"]) for pair in segs for p in pair], 0.05)
            m.color = color(*_EDGE_COLOURS[kind], 0.8)
            out.markers.append(m)
        return out

    # -- services -----------------------------------------------------------------------------------
    def _on_save(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        path = self.config.graph_path
        try:
            save_geojson(self.map, path)
        except OSError as exc:
            resp.success, resp.message = False, f"cannot save graph to {path}: {exc}"
            self.get_logger().error(resp.message)
            return resp
        resp.success = True
        resp.message = f"saved {self.map.num_places} places, {len(self.map.frontier_nodes())} frontiers to {path}"
        self.get_logger().info(resp.message)
        return resp

    def _autosave(self) -> None:
        """Save when scans were integrated since the last save (the write is atomic: a mapper killed mid-save
        leaves the previous file)."""
        if self.scans == self._saved_scans or self.map.num_places == 0:
            return
        try:
            save_geojson(self.map, self.config.graph_path)
        except OSError as exc:
            self.get_logger().error(f"autosave to {self.config.graph_path} failed: {exc}", throttle_duration_sec=30.0)
            return
        self._saved_scans = self.scans

    def close(self) -> None:
        """Called by run_node on shutdown: the last autosave."""
        if self.config.autosave_period > 0:
            self._autosave()

    def _load(self, path: str) -> tuple[bool, str]:
        try:
            loaded = load_geojson(path, self.config)
        except MapError as exc:
            return False, f"load refused, map unchanged: {exc}"
        loaded.stamp = None  # the file's clock is not this run's: no false "time jumped back"
        loaded.current_node = None  # re-localised by the next scan
        relocalise = loaded.start_relocalisation()
        self.map = loaded
        self._graph_dirty = True
        self._map_version = -1
        return True, (f"loaded {loaded.num_places} places from {path}"
                      + ("; relocalising in it" if relocalise else ""))

    def _on_load(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        resp.success, resp.message = self._load(self.config.graph_path)
        if resp.success:
            self.get_logger().info(resp.message)
            self._publish(force=True)
        else:
            self.get_logger().error(resp.message)
        return resp


def main(args: list[str] | None = None) -> int:
    return run_node(TopoMapperNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
