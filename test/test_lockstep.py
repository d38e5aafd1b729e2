"""Lockstep bookkeeping without ROS: barrier, input join, tick schedule, RTF meter, message round trips."""

from __future__ import annotations

import itertools
import math

import pytest

from toponav.lockstep import HELLO, AckMsg, InputJoin, RtfMeter, StepBarrier, StepMsg, Ticker, payload_key

NODES = ("topo_mapper", "subgoal_planner", "hodat_controller")


def _started(timeout: float = 10.0) -> StepBarrier:
    b = StepBarrier(NODES, timeout=timeout, startup_timeout=30.0)
    for n in NODES:
        b.hello(n)
    assert b.try_start(0.0) == []
    return b


def test_barrier_waits_for_every_participant_of_the_current_step() -> None:
    b = _started()
    b.begin(1, wall=0.0)
    assert not b.complete
    b.ack("topo_mapper", 1)
    b.ack("hodat_controller", 0)  # an ack of an older step does not count
    b.ack("stranger", 1)  # not a participant
    assert b.pending == {"subgoal_planner", "hodat_controller"}
    b.ack("subgoal_planner", 1)
    b.ack("hodat_controller", 1)
    assert b.complete and not b.hung


def test_barrier_reports_a_hung_node_after_the_deadline_and_readmits_it() -> None:
    b = _started(timeout=2.0)
    b.begin(5, wall=100.0)
    b.ack("topo_mapper", 5)
    b.ack("hodat_controller", 5)
    assert b.overdue(101.9) == []  # within the deadline: keep waiting
    assert b.overdue(102.1) == ["subgoal_planner"]
    assert "subgoal_planner" in b.hung and "step 5" in b.hung["subgoal_planner"]
    assert b.complete  # the run goes on without it
    b.begin(6, wall=102.2)
    assert b.pending == {"topo_mapper", "hodat_controller"}
    b.ack("subgoal_planner", 5)  # catching up with an old step: still out
    assert "subgoal_planner" in b.hung
    assert b.ack("subgoal_planner", 6)  # acked the current step: back in
    assert not b.hung and "subgoal_planner" in b.active


def test_barrier_start_up_waits_for_hellos_bounded_by_the_start_up_timeout() -> None:
    b = StepBarrier(NODES, timeout=5.0, startup_timeout=30.0)
    b.hello("topo_mapper")
    b.hello("hodat_controller")
    assert b.try_start(0.0) is None
    assert b.try_start(29.0) is None and not b.started
    assert b.try_start(31.0) == ["subgoal_planner"]
    assert b.started and b.active == {"topo_mapper", "hodat_controller"} and "subgoal_planner" in b.hung
    assert b.hello("subgoal_planner")  # started late: re-admitted, no longer hung
    assert "subgoal_planner" in b.active and not b.hung


def test_barrier_waits_for_an_observer_hello_but_never_for_its_acks() -> None:
    """The recorder is an observer: stepping starts only after its hello, and no step waits for it."""
    b = StepBarrier(NODES, timeout=5.0, startup_timeout=30.0, observers=["bag_recorder", "topo_mapper"])
    assert b.observers == ("bag_recorder",)  # a participant is not also an observer
    b.hello("bag_recorder")  # too early: a participant (and its publishers) comes after it
    for n in NODES:
        b.hello(n)
    assert b.try_start(0.0) is None  # every participant is there, the recorder's hello predates them
    b.hello(NODES[0])  # a participant's repeated hello does not reset the observer
    b.hello("bag_recorder")
    b.hello(NODES[1])
    assert b.try_start(1.0) == [] and b.active == set(NODES)
    b.begin(1, 2.0)
    assert not b.ack("bag_recorder", 1) and b.pending == set(NODES)
    for n in NODES:
        b.ack(n, 1)
    assert b.complete
    late = StepBarrier(NODES, timeout=5.0, startup_timeout=30.0, observers=["bag_recorder"])
    for n in NODES:
        late.hello(n)
    assert late.try_start(0.0) is None
    assert late.try_start(31.0) == ["bag_recorder"] and late.active == set(NODES)  # a dead recorder cannot stall


def test_barrier_rejects_bad_timeouts() -> None:
    with pytest.raises(ValueError):
        StepBarrier(NODES, timeout=0.0, startup_timeout=1.0)


def test_join_is_independent_of_arrival_order() -> None:
    """Whatever order scans/odom/sub-goals arrive in, a step feeds the same messages in the same order.
    (Each stream keeps its own order, as DDS delivers one writer's samples; only the interleaving varies.)"""
    msgs = [("odom", 10, "o10"), ("odom", 20, "o20"), ("scan", 20, "s20"), ("subgoal", 15, "g15"),
            ("subgoal", 30, "g30")]  # g30 is a later step's output that arrived early
    needs = {"subgoal": 15, "odom": 20, "scan": 20}
    fed = set()
    orders = [p for p in itertools.permutations(msgs)
              if all([m for m in p if m[0] == s] == [m for m in msgs if m[0] == s] for s in ("odom", "subgoal"))]
    assert len(orders) == 30
    for perm in orders:
        j = InputJoin(("subgoal", "odom", "scan"))
        for i, (s, k, m) in enumerate(perm):
            if i < len(perm) - 1 and any(x[2] in ("o20", "s20", "g15") for x in perm[i + 1:]):
                assert j.missing(needs), "ready before every needed message arrived"
            j.push(s, k, m)
        assert j.missing(needs) == []
        fed.add(tuple(m for _, m in j.take(needs)))
        assert j.take({"subgoal": 30}) == [("subgoal", "g30")]  # the early one stays for its own step
    assert fed == {(("g15"), "o10", "o20", "s20")}


def test_join_missing_and_already_fed_streams() -> None:
    j = InputJoin(("graph", "odom"))
    j.push("graph", payload_key('{"a":1}'), "G1")
    assert j.missing({"graph": payload_key('{"a":1}'), "odom": 5}) == ["odom"]
    assert j.take({"graph": payload_key('{"a":1}')}) == [("graph", "G1")]
    assert j.missing({"graph": payload_key('{"a":1}')}) == []  # fed at an earlier step: nothing to wait for
    assert j.take({"graph": payload_key('{"a":1}')}) == []
    j.push("odom", 4, "o4")
    assert j.take({"odom": 5}) == [("odom", "o4")]  # deadline passed without o5: feed what there is


def test_ticker_ticks_on_stamps_not_arrival() -> None:
    t = Ticker(0.5)
    stamps = [int(k * 0.05e9) for k in range(40)]
    ticks = [s for s in stamps if t.due(s)]
    assert ticks == [int(k * 0.5e9) for k in range(4)]
    assert t.due(int(100e9)) and not t.due(int(100.25e9)) and t.due(int(100.5e9))  # a gap restarts it
    assert t.due(0)  # time went back (sim reset): ticks again


def test_rtf_meter_window_and_overall() -> None:
    m = RtfMeter(window=2.0)
    assert math.isnan(m.recent) and math.isnan(m.overall)
    for k in range(50):  # 4x for 5 s wall, then 1x
        m.sample(sim=4 * 0.1 * k, wall=0.1 * k)
    assert m.recent == pytest.approx(4.0) and m.overall == pytest.approx(4.0)
    s0, w0 = 4 * 0.1 * 49, 0.1 * 49
    for k in range(1, 40):
        m.sample(sim=s0 + 0.1 * k, wall=w0 + 0.1 * k)
    assert m.recent == pytest.approx(1.0, abs=0.05)
    assert 1.0 < m.overall < 4.0


def test_messages_round_trip() -> None:
    s = StepMsg(7, 350_000_000, {"scan": 300_000_000, "topo_graph": payload_key("x")})
    assert StepMsg.from_json(s.to_json()) == s
    a = AckMsg("hodat_controller", 7, {"cmd_vel": 350_000_000}, (0.5, -0.1), late=["scan"])
    assert AckMsg.from_json(a.to_json()) == a
    h = AckMsg("topo_mapper", HELLO, inputs=["/scan", "/odom"])
    assert AckMsg.from_json(h.to_json()) == h
    assert payload_key("abc") == payload_key("abc") != payload_key("abd")
