"""Does the scan cover the path? The test behind the safety layer's BLIND outcome.

A scan can be finite and still blind where it matters: all beams NaN (REP 117: invalid), one beam, every
other beam dropped, or a 270° lidar asked to reverse. Counting invalid beams over the whole scan misses
most of these, so the layer asks a local question instead: over the directions in which the commanded
motion sweeps the footprint (plus the safety margin), is there a valid beam at least every ``max_gap``
radians? A beam is valid when it carries information: a finite range, ``+inf`` (no return: free to
range_max) or ``-inf`` (too close: obstacle at range_min); NaN and negative ranges are not.

Directions are tested on a fixed circle of ``BINS`` bin centres, so the answer does not depend on the
scan's own beam count: a sparse scan is judged by the holes it leaves, not by its resolution. Everything
is vectorised over a batch of robots (N) and beams (B); no per-beam Python loop.
"""

from __future__ import annotations

import numpy as np

from toponav.geometry import wrap_angle

TWO_PI = 2.0 * np.pi
BINS = 720  # 0.5° test directions: finer than any gap limit worth setting
_CENTRES = (np.arange(BINS) + 0.5) * (TWO_PI / BINS)


def gap_at_directions(angles: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(N, BINS) width (rad) of the angular hole between the valid beams on either side of each test direction.

    ``angles`` (B,) is shared by the batch, ``valid`` is (N, B). A direction that coincides with a valid
    beam gets the spacing of its neighbours, so a fully valid 360-beam scan reads about 1°, a scan with no
    valid beam reads ``inf`` everywhere and a limited field of view reads the width of its blind arc behind.
    """
    a = np.mod(np.asarray(angles, dtype=np.float64), TWO_PI)
    order = np.argsort(a, kind="stable")
    s = a[order]
    v = np.atleast_2d(np.asarray(valid, dtype=bool))[:, order]
    n, b = v.shape
    if b == 0:
        return np.full((n, BINS), np.inf)
    idx = np.arange(b)
    prev_i = np.maximum.accumulate(np.where(v, idx, -1), axis=1)  # last valid beam at or before index
    next_i = np.minimum.accumulate(np.where(v, idx, b)[:, ::-1], axis=1)[:, ::-1]  # first valid at or after
    first = next_i[:, 0]  # b when no valid beam
    last = prev_i[:, -1]  # -1 when no valid beam
    any_valid = last >= 0
    first_a = np.where(any_valid, s[np.minimum(first, b - 1)], np.nan)
    last_a = np.where(any_valid, s[np.maximum(last, 0)], np.nan)

    lo = np.searchsorted(s, _CENTRES, side="right") - 1  # beam at or before each direction (-1: none)
    hi = np.searchsorted(s, _CENTRES, side="left")  # beam at or after each direction (b: none)
    p = np.where(lo[None, :] >= 0, prev_i[:, np.maximum(lo, 0)], -1)
    q = np.where(hi[None, :] < b, next_i[:, np.minimum(hi, b - 1)], b)
    prev_a = np.where(p >= 0, s[np.maximum(p, 0)], last_a[:, None] - TWO_PI)  # wrap to the last valid beam
    next_a = np.where(q < b, s[np.minimum(q, b - 1)], first_a[:, None] + TWO_PI)  # wrap to the first
    gap = next_a - prev_a
    # a direction right on a valid beam: the hole there is the larger of the two beside it, not zero
    on_beam = gap < 1e-12
    if on_beam.any():
        before = np.where(p - 1 >= 0, np.take_along_axis(prev_i, np.maximum(p - 1, 0), axis=1), -1)
        after = np.where(q + 1 < b, np.take_along_axis(next_i, np.minimum(q + 1, b - 1), axis=1), b)
        ba = np.where(before >= 0, s[np.maximum(before, 0)], last_a[:, None] - TWO_PI)
        aa = np.where(after < b, s[np.minimum(after, b - 1)], first_a[:, None] + TWO_PI)
        # a single valid beam is its own neighbour after wrapping: a full circle
        gap = np.where(on_beam, np.maximum(prev_a - ba, aa - next_a), gap)
    return np.where(any_valid[:, None], gap, np.inf)


def swept_directions(points: np.ndarray, reach: float) -> np.ndarray:
    """(N, BINS) mask of the directions, seen from the sensor, of discs of radius ``reach`` at ``points`` (N, T, 2).

    The footprint grown by the margin at each sampled pose of the commanded arc; a disc that contains the
    sensor covers the half-plane ahead of it (the crescent a disc sweeps when it moves lies there).
    """
    pts = np.asarray(points, dtype=np.float64)
    d = np.hypot(pts[..., 0], pts[..., 1])  # (N, T)
    moved = d > 1e-6
    bearing = np.arctan2(pts[..., 1], pts[..., 0])
    half = np.where(d > reach, np.arcsin(np.clip(reach / np.maximum(d, 1e-9), 0.0, 1.0)), 0.5 * np.pi)
    rel = np.abs(wrap_angle(_CENTRES[None, None, :] - bearing[..., None]))  # (N, T, BINS)
    return ((rel <= half[..., None]) & moved[..., None]).any(axis=1)


def path_blind(points: np.ndarray, reach: float, angles: np.ndarray, valid: np.ndarray, max_gap: float) -> np.ndarray:
    """(N,) True where some direction the motion sweeps lies in a hole of valid beams wider than ``max_gap``."""
    need = swept_directions(points, reach)
    if not need.any():
        return np.zeros(need.shape[0], dtype=bool)
    gap = gap_at_directions(angles, valid)
    return (need & (gap > max_gap)).any(axis=1)
