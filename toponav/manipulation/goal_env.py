"""Where the end effector, the achieved goal and the desired goal lie in a goal-env's flat observation.

A goal-env observes ``{"observation", "achieved_goal", "desired_goal"}``; the learners and the world model
read one flat float vector and must know where in it those parts lie (features, hindsight relabelling,
scripted demos). That is :class:`ObsLayout`. A world-model checkpoint stores its layout's indices in its
config, and the deployed controller (:mod:`toponav.manipulation.controller`) refuses a checkpoint whose
layout is not :data:`OWN_LAYOUT`, our scenes' 10-vector. The gymnasium wrappers that produce such flat
vectors are training code: :mod:`toponav.learning.flat_goal_env`. numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ObsLayout:
    """Where things lie in the flat observation vector (all start indices; positions are 3 numbers)."""

    dim: int
    ee: int
    achieved: int
    desired: int
    #: index of the finger width, -1 when the flat vector has none
    width: int = -1
    #: the flat indices that make up the dict's ``observation`` (to rebuild the dict for SB3)
    observation: tuple[int, ...] = ()
    goal_dim: int = 3

    @property
    def achieved_slice(self) -> slice:
        return slice(self.achieved, self.achieved + self.goal_dim)

    @property
    def desired_slice(self) -> slice:
        return slice(self.desired, self.desired + self.goal_dim)

    def to_dict(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Flat vector(s) -> the goal-env dict (inverse of the flattening)."""
        flat = np.asarray(flat, dtype=np.float32)
        return {"observation": flat[..., list(self.observation)], "achieved_goal": flat[..., self.achieved_slice],
                "desired_goal": flat[..., self.desired_slice]}

    def model_indices(self) -> dict[str, int]:
        """The indices the world model's feature map needs (stored in its config)."""
        return {"obs_dim": self.dim, "ee_index": self.ee, "achieved_index": self.achieved,
                "desired_index": self.desired}


#: Our own scenes: [ee(3), finger width, cube(3), goal(3)] (``toponav.manipulation.obs``).
OWN_LAYOUT = ObsLayout(dim=10, ee=0, achieved=4, desired=7, width=3, observation=tuple(range(7)))
OWN_TASKS = ("push", "pickplace")
