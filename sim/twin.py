"""Vectorised numpy twin of the AGV simulation: N differential-drive robots stepped together.

Same world data (:class:`toponav.worlds.World`), robot limits (:class:`toponav.robot.AgvParams`) and
lidar model (:class:`toponav.robot.LidarParams`) as the PyBullet backend, without physics: the base is
kinematic (unicycle with velocity and acceleration limits), the lidar is exact analytic ray casting.

Why it is fast (see ``toponav bench sim``): instead of testing every beam against every obstacle
(N x B x C), each obstacle is projected to the angular interval of beams it can cover, seen from each
robot (N x C work, one arctan2 each), and only the (robot, beam, obstacle) triples inside those
intervals get an exact ray-circle / ray-segment intersection; results are merged with ``np.minimum.at``.
Obstacles farther than ``range_max`` are culled first, box edges facing away from a robot are culled
(back faces), and the outer bounds are intersected in closed form for every beam. Everything is float32.

Collision = clearance (distance from the robot centre to the nearest obstacle or wall) < radius; a
colliding robot is put back to its pose before the step and stopped (``collided`` is reported).

Sensors are noisy as the PyBullet AGV's are (``toponav.robot`` defaults, docs/simulation.md "Sensor noise"):
range noise on returns, and odometry (``odom_pose``: wheels for distance, gyro for yaw) with per-robot calibration
errors drawn at each reset and random noise, by the same model (``toponav.sim.odometry``); the twin's wheels never
slip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from toponav.control.limits import ramp_velocity
from toponav.geometry import wrap_angle
from toponav.robot import AgvParams, LidarParams
from toponav.sim.odometry import CALIBRATED, dead_reckon, draw_odometry_errors
from toponav.worlds.model import World

F = np.float32
_FAR = F(1e6)


class TwinStep(NamedTuple):
    """Result of :meth:`VecAgvTwin.step` (arrays are views of the twin's state: copy to keep)."""

    pose: np.ndarray  # (N, 3) x, y, yaw
    vel: np.ndarray  # (N, 2) v, w actually applied
    ranges: np.ndarray  # (N, B) metres, clipped to [range_min, range_max]
    collided: np.ndarray  # (N,) bool


def _visible_edges(world: World) -> np.ndarray:
    """(K, 8) box edges (ax, ay, bx, by, nx, ny, mx, my) minus those lying inside another box.

    An edge inside another obstacle can never be the first hit of a ray from free space (the ray
    meets the enclosing box first), so dropping it is exact; maze walls lose ~25% of their edges
    (wall ends buried in the crossing wall).
    """
    corners = world.box_corners()  # (M, 4, 2) counter-clockwise
    if not len(corners):
        return np.zeros((0, 8))
    a = corners.reshape(-1, 2)
    b = np.roll(corners, -1, axis=1).reshape(-1, 2)
    owner = np.repeat(np.arange(len(corners)), 4)
    boxes = world.box_array()
    keep = np.ones(len(a), dtype=bool)
    # only edges whose midpoint lies within a box's circumradius can be inside it (KD-tree: a building
    # map has thousands of boxes, and all pairs would be millions of tests)
    from scipy.spatial import cKDTree

    tree = cKDTree((a + b) / 2)
    near = tree.query_ball_point(boxes[:, :2], np.hypot(boxes[:, 2], boxes[:, 3]) + 1e-9)
    for j, (cx, cy, hx, hy, yaw) in enumerate(boxes):
        cand = np.asarray(near[j], dtype=np.int64)
        cand = cand[owner[cand] != j]
        if not len(cand):
            continue
        c, s = np.cos(yaw), np.sin(yaw)

        def inside(p: np.ndarray) -> np.ndarray:
            rx, ry = p[:, 0] - cx, p[:, 1] - cy  # noqa: B023 (used at once)
            return (np.abs(c * rx + s * ry) <= hx + 1e-9) & (np.abs(-s * rx + c * ry) <= hy + 1e-9)  # noqa: B023

        keep[cand[inside(a[cand]) & inside(b[cand])]] = False
    a, b = a[keep], b[keep]
    e = b - a
    normal = np.stack([e[:, 1], -e[:, 0]], axis=1)  # right of a CCW edge = outward
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    return np.concatenate([a, b, normal, (a + b) / 2], axis=1)


class _WorldArrays:
    """All worlds' obstacles padded to common sizes, float32, ready to gather by world index."""

    def __init__(self, worlds: Sequence[World]) -> None:
        nw = len(worlds)
        edges = [_visible_edges(w) for w in worlds]
        cmax = max(1, max(len(w.circles) for w in worlds))
        smax = max(1, max(len(e) for e in edges))
        self.circ = np.zeros((nw, 3, cmax), dtype=F)  # rows cx, cy, r
        self.circ[:, 0:2, :] = _FAR
        # rows ax, ay, bx, by, nx, ny (outward normal), mx, my (midpoint), half length; padding is far away
        self.seg = np.zeros((nw, 9, smax), dtype=F)
        self.seg[:, 0:4, :] = _FAR
        self.seg[:, 2, :] = _FAR + 1.0
        self.seg[:, 6:8, :] = _FAR
        self.bounds = np.zeros((nw, 4), dtype=F)
        mmax = max(1, max(len(w.boxes) for w in worlds))
        self.box = np.zeros((nw, 6, mmax), dtype=F)  # rows cx, cy, hx, hy, cos(yaw), sin(yaw); padding: far
        self.box[:, 0:2, :] = _FAR
        self.box[:, 4, :] = 1.0
        self.has_boxes = any(len(w.boxes) for w in worlds)
        self.has_circles = any(len(w.circles) for w in worlds)
        for i, w in enumerate(worlds):
            c = w.circle_array()
            self.circ[i, :, : len(c)] = c.T
            e = edges[i]
            if len(e):
                half = np.linalg.norm(e[:, 2:4] - e[:, 0:2], axis=1, keepdims=True) / 2
                self.seg[i, :, : len(e)] = np.concatenate([e, half], axis=1).T
            self.bounds[i] = w.bounds
            bx = w.box_array()
            self.box[i, :, : len(bx)] = np.concatenate([bx[:, :4], np.cos(bx[:, 4:5]), np.sin(bx[:, 4:5])], 1).T
        self.single = nw == 1


class VecAgvTwin:
    """N kinematic differential-drive robots with analytic lidar in one or more worlds.

    Robot ``i`` lives in ``worlds[world_index[i]]``; by default robots are spread round-robin.
    """

    def __init__(self, worlds: Sequence[World] | World, num_envs: int, robot: AgvParams | None = None,
                 lidar: LidarParams | None = None, dt: float = 0.1, seed: int = 0,
                 world_index: Sequence[int] | None = None) -> None:
        self.worlds: list[World] = [worlds] if isinstance(worlds, World) else list(worlds)
        if not self.worlds:
            raise ValueError("VecAgvTwin needs at least one world")
        if num_envs < 1:
            raise ValueError("num_envs must be >= 1")
        self.num_envs = int(num_envs)
        self.robot = robot or AgvParams()
        self.lidar = lidar or LidarParams()
        self.dt = float(dt)
        self.rng = np.random.default_rng(seed)
        self._w = _WorldArrays(self.worlds)
        wi = np.arange(self.num_envs) % len(self.worlds) if world_index is None else np.asarray(world_index)
        if wi.shape != (self.num_envs,) or wi.min() < 0 or wi.max() >= len(self.worlds):
            raise ValueError(f"world_index must be {self.num_envs} indices into {len(self.worlds)} worlds")
        self.world_index = wi.astype(np.int64)
        self.angles = np.asarray(self.lidar.angles(), dtype=F)
        self.beams = len(self.angles)
        self._full = abs(self.lidar.fov - 2 * np.pi) < 1e-9
        self._inc = F(self.lidar.fov / self.beams if self._full else self.lidar.fov / max(self.beams - 1, 1))
        self._amin = F(self.angles[0])
        self.pose = np.zeros((self.num_envs, 3), dtype=np.float64)
        self.vel = np.zeros((self.num_envs, 2), dtype=np.float64)
        self.collided = np.zeros(self.num_envs, dtype=bool)
        self.odom_pose = np.zeros((self.num_envs, 3), dtype=np.float64)  # wheel odometry, odom = world at reset
        self.odom_errors = np.tile(CALIBRATED, (self.num_envs, 1))  # calibration errors (sim.odometry)
        self._ranges = np.empty((self.num_envs, self.beams), dtype=F)
        self._clean = np.empty((self.num_envs, self.beams), dtype=F)  # noise-free ranges at the current poses
        self._gather()
        self.reset()

    # ------------------------------------------------------------------------------------ state
    def _gather(self) -> None:
        """Per-robot obstacle arrays (re-gathered only when world_index changes)."""
        wa = self._w
        if wa.single:
            self._circ = wa.circ[0][:, None, :]  # (3, 1, C): broadcasts over robots
            self._seg = wa.seg[0][:, None, :]
            self._box = wa.box[0][:, None, :]
        else:
            self._circ = np.ascontiguousarray(wa.circ[self.world_index].transpose(1, 0, 2))  # (3, N, C)
            self._seg = np.ascontiguousarray(wa.seg[self.world_index].transpose(1, 0, 2))
            self._box = np.ascontiguousarray(wa.box[self.world_index].transpose(1, 0, 2))
        self._bounds = wa.bounds[self.world_index]  # (N, 4)

    def set_world_index(self, world_index: Sequence[int]) -> None:
        self.world_index = np.asarray(world_index, dtype=np.int64).reshape(self.num_envs)
        self._gather()

    def reset(self, env_ids: Sequence[int] | np.ndarray | None = None, poses: np.ndarray | None = None) -> np.ndarray:
        """Put robots ``env_ids`` (default all) at ``poses`` (default their world's start), at rest.

        Their odometry restarts at the new pose with fresh calibration errors (a new robot per episode), drawn
        first, in ``env_ids`` order. Returns the new scans of all robots.
        """
        ids = np.arange(self.num_envs) if env_ids is None else np.asarray(env_ids, dtype=np.int64).reshape(-1)
        if poses is None:
            poses = np.array([self.worlds[self.world_index[i]].start for i in ids], dtype=np.float64)
        self.odom_errors[ids] = draw_odometry_errors(self.rng, self.robot, len(ids))
        self.pose[ids] = np.asarray(poses, dtype=np.float64).reshape(len(ids), 3)
        self.odom_pose[ids] = self.pose[ids]
        self.vel[ids] = 0.0
        self.collided[ids] = False
        if len(ids) == self.num_envs:
            return self.scan()
        fresh, _ = self._sense(self.pose[ids], ids)
        self._clean[ids] = fresh
        self._finish(fresh)
        self._ranges[ids] = fresh
        return self._ranges

    # ------------------------------------------------------------------------------------- step
    def step(self, cmd: np.ndarray) -> TwinStep:
        """Apply velocity commands ``cmd`` (N, 2) = (v, w) for one ``dt``; returns the new state and scans.

        Commands are clipped to the speed limits, changes to the acceleration limits; non-finite
        commands count as zero. Unicycle motion is integrated exactly (arc). ``odom_pose`` follows by dead
        reckoning from the wheels' travel (none for a robot put back after a collision).
        """
        r = self.robot
        cmd = np.asarray(cmd, dtype=np.float64).reshape(self.num_envs, 2)
        vw = ramp_velocity(cmd, self.vel, self.dt, r)
        v, w = vw[:, 0], vw[:, 1]
        prev = self.pose.copy()
        integrate_unicycle(self.pose, v, w, self.dt)
        self.vel[:, 0], self.vel[:, 1] = v, w
        ranges, clear = self._sense(self.pose)
        hit = clear < r.radius
        if hit.any():  # put colliding robots back: their scan is the previous one, taken from there
            self.pose[hit] = prev[hit]
            self.vel[hit] = 0.0
            ranges[hit] = self._clean[hit]
        self.collided = hit
        half = np.where(hit, 0.0, w * r.wheel_base / 2)
        travel = np.where(hit, 0.0, v)[:, None] + np.stack([-half, half], axis=1)
        true_dth = wrap_angle(self.pose[:, 2] - prev[:, 2])  # 0 for a robot put back
        dead_reckon(self.odom_pose, travel * self.dt, self.odom_errors, r, self.rng, true_dth, self.dt)
        self._clean[:] = ranges
        self._finish(ranges)
        return TwinStep(self.pose, self.vel, ranges, self.collided)

    # ----------------------------------------------------------------------------------- sensing
    def clearance(self) -> np.ndarray:
        """(N,) distance from each robot centre to the nearest obstacle surface or wall (negative inside)."""
        px = self.pose[:, 0].astype(F)
        py = self.pose[:, 1].astype(F)
        b = self._bounds
        d = np.minimum(np.minimum(px - b[:, 0], b[:, 2] - px), np.minimum(py - b[:, 1], b[:, 3] - py))
        cx, cy, cr = self._circ
        dc = np.sqrt((cx - px[:, None]) ** 2 + (cy - py[:, None]) ** 2) - cr
        d = np.minimum(d, dc.min(axis=1))
        if self._w.has_boxes:  # exact signed distance to oriented boxes
            bx, by, hx, hy, c, sn = self._box
            rx, ry = px[:, None] - bx, py[:, None] - by
            lx = np.abs(c * rx + sn * ry) - hx
            ly = np.abs(c * ry - sn * rx) - hy
            outside = np.sqrt(np.maximum(lx, 0) ** 2 + np.maximum(ly, 0) ** 2)
            d = np.minimum(d, (outside + np.minimum(np.maximum(lx, ly), 0)).min(axis=1))
        return d.astype(np.float64)

    def scan(self, pose: np.ndarray | None = None) -> np.ndarray:
        """(N, B) lidar ranges from ``pose`` (default the current poses), clipped to [range_min, range_max]."""
        pose = self.pose if pose is None else np.asarray(pose, dtype=np.float64).reshape(self.num_envs, 3)
        ranges, _ = self._sense(pose)
        if pose is self.pose:
            self._clean[:] = ranges
        self._finish(ranges)
        return ranges

    def _finish(self, ranges: np.ndarray) -> None:
        """Range noise on returns (a beam that hit nothing reads range_max, noise-free), then the clip."""
        lid = self.lidar
        if lid.noise_std > 0 or lid.noise_range > 0:
            sigma = F(lid.noise_std) + F(lid.noise_range) * ranges
            noise = self.rng.standard_normal(ranges.shape, dtype=F) * sigma
            ranges += np.where(ranges < F(lid.range_max), noise, F(0))
        np.maximum(ranges, F(lid.range_min), out=ranges)
        np.minimum(ranges, F(lid.range_max), out=ranges)

    def _sense(self, pose: np.ndarray, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free ranges (n, B) and clearance (n,) for robots ``ids`` (default all) at ``pose`` (n, 3).

        One pass: the per-(robot, obstacle) arrays computed for the scan also give the clearance
        (circles: centre distance - r; boxes: the nearest point of a convex box to an outside point is on
        an edge that faces the point, and a robot inside a box faces none of its edges).
        """
        rmax = F(self.lidar.range_max)
        px = pose[:, 0].astype(F)
        py = pose[:, 1].astype(F)
        yaw = pose[:, 2].astype(F)
        n_rob = len(px)
        single = self._w.single or ids is None
        circ = self._circ if single else self._circ[:, ids]
        seg = self._seg if single else self._seg[:, ids]
        b = self._bounds if ids is None else self._bounds[ids]
        th = yaw[:, None] + self.angles[None, :]
        ux, uy = np.cos(th), np.sin(th)
        out = self._ranges if ids is None else np.empty((n_rob, self.beams), dtype=F)
        # outer bounds: closed form per beam
        with np.errstate(divide="ignore", invalid="ignore"):
            tx = np.where(ux > 0, b[:, 2:3] - px[:, None], px[:, None] - b[:, 0:1]) / np.abs(ux)
            ty = np.where(uy > 0, b[:, 3:4] - py[:, None], py[:, None] - b[:, 1:2]) / np.abs(uy)
        np.fmin(tx, ty, out=out)  # fmin: a 0/0 (beam along a wall it sits on) counts as no hit
        np.fmin(out, rmax, out=out)
        clear = np.minimum(np.minimum(px - b[:, 0], b[:, 2] - px), np.minimum(py - b[:, 1], b[:, 3] - py))
        flat = out.reshape(-1)
        if self._w.has_circles:
            self._cast_circles(circ, px, py, yaw, ux, uy, rmax, flat, clear)
        if self._w.has_boxes:
            box = self._box if single else self._box[:, ids]
            self._cast_segments(seg, box, px, py, yaw, ux, uy, rmax, flat, clear)
        return out, clear.astype(np.float64)

    def _beam_range(self, rel: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First/last beam index inside [rel, rel + width] (rel: angle from angle_min in [0, 2 pi))."""
        inc = self._inc
        k0 = np.ceil(rel / inc).astype(np.int64)
        k1 = np.floor((rel + width) / inc).astype(np.int64)
        return k0, k1

    def _expand(self, n: np.ndarray, k0: np.ndarray, k1: np.ndarray):
        """(candidate, flat ray index) pairs for beams k0..k1 of each candidate's robot n."""
        nb = self.beams
        if not self._full:  # beams cover [0, fov]: clip; intervals wrapping past 2 pi are added by the caller
            k0 = np.maximum(k0, 0)
            k1 = np.minimum(k1, nb - 1)
        m = np.minimum(np.maximum(k1 - k0 + 1, 0), nb)
        total = int(m.sum())
        if total == 0:
            return None, None
        cand = np.repeat(np.arange(len(m)), m)
        start = np.cumsum(m) - m
        k = k0[cand] + (np.arange(total) - start[cand])
        if self._full:
            k %= nb
        return cand, n[cand] * nb + k

    def _spans(self, n: np.ndarray, rel: np.ndarray, width: np.ndarray):
        """Expand candidates' angular intervals (start ``rel`` from angle_min in [0, 2 pi), ``width``)."""
        k0, k1 = self._beam_range(rel, width)
        if self._full:
            return self._expand(n, k0, k1)
        two_pi = F(2 * np.pi)  # limited fov: the interval may also reach the first beams after wrapping
        k0w, k1w = self._beam_range(rel - two_pi, width)
        cand, ray = self._expand(np.concatenate([n, n]), np.concatenate([k0, k0w]), np.concatenate([k1, k1w]))
        if cand is None:
            return None, None
        return np.concatenate([np.arange(len(n)), np.arange(len(n))])[cand], ray

    def _cast_circles(self, circ, px, py, yaw, ux, uy, rmax, flat, clear) -> None:
        """Exact ray-circle hits. Culling runs on whole (n, C) arrays (cheap); only (robot, circle) pairs
        whose angular interval contains a beam are gathered and expanded to (robot, beam) rays."""
        cx, cy, cr = circ
        dx = cx - px[:, None]
        dy = cy - py[:, None]
        d2 = dx * dx + dy * dy
        np.minimum(clear, (np.sqrt(d2) - cr).min(axis=1), out=clear)
        r2 = cr * cr
        reach = rmax + cr
        ok = (d2 < reach * reach) & (d2 > r2)
        with np.errstate(invalid="ignore", divide="ignore"):
            h = np.sqrt(r2 / (d2 - r2))  # tan(asin(r/d)) >= asin(r/d): covers every beam that can hit
        two_pi = F(2 * np.pi)
        rel = np.arctan2(dy, dx) - h - (yaw[:, None] + self._amin)
        rel -= two_pi * np.floor(rel / two_pi)
        width = h + h
        if self._full:
            k0, k1 = self._beam_range(rel, width)
            ok &= k1 >= k0
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            return
        n = idx // ok.shape[1]
        cand, ray = self._spans(n, rel.reshape(-1)[idx], width.reshape(-1)[idx])
        if cand is None:
            return
        pair = idx[cand]
        qx, qy = dx.reshape(-1)[pair], dy.reshape(-1)[pair]
        bx, by = ux.reshape(-1)[ray], uy.reshape(-1)[ray]
        tca = qx * bx + qy * by
        r2p = np.broadcast_to(r2, ok.shape).reshape(-1)[pair]
        disc = r2p - (qx * qx + qy * qy - tca * tca)
        with np.errstate(invalid="ignore"):
            t = tca - np.sqrt(disc)
        t = np.where((disc >= 0) & (tca > 0), t, rmax)
        np.minimum.at(flat, ray, t)

    def _cast_segments(self, seg, box, px, py, yaw, ux, uy, rmax, flat, clear) -> None:
        """Exact ray-segment hits on box edges that face the robot and come within range."""
        ax, ay, bx, by, nx, ny, mx, my, hl = seg
        rax = ax - px[:, None]
        ray_ = ay - py[:, None]
        facing = (nx * rax + ny * ray_) < 0  # robot on the outer side of the edge
        # a robot centre inside a box (only after a reset into one): clearance negative
        bxc, byc, hx, hy, c, sn = box
        rx, ry = px[:, None] - bxc, py[:, None] - byc
        inside = (np.abs(c * rx + sn * ry) < hx) & (np.abs(c * ry - sn * rx) < hy)
        if inside.any():
            clear[inside.any(axis=1)] = -1.0
        dmx, dmy = mx - px[:, None], my - py[:, None]
        reach = rmax + hl
        ok = facing & (dmx * dmx + dmy * dmy < reach * reach)
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            return
        n = idx // ok.shape[1]
        rax, ray_ = rax.reshape(-1)[idx], ray_.reshape(-1)[idx]
        col = idx % ok.shape[1] if bx.shape[0] == 1 else idx
        rbx = bx.reshape(-1)[col] - px[n]
        rby = by.reshape(-1)[col] - py[n]
        ex, ey = rbx - rax, rby - ray_
        ee = ex * ex + ey * ey
        u = np.minimum(np.maximum(-(rax * ex + ray_ * ey) / np.maximum(ee, F(1e-12)), F(0)), F(1))
        dist = np.sqrt((rax + u * ex) ** 2 + (ray_ + u * ey) ** 2)
        np.minimum.at(clear, n, dist)
        two_pi = F(2 * np.pi)
        aa = np.arctan2(ray_, rax)
        delta = np.arctan2(rby, rbx) - aa
        delta -= two_pi * np.floor((delta + F(np.pi)) / two_pi)  # wrap to [-pi, pi)
        lo = aa + np.minimum(delta, 0) - F(1e-6)
        rel = lo - yaw[n] - self._amin
        rel -= two_pi * np.floor(rel / two_pi)
        cand, ray = self._spans(n, rel, np.abs(delta) + F(2e-6))
        if cand is None:
            return
        dxr, dyr = ux.reshape(-1)[ray], uy.reshape(-1)[ray]
        qx, qy, ex, ey = rax[cand], ray_[cand], ex[cand], ey[cand]
        denom = dxr * ey - dyr * ex
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (qx * ey - qy * ex) / denom
            sp = (qx * dyr - qy * dxr) / denom
        t = np.where((t > 0) & (sp >= -1e-4) & (sp <= 1 + 1e-4), t, rmax)
        np.minimum.at(flat, ray, t)


def integrate_unicycle(pose: np.ndarray, v: np.ndarray, w: np.ndarray, dt: float) -> None:
    """Exact constant-(v, w) arc over ``dt``, in place on (N, 3) poses."""
    yaw = pose[:, 2]
    small = np.abs(w) < 1e-6
    w_safe = np.where(small, 1.0, w)
    yaw2 = yaw + w * dt
    dx = np.where(small, v * dt * np.cos(yaw), v / w_safe * (np.sin(yaw2) - np.sin(yaw)))
    dy = np.where(small, v * dt * np.sin(yaw), -v / w_safe * (np.cos(yaw2) - np.cos(yaw)))
    pose[:, 0] += dx
    pose[:, 1] += dy
    pose[:, 2] = wrap_angle(yaw2)

