"""HODAT low-level control (ROS-free): safety layer, DWA baseline, learned-policy runner, priority arbitration.

``SafetyLayer`` (time-to-collision / clearance from the scan and the short ``ObstacleMemory``; blind, i.e.
path not covered by valid beams, or stale scans stop) always has the last word; ``HodatController``
arbitrates safety > sub-goal > goal; ``DwaPlanner`` is the classic baseline; ``LearnedPolicy`` runs the
PPO policy (torch is imported only there).
"""

from toponav.control.config import DwaConfig, HodatConfig, MemoryConfig, ObservationConfig, SafetyConfig, ScanConfig
from toponav.control.dwa import DwaPlanner
from toponav.control.hodat import ControlDecision, HodatController
from toponav.control.memory import ObstacleMemory
from toponav.control.safety import SafetyLayer, SafetyResult

__all__ = ["ControlDecision", "DwaConfig", "DwaPlanner", "HodatConfig", "HodatController", "MemoryConfig",
           "ObservationConfig", "ObstacleMemory", "SafetyConfig", "SafetyLayer", "SafetyResult", "ScanConfig"]
