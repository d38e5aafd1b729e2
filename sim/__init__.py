"""Simulation: PyBullet backends, gymnasium environments and the vectorised numpy training twin.

Imports nothing heavy at package level, so ``toponav.sim.<module>`` can be imported selectively.
Never imports rclpy or torch.

- ``pybullet_agv``: :class:`AgvSim`, PyBullet differential-drive AGV(s) in a :class:`toponav.worlds.World`
- ``agv_env``: gymnasium ``toponav/AgvNav`` (register with ``toponav.sim.envs.register()``)
- ``twin`` / ``twin_env``: :class:`VecAgvTwin` (N robots, analytic lidar) and the vectorised AgvNav on it
- ``config``: the sim node's parameters; ``world_show``: ``toponav world show``
- ``arm``: the Panda arm tasks (manipulation)
"""
