"""``map <- odom`` for nodes that drive on odometry but plan in ``map`` (the planner, the controller).

What TF's map -> odom transform is in a full ROS install (tf2 is not on PyPI): the mapper publishes the corrected
pose of each scan (``pose``, PoseWithCovarianceStamped in ``map``); a node that also holds the odometry of that
stamp gets ``map <- odom = pose ∘ odom⁻¹``, and from then on turns every fresh odometry pose into ``map``
without waiting for the next scan. Before the first corrected pose (or with the correction off and no other
localisation publishing) the transform is the identity: ``map`` and ``odom`` coincide, as the simulator starts them.
"""

from __future__ import annotations

import bisect
from collections import deque

import numpy as np

from toponav.geometry import se2_compose, se2_inverse, wrap_angle


class MapFromOdom:
    """Keeps the latest ``map <- odom`` from corrected poses matched to the odometry of the same stamp."""

    def __init__(self, max_skew: float = 0.1, max_gap: float = 0.6, history: int = 400) -> None:
        self.max_skew = float(max_skew)  # s: an odometry sample this close to the corrected pose's stamp is used as is
        self.max_gap = float(max_gap)  # s: else two samples at most this far apart either side are interpolated
        self._odom: deque[tuple[float, np.ndarray]] = deque(maxlen=history)
        self.transform = np.zeros(3)
        self.stamp: float | None = None  # stamp of the corrected pose the transform came from

    def reset(self) -> None:
        self._odom.clear()
        self.transform = np.zeros(3)
        self.stamp = None

    def add_odom(self, stamp: float, pose: np.ndarray) -> None:
        if self._odom and stamp < self._odom[-1][0]:
            self._odom.clear()  # time went back (sim reset, bag loop): older odometry belongs to another run
        self._odom.append((float(stamp), np.asarray(pose, dtype=np.float64).reshape(3)))

    def odom_at(self, stamp: float) -> np.ndarray | None:
        """The odometry pose at ``stamp``: the nearest sample within ``max_skew``, else interpolated between the
        samples either side when they lie within ``max_gap`` (a node that takes odometry at a few Hz, as the planner
        in lockstep, holds one sample per tick), else None."""
        if not self._odom:
            return None
        stamps = [s for s, _ in self._odom]
        i = bisect.bisect_left(stamps, stamp)
        best = min((j for j in (i - 1, i) if 0 <= j < len(stamps)), key=lambda j: abs(stamps[j] - stamp))
        if abs(stamps[best] - stamp) <= self.max_skew:
            return self._odom[best][1]
        if 0 < i < len(stamps) and stamps[i] - stamps[i - 1] <= self.max_gap:
            (t0, a), (t1, b) = self._odom[i - 1], self._odom[i]
            u = (stamp - t0) / (t1 - t0)
            return np.array([a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1]),
                             float(wrap_angle(a[2] + u * wrap_angle(b[2] - a[2])))])
        return None

    def add_map_pose(self, stamp: float, pose: np.ndarray) -> bool:
        """A corrected pose at ``stamp``; False (transform kept) when no odometry of that time is held."""
        odom = self.odom_at(stamp)
        if odom is None:
            return False
        self.transform = se2_compose(np.asarray(pose, dtype=np.float64).reshape(3), se2_inverse(odom))
        self.stamp = float(stamp)
        return True

    def moved_from(self, old: np.ndarray, distance: float = 0.02, angle: float = 0.005) -> bool:
        """Whether the transform differs from ``old`` by more than ``distance`` m or ``angle`` rad (wrapped:
        a transform whose yaw crosses +-pi has not turned by 2 pi)."""
        d = self.transform - np.asarray(old, dtype=np.float64).reshape(3)
        return bool(np.hypot(d[0], d[1]) > distance or abs(wrap_angle(d[2])) > angle)

    def to_map(self, odom_pose: np.ndarray) -> np.ndarray:
        return se2_compose(self.transform, np.asarray(odom_pose, dtype=np.float64).reshape(3))

    def to_odom(self, map_pose: np.ndarray) -> np.ndarray:
        return se2_compose(se2_inverse(self.transform), np.asarray(map_pose, dtype=np.float64).reshape(3))
