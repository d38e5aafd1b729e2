"""rosbag2 recording and reading (MCAP and sqlite3) on top of ``rosbags``, no rclpy.

:class:`BagWriter` writes real rosbag2 bags (MCAP by default) with message definitions, so
Foxglove, ``ros2 bag``, the ``mcap`` CLI and rosbags open them, split by size or duration.
:func:`open_bag` reads rosbag2 directories, bare ``.mcap``/``.db3`` files and split bags, and
degrades on truncated, corrupt or partly unknown bags with warnings and a ``partial`` flag.
"""

from toponav.bags.errors import BagError
from toponav.bags.reader import BagReader, BagTopic, open_bag
from toponav.bags.types import DEFAULT_TOPICS, TYPESTORE, qos_for_topic
from toponav.bags.writer import BagWriter

__all__ = ["DEFAULT_TOPICS", "TYPESTORE", "BagError", "BagReader", "BagTopic", "BagWriter", "open_bag",
           "qos_for_topic"]
