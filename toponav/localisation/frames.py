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
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from toponav.geometry import se2_compose, se2_inverse, wrap_angle

T = TypeVar("T")


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

    @property
    def oldest(self) -> float | None:
        """Stamp of the earliest sample held (None when empty)."""
        return self._stamps[0] if self._stamps else None

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


@dataclass
class Paired(Generic[T]):
    """A message and the odometry pose of its stamp, or None and why it was dropped."""

    stamp: float
    item: T
    pose: np.ndarray | None
    reason: str = ""


class OdomFilter(Generic[T]):
    """Hands each stamped message (a scan) on with the odometry pose of its stamp, what tf2_ros::MessageFilter does
    for ``odom -> base_link`` in a full ROS install.

    Two topics have no order between them: a scan that overtakes the odometry of its stamp waits for it (up to
    ``wait`` seconds of later stamps, at most ``queue`` scans), and is then paired with the pose interpolated
    between the samples either side (at most ``max_gap`` apart). A scan is never paired with the odometry of
    another time: a prior 0.1 s stale is 0.2 m off at 2 m/s, more than scan matching corrects along a corridor,
    and the map it grows is then off for good (found in a CI run under load, where best-effort /odom samples were
    lost). One whose odometry does not come, or lies across a gap, is dropped with the reason; the next scan
    follows within a tenth of a second.
    """

    def __init__(self, wait: float = 0.25, max_gap: float = 0.5, queue: int = 20, history: int = 200,
                 jump_tolerance: float = 0.5) -> None:
        self.wait = float(wait)
        self.queue = int(queue)
        self.jump_tolerance = float(jump_tolerance)
        # exact or interpolated only: max_age 0 leaves out the "nearest sample" fallback
        self.odom = OdomHistory(max_skew=0.0, max_gap=max_gap, max_age=0.0, history=history,
                                jump_tolerance=jump_tolerance)
        self._held: deque[tuple[float, T]] = deque()  # ascending stamps

    @property
    def max_gap(self) -> float:
        return self.odom.max_gap

    @max_gap.setter
    def max_gap(self, value: float) -> None:
        self.odom.max_gap = float(value)

    @property
    def held(self) -> int:
        return len(self._held)

    def add_odom(self, stamp: float, pose: np.ndarray) -> list[Paired[T]]:
        """An odometry sample; returns the held scans it completes (and those a time jump makes stale)."""
        t = float(stamp)
        out = self._drop_after(t)
        self.odom.add(t, pose)
        newest = self.odom.newest
        while self._held and newest is not None and self._held[0][0] <= newest:
            ts, item = self._held.popleft()
            out.append(self._pair(ts, item))
        return out

    def add(self, stamp: float, item: T) -> list[Paired[T]]:
        """A scan; returns every scan that is settled now (this one, if its odometry is there, and held ones that
        waited too long), in stamp order."""
        t = float(stamp)
        out = self._drop_after(t)
        newest = self.odom.newest
        if newest is not None and t < newest - self.jump_tolerance:
            self.odom.clear()  # time jumped back: the odometry held is of the run before, this scan waits for its own
            newest = None
        if newest is not None and t <= newest:
            out.append(self._pair(t, item))
            return out
        i = bisect.bisect_right([s for s, _ in self._held], t)
        self._held.insert(i, (t, item))
        latest = self._held[-1][0]
        while self._held and (self._held[0][0] < latest - self.wait or len(self._held) > self.queue):
            ts, old = self._held.popleft()
            why = "more scans waiting than the queue holds" if ts >= latest - self.wait else \
                f"no odometry at or after its stamp within {self.wait:g} s"
            out.append(Paired(ts, old, None, why))
        return out

    def pair_now(self, stamp: float, item: T) -> Paired[T]:
        """Pair without waiting: in lockstep a step's messages come in stamp order, odometry first, and none is
        lost, so a scan past the newest sample (a scan rate that does not divide the odometry rate) takes that
        sample when it is at most ``wait`` old: stale by under one odometry period, what nothing later can
        improve within the step."""
        t = float(stamp)
        paired = self._pair(t, item)
        newest = self.odom.newest
        if paired.pose is None and newest is not None and newest < t <= newest + self.wait:
            return Paired(t, item, self.odom.at(newest))
        return paired

    def _pair(self, t: float, item: T) -> Paired[T]:
        pose = self.odom.at(t)
        if pose is not None:
            return Paired(t, item, pose)
        newest = self.odom.newest
        if newest is None:
            why = "no odometry yet"
        elif t > newest:
            why = f"no odometry at or after its stamp (newest {newest:.3f} s)"
        elif t < self.odom.oldest:
            why = f"older than the odometry held (oldest {self.odom.oldest:.3f} s)"
        else:
            why = f"the odometry samples either side are more than {self.max_gap:g} s apart"
        return Paired(t, item, None, why)

    def _drop_after(self, t: float) -> list[Paired[T]]:
        """A stamp further back than ``jump_tolerance`` (sim reset, bag loop): the held scans were of the other
        run."""
        out: list[Paired[T]] = []
        while self._held and self._held[-1][0] > t + self.jump_tolerance:
            ts, item = self._held.pop()
            out.append(Paired(ts, item, None, f"time jumped back to {t:.3f} s"))
        out.reverse()
        return out


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
