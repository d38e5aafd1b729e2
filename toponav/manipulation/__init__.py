"""Manipulation core: arm kinematics, observation layout, scripted demos, world-model agent and MPPI.

Kept import-light: ``kinematics``, ``obs`` and ``demos`` are numpy-only (the simulator uses them);
the torch parts (``agent``, ``mppi``, ``buffer``) are imported only where needed.
"""
