"""``toponav eval BAG [BAG ...]``: per-run metrics to JSON + CSV, PNG plots, optional TUM trajectories."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from toponav.bags import BagError
from toponav.evaluation.metrics import EvalConfig, compute_metrics
from toponav.evaluation.plots import plot_run, write_tum
from toponav.evaluation.run import load_run, resolve_world

CSV_FIELDS = ["bag", "world", "success", "reached", "spl", "time_to_goal", "path_length", "shortest_path",
              "collisions", "min_clearance", "explored_area", "graph_nodes", "graph_edges", "barn_metric",
              "duration", "partial"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bags", nargs="+", help="rosbag2 bags (directories, .mcap or .db3)")
    parser.add_argument("-o", "--out", default="runs/eval", help="output folder (metrics.json, metrics.csv, PNGs)")
    parser.add_argument("--world", default=None, help="world spec when the bag does not name one")
    parser.add_argument("--seed", type=int, default=None, help="world seed for --world")
    parser.add_argument("--goal-tolerance", type=float, default=EvalConfig().goal_tolerance)
    parser.add_argument("--robot-radius", type=float, default=EvalConfig().robot_radius)
    parser.add_argument("--namespace", default=None,
                        help="read the run recorded under this namespace (default: the one the bag stores)")
    parser.add_argument("--tum", action="store_true", help="also write <bag>.tum trajectories (for evo)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def evaluate(bags: list[str], out: Path, *, world_spec: str | None = None, seed: int | None = None,
             cfg: EvalConfig | None = None, plots: bool = True, tum: bool = False,
             namespace: str | None = None) -> list[dict]:
    cfg = cfg or EvalConfig()
    world = resolve_world(world_spec, seed) if world_spec else None
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for i, bag in enumerate(bags):
        name = f"{i:02d}_{Path(bag).name or 'bag'}"
        try:
            run = load_run(bag, world=world, namespace=namespace)
        except BagError as exc:
            results.append({"bag": bag, "error": str(exc), "success": False, "partial": True})
            print(f"[eval] {bag}: ERROR {exc}", file=sys.stderr)
            continue
        metrics = compute_metrics(run, cfg)
        if plots:
            metrics["plot"] = str(plot_run(run, metrics, out / f"{name}.png"))
        if tum and len(run.traj):
            metrics["tum"] = str(write_tum(run, out / f"{name}.tum"))
        for w in metrics["warnings"]:
            print(f"[eval] warning: {w}", file=sys.stderr)
        results.append(metrics)
    (out / "metrics.json").write_text(json.dumps(results, indent=1))
    with (out / "metrics.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*CSV_FIELDS, "error"], extrasaction="ignore")
        writer.writeheader()
        for r in results:
            writer.writerow(r)
    return results


def run(args: argparse.Namespace) -> int:
    cfg = EvalConfig(goal_tolerance=args.goal_tolerance, robot_radius=args.robot_radius)
    out = Path(args.out)
    results = evaluate(args.bags, out, world_spec=args.world, seed=args.seed, cfg=cfg, plots=not args.no_plots,
                       tum=args.tum, namespace=args.namespace)
    for r in results:
        if "error" in r:
            print(f"{r['bag']}: ERROR")
            continue
        fmt = lambda v, f="{:.2f}": "n/a" if v is None else f.format(v)  # noqa: E731
        print(f"{r['bag']}: success={r['success']} spl={fmt(r.get('spl'))} time={fmt(r.get('time_to_goal'), '{:.1f}s')}"
              f" path={fmt(r.get('path_length'))}m collisions={r.get('collisions')} "
              f"min_clearance={fmt(r.get('min_clearance'))}m explored={fmt(r.get('explored_area'), '{:.1f}')}m2 "
              f"graph={r.get('graph_nodes')}" + (" PARTIAL" if r.get("partial") else ""))
    print(f"[eval] wrote {out / 'metrics.json'} and {out / 'metrics.csv'}")
    return 1 if any("error" in r for r in results) else 0
