"""Scan cleaning and conversion shared by the safety layer, DWA and the learned-policy observation.

LaserScan conventions (REP 117): NaN = invalid reading, +inf = no return (free up to range_max),
-inf = object closer than range_min. All functions accept a batch (N, B) or one scan (B,).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CleanScan:
    """A scan made safe to compute with.

    ranges: finite ranges (invalid beams set to range_max so they never look like obstacles);
    valid:  mask of beams that carry information (finite reading or a 'no return');
    blind:  per scan, True when too many beams were invalid to trust the free space.
    """

    ranges: np.ndarray
    valid: np.ndarray
    blind: np.ndarray


def clean_scan(ranges: np.ndarray, range_max: float, range_min: float = 0.0,
               max_invalid_fraction: float = 0.5) -> CleanScan:
    r = np.asarray(ranges, dtype=np.float64)
    single = r.ndim == 1
    r = np.atleast_2d(r)
    nan = np.isnan(r)
    too_close = np.isneginf(r) | (np.isfinite(r) & (r < range_min) & (r >= 0.0))
    negative = np.isfinite(r) & (r < 0.0)  # garbage: a range is never negative
    out = np.where(np.isposinf(r) | (r > range_max), range_max, r)
    out = np.where(too_close, 0.0, out)  # -inf: something right at the sensor
    invalid = nan | negative
    out = np.where(invalid, range_max, out)
    valid = ~invalid
    frac = invalid.mean(axis=1) if r.shape[1] else np.ones(r.shape[0])
    blind = frac > max_invalid_fraction
    if single:
        return CleanScan(out[0], valid[0], blind[:1])
    return CleanScan(out, valid, blind)


def scan_points(ranges: np.ndarray, angles: np.ndarray, valid: np.ndarray | None = None,
                range_max: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Obstacle points in the robot frame, (…, B, 2), and a mask of beams that hit something.

    Beams at range_max (no return) and invalid beams are masked out.
    """
    r = np.asarray(ranges, dtype=np.float64)
    a = np.asarray(angles, dtype=np.float64)
    pts = np.stack([r * np.cos(a), r * np.sin(a)], axis=-1)
    hit = np.ones(r.shape, dtype=bool)
    if range_max is not None:
        hit &= r < range_max - 1e-6
    if valid is not None:
        hit &= valid
    return pts, hit


def seen_through(dist: np.ndarray, bearing: np.ndarray, beam_angles: np.ndarray, beam_reach: np.ndarray,
                 width: float, beyond: float, neighbours: int = 3) -> np.ndarray:
    """Which of M points (``dist``, ``bearing`` from the sensor, in the beams' frame) a beam of this scan passed
    within ``width`` of and ended at least ``beyond`` past: raytrace clearing's test, (M,) bool.

    ``beam_reach`` (B,) is how far each beam saw (its range, range_max for no return, 0 for an invalid beam).
    Only the ``2 * neighbours + 1`` beams nearest in bearing to each point are tested ((M, K), not (M, B)).
    """
    dist = np.asarray(dist, dtype=np.float64)
    am = np.mod(np.asarray(beam_angles, dtype=np.float64), 2 * np.pi)
    order = np.argsort(am, kind="stable")
    k = np.searchsorted(am[order], np.mod(bearing, 2 * np.pi))[:, None] + np.arange(-neighbours, neighbours + 1)
    j = order[np.mod(k, len(am))]  # (M, K) beam indices, wrapping round the circle
    rel = np.abs(np.angle(np.exp(1j * (am[j] - np.asarray(bearing)[:, None]))))
    lateral = dist[:, None] * np.sin(np.minimum(rel, 0.5 * np.pi))
    through = (rel < 0.5 * np.pi) & (lateral <= width) & (np.asarray(beam_reach)[j] > dist[:, None] + beyond)
    return through.any(axis=1)


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances (…, K, P) between points a (…, K, 2) and b (…, P, 2).

    Coordinate by coordinate, without the (…, K, P, 2) difference array and without a BLAS call (a
    threaded matrix product is slower than this on a busy 2-core machine).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    dx = a[..., :, None, 0] - b[..., None, :, 0]
    dy = a[..., :, None, 1] - b[..., None, :, 1]
    return np.sqrt(dx * dx + dy * dy)


def sector_min(ranges: np.ndarray, angles: np.ndarray, sectors: int, fill: float) -> np.ndarray:
    """Down-sample to ``sectors`` equal sectors over [-pi, pi): min range per sector (``fill`` if empty).

    Sector k is centred on angle -pi + (k + 0.5) * 2pi / sectors, so it works for any beam count or fov.
    """
    r = np.atleast_2d(np.asarray(ranges, dtype=np.float64))
    a = np.asarray(angles, dtype=np.float64)
    idx = np.floor(((a + np.pi) % (2 * np.pi)) / (2 * np.pi) * sectors).astype(int) % sectors
    out = np.full((r.shape[0], sectors), np.inf)
    for k in range(sectors):  # sectors is small (32): a python loop over sectors, numpy over beams/batch
        m = idx == k
        if m.any():
            out[:, k] = r[:, m].min(axis=1)
    out = np.where(np.isinf(out), fill, out)
    return out if np.ndim(ranges) > 1 else out[0]
