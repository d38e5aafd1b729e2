"""The benchmarks, listed once: ``toponav bench <name>`` (:mod:`toponav.cli`) and ``toponav bench all``
(:mod:`toponav.experiments.bench_all`) both read this table.

Import-light on purpose (no bench module is imported here): ``toponav --help`` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Bench:
    """One ``toponav bench <name>`` command."""

    #: the module behind it, with ``add_arguments(parser)`` and ``run(args) -> int``
    module: str
    #: one line for ``toponav bench --help``
    summary: str
    #: what its table shows, for the ``toponav bench all`` report
    table: str
    #: smaller sizes for ``bench all --quick``, beyond the generic ones (applied to options the bench has)
    quick: dict[str, Any] = field(default_factory=dict)


#: name -> bench, in the order ``toponav bench all`` runs and reports them
BENCHES: dict[str, Bench] = {
    "explore": Bench("toponav.experiments.bench_explore", "exploration and sparse goal reaching",
                     "exploration and sparse goal reaching: random walk, nearest frontier, flat PPO, flat PPO + RND, "
                     "toponav (heuristic and learned meta-controller) on held-out worlds of each family",
                     {"seeds": 1, "budget": 300, "goal_mazes": 2, "goal_budget": 600, "flat_moves": 4000,
                      "flat_train_worlds": 2}),
    "barn": Bench("toponav.experiments.bench_barn", "BARN worlds: learned policy vs DWA",
                  "BARN worlds: learned HODAT policy vs DWA (success, BARN metric)", {"worlds": "0,6,12"}),
    "sim": Bench("toponav.experiments.bench_sim", "env steps/s: PyBullet vs vectorised twin",
                 "simulation throughput: PyBullet vs vectorised twin", {"robots": "1,16", "seconds": 1.0}),
    "mapper": Bench("toponav.experiments.bench_mapper", "mapper update and path-query latency",
                    "mapper update and path-query latency", {"sizes": [1000, 10000], "updates": 50, "queries": 50}),
    "eval": Bench("toponav.experiments.bench_eval", "bag read + evaluation throughput",
                  "bag read + evaluation throughput vs rosbags loops", {"seconds": 120.0, "repeat": 1}),
    "manip": Bench("toponav.experiments.bench_manip", "world model vs model-free on arm tasks",
                   "world model + MPPI vs model-free on arm tasks"),
    "stack": Bench("toponav.experiments.bench_stack", "full ROS stack across worlds: toponav vs explore_lite",
                   "the full ROS stack (launcher, real node processes) on held-out worlds of each family: toponav vs "
                   "the explore_lite baseline (reached, failure reason, time, SPL, collisions, RTF, CPU per sim s)",
                   {"quick": True}),
    "localisation": Bench("toponav.experiments.bench_localisation", "corrected pose vs wheel odometry: APE, RPE",
                          "localisation on long full-stack shuttle runs with wheel odometry, held-out worlds of each "
                          "family and a map_server map: APE / RPE per 10 m (evo) of the mapper's corrected pose and "
                          "of raw wheel odometry against ground truth, and the mapper update time",
                          {"quick": True}),
}
