"""Time and peak memory of turning a 60 x 60 m building map into a world, one stage per line.

    python scripts/measure_map_world.py map  /tmp/b60/map.yaml   # map.yaml -> World -> reachability -> PyBullet
    python scripts/measure_map_world.py json /tmp/b60/world.json # the same boxes as a world JSON (any version)
    python scripts/measure_map_world.py make /tmp/b60            # write the generated building (map + JSON)
    python scripts/measure_map_world.py json /tmp/b60/world.json --brute  # before: every point x every box

Wall and CPU seconds per stage; peak RSS from resource.getrusage (max resident set of this process,
MB). Run each mode in its own process so the peaks do not mix.
"""

from __future__ import annotations

import resource
import sys
import time

_cpu0 = [0.0]


def _stage(name: str, t0: float) -> float:
    """Print wall and CPU seconds of the stage since ``t0`` (CPU is the fair number on a shared machine)."""
    t = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(f"{name:28s} wall {t - t0:7.2f} s   cpu {cpu - _cpu0[0]:7.2f} s   peak RSS {usage.ru_maxrss / 1024:7.0f} MB",
          flush=True)
    _cpu0[0] = cpu
    return t


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "make":
        from pathlib import Path

        from toponav.worlds.floorplan import large_building
        from toponav.worlds.map_server import map_world

        yaml_path = large_building().save(Path(path))
        world = map_world(str(yaml_path), 0.25)
        world.save(Path(path) / "world.json")
        print(f"wrote {yaml_path} and world.json: {len(world.boxes)} boxes, bounds {world.bounds}")
        return
    t = time.perf_counter()
    from toponav.sim.pybullet_agv import AgvSim
    from toponav.worlds import World, is_reachable, make_world

    if "--brute" in sys.argv:  # the pre-index algorithm: World.clearance against every obstacle
        import toponav.worlds.model as model

        model.MIN_OBSTACLES = 10**9
    t = _stage("imports", t)
    world = make_world(path) if mode == "map" else World.load(path)
    t = _stage(f"load ({len(world.boxes)} boxes)", t)
    ok = is_reachable(world, 0.25)
    t = _stage(f"is_reachable -> {ok}", t)
    sim = AgvSim(world)
    sim.scan()
    t = _stage("PyBullet build + 1 scan", t)
    for _ in range(100):
        sim.step((0.3, 0.0))
        sim.scan()
    t = _stage("100 steps + scans", t)
    sim.close()


if __name__ == "__main__":
    main()
