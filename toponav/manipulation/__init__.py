"""Manipulation core, the deployed inference: arm kinematics, the observation layout, MPPI and the controller.

Kept import-light: ``kinematics``, ``obs`` and ``goal_env`` are numpy-only (the simulator uses them); the
torch parts (``mppi``, ``controller``) are imported only where needed. What trains the world model (the
learner agent, SAC, replay, scripted demos, the goal-env wrappers) lives in :mod:`toponav.learning`.
"""
