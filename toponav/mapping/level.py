"""A scan taken with the chassis tilted, projected onto the horizontal plane the map lives in.

Why: a 2-D lidar's scan plane is bolted to the chassis. On a slope (the forest worlds' hills, a ramp) the plane
tilts with it, and a return at range r along a beam that climbs or dips lies only ``r cos(elevation)`` away
horizontally: a tree 5 m ahead reads 5.03 m with the chassis pitched 6 degrees, 5.24 m at 17 degrees. Scan
matching then takes those stretched ranges for the robot's motion, and the corrected path comes out too long
wherever the robot drove over hills (forest 1000001 of ``toponav bench localisation``: scale +1.05 % about the
start). Robots that carry a 2-D lidar on uneven ground correct it with the IMU's gravity-referenced roll and pitch
(Cartographer's 2-D SLAM projects its range data with the IMU's gravity direction; hector_slam levels the scan in a
``base_stabilized`` frame). Here the roll and pitch come with the odometry's orientation (the sim's /odom carries
its IMU attitude, docs/simulation.md), paired to the scan's stamp like the position.

What is projected: each return's point in the scan plane, rotated by R = Ry(pitch) Rx(roll) (REP 103, yaw left
to the 2-D pose), keeps its horizontal part; ``scan_height`` adds the lever arm, the horizontal shift of a scan
plane that sits that high above ``base_link`` when the chassis tilts. No-return beams stay no-return.
"""

from __future__ import annotations

import math

import numpy as np


def level_scan(ranges: np.ndarray, angles: np.ndarray, roll: float, pitch: float, *, range_min: float = 0.0,
               range_max: float = math.inf, scan_height: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(ranges, angles) of the returns projected onto the horizontal plane, as seen from base_link's vertical.

    Returns ``range_min <= r < range_max`` are projected; every other reading (no-return inf or ``range_max``, NaN,
    too near) is passed through unchanged so that the callers' own validity rules still see it as before. The
    output angles are per beam, no longer evenly spaced. Zero tilt and zero ``scan_height`` return the inputs.
    """
    r = np.asarray(ranges, dtype=np.float64)
    a = np.asarray(angles, dtype=np.float64)
    if roll == 0.0 and pitch == 0.0:
        return r, a
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(r) & np.isfinite(a) & (r >= range_min) & (r < range_max - 1e-6)
    x, y = r[valid] * np.cos(a[valid]), r[valid] * np.sin(a[valid])
    cr, sr, cp, sp = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch)
    # R = Ry(pitch) Rx(roll) applied to (x, y, 0), plus the scan origin (0, 0, h) rotated the same way
    xh = x * cp + y * sr * sp + scan_height * cr * sp
    yh = y * cr - scan_height * sr
    out_r, out_a = r.copy(), a.copy()
    out_r[valid] = np.hypot(xh, yh)
    out_a[valid] = np.arctan2(yh, xh)
    return out_r, out_a
