"""Scripted demonstrations: hand-written feedback controllers on the flat observation.

They are functions of the observation alone (no hidden phase), so behaviour cloning can imitate
them exactly; a little action noise makes the demos cover recovery states. They are what MoDem-V2
calls "a handful of demonstrations": the world-model agent sees only their transitions.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from toponav.manipulation.goal_env import OWN_TASKS
from toponav.manipulation.obs import ACTION_SCALE, EE, GOAL, OBJ, OBJECT_HALF, WIDTH

Policy = Callable[[np.ndarray], np.ndarray]


def _toward(ee: np.ndarray, target: np.ndarray, gain: float = 1.0) -> np.ndarray:
    return np.clip(gain * (target - ee) / ACTION_SCALE, -1.0, 1.0)


def push_policy(obs: np.ndarray, speed: float = 1.0) -> np.ndarray:
    """Go behind the cube (seen from the goal), lower the fingertips, push along the cube-goal line.

    ``speed`` caps the action while pushing: panda-gym's cube slides on after a fast push, so its
    demos push at a fraction of full speed (see ``POLICIES``)."""
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
        return speed * _toward(ee, np.array([*target, low]))
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


def reach_policy(obs: np.ndarray) -> np.ndarray:
    """Move the end effector straight to the goal (panda-gym's Reach: the achieved goal is the EE)."""
    return _toward(obs[EE], obs[GOAL])


#: Scripted policy per task family. Slide (panda-gym's PandaSlide) gets the push script: it pushes the
#: puck along the line to the goal, which reaches near goals only (the script does not strike it).
POLICIES: dict[str, Policy] = {"push": push_policy, "pickplace": pickplace_policy, "reach": reach_policy,
                               "slide": push_policy}


#: The same scripts for gymnasium goal-envs other than our scenes (panda-gym). panda-gym's cube slides on
#: after a full-speed push, so push demos there push at 0.4 of full speed: noiseless, seeds 0-19, 18/20
#: succeed at the last step against 1/20 at full speed (12/20 at 0.2 and 0.6). Slide has no working script
#: (the push script: 0/20; the puck's goals lie beyond reach and need a strike).
GOAL_ENV_POLICIES: dict[str, Policy] = {"push": partial(push_policy, speed=0.4), "pickplace": pickplace_policy,
                                        "reach": reach_policy, "slide": partial(push_policy, speed=1.0)}


def scripted_policy(env) -> Policy:
    """The scripted demo policy for a :class:`toponav.learning.flat_goal_env.FlatGoalEnv`, on its flat obs."""
    if env.name in OWN_TASKS:  # the 10-vector itself (float32 arithmetic: the same demos as before the adapter)
        return POLICIES[env.task]
    table = GOAL_ENV_POLICIES
    if env.task not in table:
        raise ValueError(f"no scripted demo policy for env {env.name!r} (known task families: {sorted(table)}); "
                         "use --demos 0")
    return for_layout(table[env.task], env.layout, env.action_space.shape[0])


def for_layout(policy: Policy, layout, action_dim: int) -> Policy:
    """Run a scripted policy (written on our 10-vector) on another env's flat observation layout.

    ``layout`` is a :class:`toponav.manipulation.goal_env.ObsLayout`: the EE position, finger width (0 when
    the env has none), achieved goal and desired goal are read from it; the action is cut to the env's size.
    """

    def act(obs: np.ndarray) -> np.ndarray:
        o = np.asarray(obs)
        width = float(o[layout.width]) if layout.width >= 0 else 0.0
        view = np.concatenate([o[layout.ee:layout.ee + 3], [width], o[layout.achieved_slice],
                               o[layout.desired_slice]]).astype(o.dtype)
        a = np.asarray(policy(view), dtype=float)
        return np.concatenate([a, np.zeros(max(0, action_dim - a.shape[0]))])[:action_dim]

    return act
