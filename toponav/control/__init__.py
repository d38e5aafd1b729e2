"""HODAT low-level control (ROS-free): safety layer, DWA baseline, learned-policy runner, priority arbitration.

``SafetyLayer`` (time-to-collision / clearance from the scan) always has the last word; ``HodatController``
arbitrates safety > sub-goal > goal; ``DwaPlanner`` is the classic baseline; ``LearnedPolicy`` runs the
PPO policy (torch is imported only there).
"""

from toponav.control.config import DwaConfig, HodatConfig, ObservationConfig, SafetyConfig, ScanConfig
from toponav.control.dwa import DwaPlanner
from toponav.control.hodat import Decision, HodatController
from toponav.control.safety import SafetyLayer, SafetyResult

__all__ = ["Decision", "DwaConfig", "DwaPlanner", "HodatConfig", "HodatController", "ObservationConfig",
           "SafetyConfig", "SafetyLayer", "SafetyResult", "ScanConfig"]
