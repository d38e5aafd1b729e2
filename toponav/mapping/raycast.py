"""Exact 2-D lidar ranges in a :class:`toponav.worlds.World` (circles, oriented boxes, bounds walls).

Vectorised over beams x obstacles. Used by the mapper's tests and benchmark to script trajectories
without a simulator; the simulators have their own casters.
"""

from __future__ import annotations

import numpy as np

from toponav.worlds.model import World


def cast_scan(world: World, pose: tuple[float, float, float], angles: np.ndarray, range_max: float) -> np.ndarray:
    """Range per beam from ``pose`` (x, y, yaw); beams that hit nothing read ``inf`` (LaserScan convention)."""
    x, y, yaw = pose
    a = np.asarray(angles, dtype=np.float64) + yaw
    dx, dy = np.cos(a), np.sin(a)
    best = np.full(a.shape, np.inf)
    # bounds walls (the robot is inside): exit distance of the box
    xmin, ymin, xmax, ymax = world.bounds
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = np.where(dx > 0, (xmax - x) / dx, np.where(dx < 0, (xmin - x) / dx, np.inf))
        ty = np.where(dy > 0, (ymax - y) / dy, np.where(dy < 0, (ymin - y) / dy, np.inf))
    best = np.minimum(best, np.minimum(tx, ty))
    circles = world.circle_array()
    if len(circles):
        ox, oy = circles[:, 0] - x, circles[:, 1] - y  # (C,)
        proj = dx[:, None] * ox[None] + dy[:, None] * oy[None]  # (B, C)
        perp2 = (ox**2 + oy**2)[None] - proj**2
        disc = circles[None, :, 2] ** 2 - perp2
        with np.errstate(invalid="ignore"):
            t = proj - np.sqrt(disc)
        t = np.where((disc >= 0) & (t > 1e-9), t, np.inf)
        best = np.minimum(best, t.min(axis=1))
    boxes = world.box_array()
    if len(boxes):
        c, s = np.cos(boxes[:, 4]), np.sin(boxes[:, 4])
        rx, ry = x - boxes[:, 0], y - boxes[:, 1]
        lox, loy = c * rx + s * ry, -s * rx + c * ry  # ray origin in box frames (M,)
        ldx = dx[:, None] * c[None] + dy[:, None] * s[None]  # (B, M)
        ldy = -dx[:, None] * s[None] + dy[:, None] * c[None]
        hx, hy = boxes[:, 2][None], boxes[:, 3][None]
        with np.errstate(divide="ignore", invalid="ignore"):
            t1x, t2x = (-hx - lox[None]) / ldx, (hx - lox[None]) / ldx
            t1y, t2y = (-hy - loy[None]) / ldy, (hy - loy[None]) / ldy
        tminx, tmaxx = np.fmin(t1x, t2x), np.fmax(t1x, t2x)
        tminy, tmaxy = np.fmin(t1y, t2y), np.fmax(t1y, t2y)
        # parallel rays: inside the slab -> (-inf, inf), outside -> never hits
        par_x = ldx == 0
        inside_x = np.abs(lox)[None] <= hx
        tminx = np.where(par_x, np.where(inside_x, -np.inf, np.inf), tminx)
        tmaxx = np.where(par_x, np.where(inside_x, np.inf, -np.inf), tmaxx)
        par_y = ldy == 0
        inside_y = np.abs(loy)[None] <= hy
        tminy = np.where(par_y, np.where(inside_y, -np.inf, np.inf), tminy)
        tmaxy = np.where(par_y, np.where(inside_y, np.inf, -np.inf), tmaxy)
        tnear, tfar = np.maximum(tminx, tminy), np.minimum(tmaxx, tmaxy)
        t = np.where((tnear <= tfar) & (tnear > 1e-9), tnear, np.inf)
        best = np.minimum(best, t.min(axis=1))
    return np.where(best <= range_max, best, np.inf)
