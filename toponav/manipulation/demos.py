"""Scripted demonstrations: hand-written feedback controllers on the flat observation.

They are functions of the observation alone (no hidden phase), so behaviour cloning can imitate
them exactly; a little action noise makes the demos cover recovery states. They are what MoDem-V2
calls "a handful of demonstrations": the world-model agent sees only their transitions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from toponav.manipulation.obs import ACTION_SCALE, EE, GOAL, OBJ, OBJECT_HALF, WIDTH

Policy = Callable[[np.ndarray], np.ndarray]


def _toward(ee: np.ndarray, target: np.ndarray, gain: float = 1.0) -> np.ndarray:
    return np.clip(gain * (target - ee) / ACTION_SCALE, -1.0, 1.0)


def push_policy(obs: np.ndarray) -> np.ndarray:
    """Go behind the cube (seen from the goal), lower the fingertips, push along the cube-goal line."""
    ee, obj, goal = obs[EE], obs[OBJ], obs[GOAL]
    d = goal[:2] - obj[:2]
    dist = float(np.linalg.norm(d))
    if dist < 0.015:
        return np.zeros(3)
    u = d / dist
    rel = ee[:2] - obj[:2]
    along = float(rel @ u)
    lateral = float(np.linalg.norm(rel - along * u))
    behind = obj[:2] - u * (OBJECT_HALF + 0.035)
    low, high = OBJECT_HALF, OBJECT_HALF + 0.06
    if along < -(OBJECT_HALF + 0.01) and lateral < 0.015:
        if ee[2] > low + 0.015:  # lined up: descend behind the cube
            return _toward(ee, np.array([*behind, low]))
        # pushing: aim past the cube's centre toward the goal, correcting sideways drift
        target = obj[:2] - u * (OBJECT_HALF + 0.005) + u * min(dist, 0.03)
        return _toward(ee, np.array([*target, low]))
    if ee[2] < high - 0.01 and np.linalg.norm(rel) < 0.08:  # near the cube but misplaced: lift first
        return _toward(ee, np.array([*ee[:2], high + 0.02]))
    return _toward(ee, np.array([*behind, high]))


def pickplace_policy(obs: np.ndarray) -> np.ndarray:
    """Open above the cube, descend, close, lift and carry to the goal (gripper as the 4th action)."""
    ee, width, obj, goal = obs[EE], float(obs[WIDTH]), obs[OBJ], obs[GOAL]
    rel = obj - ee
    above = np.array([obj[0], obj[1], obj[2] + 0.08])
    grasped = 0.02 < width < 0.047 and np.linalg.norm(rel) < 0.025
    if grasped or (obj[2] > OBJECT_HALF + 0.01 and np.linalg.norm(rel) < 0.03):
        return np.array([*_toward(ee, goal, gain=1.2), -1.0])
    if np.linalg.norm(rel[:2]) > 0.012:
        if ee[2] < obj[2] + 0.04:  # lift clear before moving sideways
            return np.array([0.0, 0.0, 1.0, 1.0])
        return np.array([*_toward(ee, above), 1.0])
    if width < 0.07 and abs(rel[2]) > 0.01:  # reopen before descending
        return np.array([0.0, 0.0, 0.0, 1.0])
    if abs(rel[2]) > 0.008:
        return np.array([*_toward(ee, obj), 1.0])
    return np.array([0.0, 0.0, 0.0, -1.0])  # at the cube: close


POLICIES: dict[str, Policy] = {"push": push_policy, "pickplace": pickplace_policy}


def noisy(policy: Policy, noise: float, rng: np.random.Generator) -> Policy:
    """The policy with clipped Gaussian action noise (demos that also show recoveries)."""

    def act(obs: np.ndarray) -> np.ndarray:
        a = policy(obs)
        return np.clip(a + noise * rng.standard_normal(a.shape), -1.0, 1.0)

    return act
