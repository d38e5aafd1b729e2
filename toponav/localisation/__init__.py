"""Drift-free localisation (issue 17): 2-D scan-to-map registration, the local point map, and the pose graph.

Core layer: numpy/scipy only (no rclpy, no sim, no torch), so the mapper node and the benchmarks share it.
"""
