"""The learning layer: every training env and task, the RL kernels written once, and the learners.

What lives here is used to *make* checkpoints and to benchmark them; the deployed stack (mapper, planner,
controllers, nodes) only loads what it produces. Trainers and benchmark drivers are scripts on top of this
layer (``toponav/experiments``). See docs/architecture.md for what may import what.
"""
