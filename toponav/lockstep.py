"""Lockstep bookkeeping without ROS: the simulator's step barrier, the nodes' input join, tick scheduling
and the real-time-factor meter.

Why: on a busy machine a free-running simulator runs ahead of the nodes that drive the robot, so the same
world gives a different (and often worse) run each time. In lockstep (CARLA's synchronous mode, Gazebo's
lockstep) sim time advances one step only when every participating node has processed that step's inputs.
Determinism comes from joining inputs by *key* (a message's stamp in integer nanoseconds, or a checksum of a
payload without a header) rather than by arrival: the sim names, per step, the key of the newest message of
every stream, and a node computes only once it holds exactly those messages, whatever order DDS delivered
them in. A wall-clock deadline bounds every wait: a hung node is reported and dropped, never waited on forever.

The ROS side lives in ``toponav.ros_nodes.lockstep`` (node client) and ``toponav.ros_nodes.sim_node``.
"""

from __future__ import annotations

import json
import math
import zlib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Topics of the protocol (absolute: one simulator, one barrier for all its robots; participants and streams are
#: told apart by their namespaced names).
STEP_TOPIC = "/lockstep/step"
ACK_TOPIC = "/lockstep/ack"
STATUS_TOPIC = "/lockstep/status"
#: The step number a node's "hello" carries: it is alive and subscribed, but has processed no step yet.
HELLO = -1
RECORDER = "bag_recorder"  # the observer name the sim waits for when asked to (sim_node lockstep_recorder)


def stream_name(topic: str) -> str:
    """A stream's name in the protocol (``latest`` of a step, ``outputs`` of an ack): its resolved topic name
    without the leading "/" (``scan`` at the root, ``robot1/scan`` under robot1), so one barrier serves every
    robot of a multi-robot sim and a one-robot run keeps the bare names."""
    return topic.lstrip("/")


def stamp_key(sec: int, nanosec: int) -> int:
    """Integer nanoseconds of a ROS stamp: an exact key (float seconds would not compare exactly)."""
    return int(sec) * 1_000_000_000 + int(nanosec)


def seconds_key(t: float) -> int:
    return round(t * 1e9)


def payload_key(data: str) -> int:
    """Key of a message without a header (std_msgs/String JSON): CRC-32 of its text, stable across processes
    (Python's ``hash`` of a str is salted per process)."""
    return zlib.crc32(data.encode())


# ------------------------------------------------------------------------------------------- messages
@dataclass
class StepMsg:
    """sim -> nodes: step ``step`` is at sim time ``stamp`` (ns); ``latest`` names each stream's newest key."""

    step: int
    stamp: int
    latest: dict[str, int]

    def to_json(self) -> str:
        return json.dumps({"step": self.step, "stamp": self.stamp, "latest": self.latest}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> StepMsg:
        d = json.loads(text)
        return cls(int(d["step"]), int(d["stamp"]), {str(k): int(v) for k, v in d.get("latest", {}).items()})


@dataclass
class AckMsg:
    """node -> sim: ``node`` processed ``step`` (HELLO: alive, not stepped yet) and published ``outputs``
    (stream -> key). ``cmd`` is the velocity command [v, w] a controller published for this step: carried in
    the ack so the sim applies exactly the command that answers the step (a plain Twist has no stamp).
    ``inputs`` (hello only) lists the topics the node joins on, so the sim can wait for them to be matched."""

    node: str
    step: int
    outputs: dict[str, int] = field(default_factory=dict)
    cmd: tuple[float, float] | None = None
    inputs: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        d: dict[str, Any] = {"node": self.node, "step": self.step, "outputs": self.outputs}
        if self.cmd is not None:
            d["cmd"] = [float(self.cmd[0]), float(self.cmd[1])]
        if self.inputs:
            d["inputs"] = self.inputs
        if self.late:
            d["late"] = self.late
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> AckMsg:
        d = json.loads(text)
        cmd = d.get("cmd")
        return cls(str(d["node"]), int(d["step"]), {str(k): int(v) for k, v in d.get("outputs", {}).items()},
                   None if cmd is None else (float(cmd[0]), float(cmd[1])), [str(t) for t in d.get("inputs", [])],
                   [str(s) for s in d.get("late", [])])


# ------------------------------------------------------------------------------------- sim: barrier
class StepBarrier:
    """Which participants still owe an ack for the current step, and who missed the wall-clock deadline.

    Start-up: stepping begins once every participant has said hello, or when ``startup_timeout`` wall
    seconds have passed (the missing ones are reported as hung, so a node that never starts cannot stall
    the run). A node dropped as hung is re-admitted when it acks the current step or says hello again
    (it was only slow), and is reported as back.

    ``observers`` (the bag recorder) only say hello: stepping waits for them too, so they see the run from its
    first step, but they never owe an ack and cannot slow the run down. An observer's hello counts only when
    it comes after every participant's first hello (it says hello again every 0.5 s until the first step).
    """

    def __init__(self, participants: Iterable[str], timeout: float, startup_timeout: float,
                 observers: Iterable[str] = ()) -> None:
        self.participants = tuple(dict.fromkeys(participants))
        self.observers = tuple(o for o in dict.fromkeys(observers) if o not in self.participants)
        self.members = self.participants + self.observers  # every name whose hello stepping waits for
        if timeout <= 0 or startup_timeout <= 0:
            raise ValueError("lockstep timeouts must be > 0")
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.seen: set[str] = set()
        self.active: set[str] = set()
        self.hung: dict[str, str] = {}  # name -> why
        self.step = HELLO
        self.pending: set[str] = set()
        self.began = math.nan
        self.created: float | None = None
        self.started = False

    def hello(self, name: str) -> bool:
        """A participant is alive; True when this re-admits one that had been dropped."""
        if name not in self.members:
            return False
        if name in self.participants and name not in self.seen and not self.started:
            # a participant's publishers exist from its hello on: an observer must say hello again after it,
            # once it receives those too
            self.seen.difference_update(self.observers)
        self.seen.add(name)
        back = name in self.hung
        if back:
            del self.hung[name]
        if self.started and name in self.participants:
            self.active.add(name)
        return back

    def try_start(self, wall: float) -> list[str] | None:
        """Call until it returns a list: the participants that did not appear (reported hung), [] if none."""
        if self.started:
            return []
        if self.created is None:
            self.created = wall
        missing = [p for p in self.members if p not in self.seen]
        if missing and wall - self.created < self.startup_timeout:
            return None
        for p in missing:
            self.hung[p] = f"no hello within {self.startup_timeout:.0f} s of start-up"
        self.active = self.seen & set(self.participants)
        self.started = True
        return missing

    def begin(self, step: int, wall: float) -> None:
        self.step = step
        self.pending = set(self.active)
        self.began = wall

    def ack(self, name: str, step: int) -> bool:
        """Record an ack; True when it re-admitted a node dropped as hung."""
        if name not in self.participants or step != self.step:
            return False
        back = name in self.hung or (self.started and name not in self.active)
        if back:
            self.hung.pop(name, None)
            self.active.add(name)
        self.seen.add(name)
        self.pending.discard(name)
        return back

    @property
    def complete(self) -> bool:
        return self.started and not self.pending

    def overdue(self, wall: float) -> list[str]:
        """Participants that missed the deadline of the current step: dropped and marked hung."""
        if not self.pending or not wall - self.began > self.timeout:
            return []
        late = sorted(self.pending)
        for name in late:
            self.hung[name] = f"no ack for step {self.step} within {self.timeout:.1f} s (wall)"
            self.active.discard(name)
        self.pending.clear()
        return late


# --------------------------------------------------------------------------------------- nodes: join
class InputJoin:
    """Per-stream FIFO of received messages, keyed; what a node feeds its logic for a step.

    ``needs`` maps a stream to the key of the message the step requires (the newest, as the sim names it).
    A stream is ready when a message with that key is buffered or was the last one fed. Feeding pops, in
    the fixed stream ``order``, every buffered message up to and including the needed one: older ones too,
    oldest first, as a free-running node would have processed them; newer ones stay for a later step.
    """

    def __init__(self, order: Sequence[str], depth: int = 200) -> None:
        self.order = tuple(order)
        self._buf: dict[str, deque[tuple[int, Any]]] = {s: deque(maxlen=depth) for s in self.order}
        self._fed: dict[str, int] = {}

    def push(self, stream: str, key: int, msg: Any) -> None:
        self._buf[stream].append((key, msg))

    def missing(self, needs: Mapping[str, int]) -> list[str]:
        out = []
        for s in self.order:
            if s not in needs:
                continue
            key = needs[s]
            if self._fed.get(s) != key and all(k != key for k, _ in self._buf[s]):
                out.append(s)
        return out

    def take(self, needs: Mapping[str, int]) -> list[tuple[str, Any]]:
        """Messages to feed, in order. A stream whose needed key never came (the caller waited its deadline)
        gives everything buffered for it: the best the node can do."""
        out: list[tuple[str, Any]] = []
        for s in self.order:
            if s not in needs or self._fed.get(s) == needs[s]:
                continue
            buf, key = self._buf[s], needs[s]
            have = any(k == key for k, _ in buf)
            while buf:
                k, msg = buf.popleft()
                out.append((s, msg))
                self._fed[s] = k
                if have and k == key:
                    break
        return out

    def clear(self) -> None:
        for buf in self._buf.values():
            buf.clear()
        self._fed.clear()


class Ticker:
    """A periodic activity scheduled on step stamps (integer ns), so it ticks at the same sim times in
    every run, whatever the wall-clock timing. The first stamp ticks; after a gap longer than a period the
    schedule restarts from the current stamp rather than ticking repeatedly to catch up."""

    def __init__(self, period: float) -> None:
        if period <= 0:
            raise ValueError("period must be > 0")
        self.period = seconds_key(period)
        self.next: int | None = None

    def due(self, stamp: int) -> bool:
        if self.next is not None and stamp < self.next - self.period:  # time went back (sim reset)
            self.next = None
        if self.next is not None and stamp < self.next:
            return False
        self.next = stamp + self.period if self.next is None or stamp - self.next >= self.period else \
            self.next + self.period
        return True


# ----------------------------------------------------------------------------------------------- RTF
class RtfMeter:
    """Achieved real-time factor: sim seconds per wall second over the last ``window`` wall seconds and
    overall since the first sample (or the last ``reset``)."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()
        self._first: tuple[float, float] | None = None

    def reset(self) -> None:
        self._samples.clear()
        self._first = None

    def sample(self, sim: float, wall: float) -> None:
        if self._first is None:
            self._first = (sim, wall)
        self._samples.append((sim, wall))
        while len(self._samples) > 2 and wall - self._samples[1][1] >= self.window:
            self._samples.popleft()

    @staticmethod
    def _rate(a: tuple[float, float], b: tuple[float, float]) -> float:
        return (b[0] - a[0]) / (b[1] - a[1]) if b[1] > a[1] else math.nan

    @property
    def recent(self) -> float:
        return self._rate(self._samples[0], self._samples[-1]) if len(self._samples) >= 2 else math.nan

    @property
    def overall(self) -> float:
        return self._rate(self._first, self._samples[-1]) if self._first is not None and self._samples else math.nan
