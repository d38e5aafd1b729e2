"""Contract with the mapper: the planner runs on a real TopoMap's /topo_graph JSON (no mapper internals)."""

from __future__ import annotations

import json
import math

import numpy as np
import torch

from toponav.learning.explore_env import ExploreEnv
from toponav.mapping import TopoMap
from toponav.planning import PlaceGraph, PlannerConfig, State, SubgoalPlanner
from toponav.worlds.model import World

torch.set_num_threads(1)


def test_planner_explores_on_topomap_json() -> None:
    world = World(name="rooms", family="test", seed=0, bounds=(0.0, 0.0, 12.0, 6.0), start=(1.0, 3.0, 0.0),
                  goal=(11.0, 3.0), boxes=((6.0, 1.2, 0.1, 1.2, 0.0), (6.0, 4.8, 0.1, 1.2, 0.0)))
    env = ExploreEnv(world)  # used only as the sensor + mover; the map is the real mapper's
    angles = np.linspace(-math.pi, math.pi, env.cfg.beams, endpoint=False)
    tm = TopoMap()
    planner = SubgoalPlanner(PlannerConfig())
    t = 0.0
    states = []
    for _ in range(15):
        ranges = env.scan()
        ranges[ranges >= env.cfg.range_max] = np.inf  # LaserScan convention: no return
        tm.update((env.pose[0], env.pose[1], 0.0), ranges, angles, t)
        graph = PlaceGraph.from_json(json.dumps(tm.to_json()))  # through the wire format
        planner.set_graph(graph)
        planner.set_pose(*env.pose)
        d = planner.step(t)
        states.append(d.state)
        if planner.target is None:
            break
        assert graph.nodes[d.target].frontier or d.state == State.NAVIGATING
        assert d.path and len(d.path) >= 2 and d.subgoal is not None
        env.go_to(planner.target.x, planner.target.y, 100_000, max_distance=1.5)
        t += 1.0
    assert State.EXPLORING in states
    assert graph.explored_area and graph.explored_area > 20.0
    assert env.pose[0] > 6.0 or env.coverage() > 0.5  # it went through the door or explored most of the first room
