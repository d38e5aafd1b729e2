"""Thin rclpy nodes: parameters -> core objects, messages <-> core types, publish.

The only package that imports rclpy and ROS message packages.
"""
