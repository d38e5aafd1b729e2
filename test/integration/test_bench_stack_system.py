"""bench stack end to end on the smallest world: real node processes, a reached goal, the row, table and PNG.

The empty 10 x 10 m world with its goal 8 m away takes about 10 s sim; the whole test stays well under a
minute even on a loaded 2-core machine (most of it is the nodes' start-up).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from toponav.experiments import bench_stack

pytestmark = [pytest.mark.system, pytest.mark.slow]
pytest.importorskip("rclpy")


def test_bench_stack_on_the_empty_world(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    bench_stack.add_arguments(parser)
    args = parser.parse_args(["empty", "--families", "", "--methods", "toponav", "--max-budget", "60",
                              "--out", str(tmp_path)])
    assert bench_stack.run(args) == 0
    data = json.loads((tmp_path / "bench_stack.json").read_text())
    (row,) = data["rows"]
    assert row["world"] == "empty-0" and row["method"] == "toponav"
    assert row["reached"] and row["failure"] == "" and row["collisions"] == 0, row["reason"]
    assert 0.5 < row["spl"] <= 1.0 and row["shortest_path"] == pytest.approx(8.0, abs=0.3)
    assert row["rtf"] and row["rtf"] > 0
    assert {"sim_node", "topo_mapper", "subgoal_planner", "hodat_controller"} <= set(row["cpu_per_sim_s"])
    assert all(v > 0 for v in row["cpu_per_sim_s"].values())
    assert (tmp_path / row["png"]).stat().st_size > 10_000
    overlay = (tmp_path / "toponav" / "empty-0" / "params.yaml").read_text()
    assert "mode: heuristic" in overlay and "odometry: wheels" in overlay
    md = (tmp_path / "bench_stack.md").read_text()
    assert "| toponav | empty-0 | yes | – |" in md and "| toponav | 1/1 | 1/1 | 1/1 |" in md
