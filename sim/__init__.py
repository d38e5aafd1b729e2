"""Simulation: PyBullet backends, gymnasium environments and the vectorised numpy training twin.

Imports nothing heavy at package level, so ``toponav.sim.<module>`` can be imported selectively.
Never imports rclpy or torch.
"""
