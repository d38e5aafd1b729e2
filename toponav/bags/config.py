"""Parameters of the bag recorder and player nodes (ROS parameter names mirror these fields)."""

from __future__ import annotations

from dataclasses import dataclass, field

from toponav.bags.types import RECORD_TOPICS
from toponav.config import param


@dataclass
class SplitConfig:
    max_bytes: int = param(0, "start a new storage file after this many bytes of messages (0 = never)", min=0)
    max_duration: float = param(0.0, "start a new storage file after this many seconds (0 = never)", min=0.0)


@dataclass
class RecorderConfig:
    """bag_recorder: which topics, where, how to split; metadata stored with the bag."""

    output: str = param("", "bag directory to create (default: runs/bag_<UTC timestamp>)")
    topics: list[str] = param(list(RECORD_TOPICS), "topics to record; relative names resolve in the recorder's "  # noqa: RUF009
                              "namespace, as with ros2 bag record (types found on the graph when not standard)")
    storage: str = param("mcap", "storage plugin", choices=("mcap", "sqlite3"))
    queue_size: int = param(10000, "messages buffered between the callbacks and the writer thread; overflow "
                                   "is counted as drops", min=10)
    discovery_period: float = param(1.0, "how often to look for topics not seen yet (s, wall)", min=0.1)
    world: str = param("", "world spec of the run, stored in metadata (toponav.world) for evaluation")
    seed: int = param(-1, "world seed of the run, stored in metadata (toponav.seed); -1 = not given")
    lockstep: bool = param(False, "say hello to a lockstep sim (started with lockstep_recorder) once every "
                           "advertised topic is subscribed, so the bag holds the run from its first step")
    split: SplitConfig = field(default_factory=SplitConfig)


@dataclass
class PlayerConfig:
    """bag_player: replay on the original timing, with /clock."""

    bag: str = param("", "bag to play (rosbag2 directory, .mcap or .db3)")
    rate: float = param(1.0, "playback rate factor (2.0 = twice as fast)", min=0.01, max=1000.0)
    start_offset: float = param(0.0, "skip this many seconds from the start of the bag", min=0.0)
    topics: list[str] = param([""], "only these topics (empty = all)")  # noqa: RUF009
    loop: bool = param(False, "restart from the beginning when the bag ends")
    clock: bool = param(True, "publish /clock from the bag timestamps (recorded /clock is then not replayed)")
    clock_rate: float = param(100.0, "/clock publish rate (Hz, wall)", min=1.0, max=10000.0)
    exit_when_done: bool = param(True, "shut the node down when playback ends (not looping)")
    start_delay: float = param(0.5, "wall seconds to wait after start so subscribers can connect", min=0.0)
    wait_for_subscribers: int = param(0, "before playing, wait (up to 30 s) until every replayed topic has this "
                                         "many subscribers", min=0)
