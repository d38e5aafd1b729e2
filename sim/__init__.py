"""Simulation: PyBullet backends (AGV and Panda arm) and the vectorised numpy training twin.

Imports nothing heavy at package level, so ``toponav.sim.<module>`` can be imported selectively.
Never imports rclpy or torch.

- ``pybullet_agv``: :class:`AgvSim`, PyBullet differential-drive AGV(s) in a :class:`toponav.worlds.World`
- ``twin``: :class:`VecAgvTwin` (N robots, analytic lidar); the training tasks on it live in ``toponav.learning``
- ``config``: the sim node's parameters; ``world_show``: ``toponav world show``
- ``arm``: the Panda arm tasks (manipulation)
"""
