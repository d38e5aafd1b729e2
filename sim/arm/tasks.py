"""Arm tasks as data + goal sampling: where the cube starts, where its goal is, what counts as solved.

A task receives an RNG and returns positions; it never touches the robot (panda-gym's split).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toponav.manipulation.obs import OBJECT_HALF, SUCCESS_DISTANCE, TASKS, TaskSpec


@dataclass(frozen=True)
class TaskSampler:
    """Initial cube position and goal distribution for one task.

    Push ("sensibly easy", as in the issue): the cube starts within ``obj_range`` of the table
    centre, the goal lies on the table ``goal_min``..``goal_max`` away in a random direction.
    Pick-and-place: same, but the goal is lifted to a random height up to ``goal_height``.
    """

    spec: TaskSpec
    obj_range: float = 0.05
    goal_min: float = 0.08
    goal_max: float = 0.15
    goal_height: float = 0.0
    yaw_range: float = np.pi / 4
    success_distance: float = SUCCESS_DISTANCE

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, float, np.ndarray]:
        """Cube position (3,), cube yaw and goal position (3,)."""
        obj = np.array([*rng.uniform(-self.obj_range, self.obj_range, size=2), OBJECT_HALF])
        yaw = float(rng.uniform(-self.yaw_range, self.yaw_range))
        r = rng.uniform(self.goal_min, self.goal_max)
        a = rng.uniform(-np.pi, np.pi)
        goal = obj + np.array([r * np.cos(a), r * np.sin(a), 0.0])
        if self.goal_height > 0.0:
            goal[2] += rng.uniform(0.0, self.goal_height)
        return obj, yaw, goal


def make_sampler(task: str) -> TaskSampler:
    """The sampler for a task name ("push" or "pickplace")."""
    if task not in TASKS:
        raise ValueError(f"unknown arm task {task!r}; valid: {sorted(TASKS)}")
    if task == "pickplace":
        return TaskSampler(TASKS[task], goal_height=0.12, yaw_range=0.1)
    return TaskSampler(TASKS[task])
