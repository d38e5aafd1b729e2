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


class OdomHistory:
    """Recent odometry samples by stamp, and the pose at any stamp between them: what tf2's buffer answers for
    ``odom -> base_link`` in a full ROS install. The one home of this lookup (the mapper pairs each scan with it,
    :class:`MapFromOdom` each corrected pose)."""

    def __init__(self, max_skew: float = 0.1, max_gap: float = 0.6, max_age: float | None = None,
                 history: int | None = 400, jump_tolerance: float = 0.0) -> None:
        self.max_skew = float(max_skew)  # s: a sample this close to the stamp is used as is (0: interpolate always)
        self.max_gap = float(max_gap)  # s: else two samples at most this far apart either side are interpolated
        self.max_age = self.max_skew if max_age is None else float(max_age)  # s: else the nearest this close
        self.jump_tolerance = float(jump_tolerance)  # s: a stamp further back than this starts a new history
        self._stamps: deque[float] = deque(maxlen=history)  # ascending
        self._poses: deque[np.ndarray] = deque(maxlen=history)  # (3,) each, aligned with _stamps

    def __len__(self) -> int:
        return len(self._stamps)

    def clear(self) -> None:
        self._stamps.clear()
        self._poses.clear()

    @property
    def newest(self) -> float | None:
        """Stamp of the latest sample (None when empty)."""
        return self._stamps[-1] if self._stamps else None

    def add(self, stamp: float, pose: np.ndarray) -> None:
        """A sample; one older than the newest by more than ``jump_tolerance`` starts a new history (sim reset,
        bag loop: the older odometry belongs to another run), a less late one is put in stamp order."""
        t, p = float(stamp), np.asarray(pose, dtype=np.float64).reshape(3)
        if self._stamps and t < self._stamps[-1]:
            if t < self._stamps[-1] - self.jump_tolerance:
                self.clear()
            else:
                if len(self._stamps) == self._stamps.maxlen:
                    self._stamps.popleft()
                    self._poses.popleft()
                i = bisect.bisect_right(self._stamps, t)
                self._stamps.insert(i, t)
                self._poses.insert(i, p)
                return
        self._stamps.append(t)
        self._poses.append(p)

    def at(self, stamp: float) -> np.ndarray | None:
        """The pose at ``stamp``: the nearest sample within ``max_skew``, else interpolated (linear in x, y and
        the wrapped yaw) between the samples either side when they lie within ``max_gap`` of each other, else
        the nearest within ``max_age``, else None."""
        stamps, poses = self._stamps, self._poses
        if not stamps:
            return None
        i = bisect.bisect_left(stamps, stamp)
        best = min((j for j in (i - 1, i) if 0 <= j < len(stamps)), key=lambda j: abs(stamps[j] - stamp))
        skew = abs(stamps[best] - stamp)
        if skew <= self.max_skew:
            return poses[best]
        if 0 < i < len(stamps) and stamps[i] - stamps[i - 1] <= self.max_gap:
            t0, t1, a, b = stamps[i - 1], stamps[i], poses[i - 1], poses[i]
            u = (stamp - t0) / (t1 - t0)
            return np.array([a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1]),
                             float(wrap_angle(a[2] + u * wrap_angle(b[2] - a[2])))])
        return poses[best] if skew <= self.max_age else None


class MapFromOdom:
    """Keeps the latest ``map <- odom`` from corrected poses matched to the odometry of the same stamp."""

    def __init__(self, max_skew: float = 0.1, max_gap: float = 0.6, history: int = 400) -> None:
        # nearest sample within max_skew, else interpolated across at most max_gap (a node that takes odometry at
        # a few Hz, as the planner in lockstep, holds one sample per tick)
        self._odom = OdomHistory(max_skew=max_skew, max_gap=max_gap, history=history)
        self.transform = np.zeros(3)
        self.stamp: float | None = None  # stamp of the corrected pose the transform came from

    def reset(self) -> None:
        self._odom.clear()
        self.transform = np.zeros(3)
        self.stamp = None

    def add_odom(self, stamp: float, pose: np.ndarray) -> None:
        self._odom.add(stamp, pose)

    def odom_at(self, stamp: float) -> np.ndarray | None:
        """The odometry pose at ``stamp`` (:meth:`OdomHistory.at`), or None."""
        return self._odom.at(stamp)

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
