"""Evaluate recorded runs: success, SPL, time to goal, path length, collisions, clearance, coverage,
graph size and the BARN metric, from rosbag2 bags (MCAP or sqlite3). No rclpy (bags are read with
rosbags / fast CDR field readers)."""

from toponav.evaluation.metrics import EvalConfig, compute_metrics, shortest_path_length
from toponav.evaluation.run import RunData, load_run

__all__ = ["EvalConfig", "RunData", "compute_metrics", "load_run", "shortest_path_length"]
