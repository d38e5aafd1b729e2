"""Run ROS 2 XML launch files without ``ros2 launch`` (which this environment cannot install).

:mod:`.parser` reads the documented subset of the ROS 2 XML launch format (docs/launch.md) into
plain :class:`NodeSpec` records, :mod:`.runner` starts each node as its own process on a private,
loopback-only DDS domain and supervises it, :mod:`.share` finds ``share/<pkg>`` for
``$(find-pkg-share ...)`` in colcon install trees, pip installs and source checkouts. No rclpy here.
"""

from toponav.launching.errors import LaunchError
from toponav.launching.parser import LaunchDescription, NodeSpec, parse_launch_file
from toponav.launching.runner import Launcher
from toponav.launching.share import find_package_share

__all__ = ["LaunchDescription", "LaunchError", "Launcher", "NodeSpec", "find_package_share", "parse_launch_file"]
