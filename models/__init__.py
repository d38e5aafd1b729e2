"""torch models (RND, avoidance policy, meta-controller, world model) and checkpoint io.

Never imports rclpy, pybullet or toponav.sim.
"""
