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

from toponav.geometry import se2_compose, se2_inverse


class MapFromOdom:
    """Keeps the latest ``map <- odom`` from corrected poses matched to the odometry of the same stamp."""

    def __init__(self, max_skew: float = 0.1, history: int = 400) -> None:
        self.max_skew = float(max_skew)  # s: the odometry used must lie this close to the corrected pose's stamp
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
        """The odometry pose nearest ``stamp`` within ``max_skew``, else None."""
        if not self._odom:
            return None
        stamps = [s for s, _ in self._odom]
        i = bisect.bisect_left(stamps, stamp)
        best = min((j for j in (i - 1, i) if 0 <= j < len(stamps)), key=lambda j: abs(stamps[j] - stamp))
        return self._odom[best][1] if abs(stamps[best] - stamp) <= self.max_skew else None

    def add_map_pose(self, stamp: float, pose: np.ndarray) -> bool:
        """A corrected pose at ``stamp``; False (transform kept) when no odometry of that time is held."""
        odom = self.odom_at(stamp)
        if odom is None:
            return False
        self.transform = se2_compose(np.asarray(pose, dtype=np.float64).reshape(3), se2_inverse(odom))
        self.stamp = float(stamp)
        return True

    def to_map(self, odom_pose: np.ndarray) -> np.ndarray:
        return se2_compose(self.transform, np.asarray(odom_pose, dtype=np.float64).reshape(3))

    def to_odom(self, map_pose: np.ndarray) -> np.ndarray:
        return se2_compose(se2_inverse(self.transform), np.asarray(map_pose, dtype=np.float64).reshape(3))
