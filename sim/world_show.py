"""``toponav world show <spec> --seed N [--out PNG]``: draw a world (obstacles, terrain, start, goal).

Also prints a one-line summary and whether the goal is reachable for the robot radius, so a picture
and a sanity check come from one command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from toponav.worlds import SPEC_HELP, World, WorldError, is_reachable, make_world


def render(world: World, out: str | Path, robot_radius: float = 0.25, dpi: int = 120) -> Path:
    """Write a PNG of ``world`` to ``out`` (matplotlib, Agg backend) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrow, Polygon, Rectangle

    xmin, ymin, xmax, ymax = world.bounds
    aspect = (ymax - ymin) / (xmax - xmin)
    fig, ax = plt.subplots(figsize=(7, max(3.0, min(12.0, 7 * aspect)) + 0.6))
    if world.terrain is not None:
        h = world.terrain.as_array()
        res, (ox, oy) = world.terrain.resolution, world.terrain.origin
        extent = (ox - res / 2, ox + (h.shape[1] - 0.5) * res, oy - res / 2, oy + (h.shape[0] - 0.5) * res)
        im = ax.imshow(h, origin="lower", extent=extent, cmap="YlGn", alpha=0.8)
        fig.colorbar(im, ax=ax, label="terrain height (m)", shrink=0.7)
    ax.add_patch(Rectangle((xmin, ymin), xmax - xmin, ymax - ymin, fill=False, lw=2, ec="black"))
    for cx, cy, r in world.circles:
        ax.add_patch(Circle((cx, cy), r, fc="saddlebrown", ec="black", lw=0.3))
    for corners in world.box_corners():
        ax.add_patch(Polygon(corners, closed=True, fc="slategray", ec="black", lw=0.3))
    if world.reference_path:
        path = np.asarray(world.reference_path)
        ax.plot(path[:, 0], path[:, 1], "--", color="tab:blue", lw=1, label="reference path")
    sx, sy, syaw = world.start
    ax.add_patch(Circle((sx, sy), robot_radius, fc="tab:orange", ec="black", alpha=0.8))
    ax.add_patch(FancyArrow(sx, sy, 0.8 * np.cos(syaw), 0.8 * np.sin(syaw), width=0.05, color="black"))
    ax.plot(*world.goal, marker="*", markersize=16, color="tab:red", mec="black", label="goal")
    ax.plot([], [], "o", color="tab:orange", label="start")
    ax.set_xlim(min(xmin, world.goal[0]) - 0.5, max(xmax, world.goal[0]) + 0.5)
    ax.set_ylim(min(ymin, world.goal[1]) - 0.5, max(ymax, world.goal[1]) + 0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(f"{world.name} ({world.family}): {len(world.circles)} circles, {len(world.boxes)} boxes")
    # outside the axes: on a map the start or goal often sits in a corner a legend would cover
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("world", help=SPEC_HELP)
    parser.add_argument("--seed", type=int, default=0, help="seed of a procedural family (BARN: the index)")
    parser.add_argument("--out", default="", help="PNG path (default: <world name>.png)")
    parser.add_argument("--radius", type=float, default=0.25, help="robot radius for the reachability check")


def run(args: argparse.Namespace) -> int:
    try:
        world = make_world(args.world, args.seed, args.radius)
    except WorldError as exc:
        print(f"error: {exc}")
        return 2
    out = render(world, args.out or f"{world.name}.png", args.radius)
    reach = is_reachable(world, args.radius)
    print(f"{world.name}: bounds {world.bounds}, start {world.start}, goal {world.goal}, "
          f"{len(world.circles)} circles, {len(world.boxes)} boxes, terrain {'yes' if world.terrain else 'no'}, "
          f"reachable for radius {args.radius}: {reach}")
    if world.family == "map":
        m = world.meta
        print(f"map {m['source']}: {m['size_px'][0]} x {m['size_px'][1]} px at {m['resolution']} m ({m['mode']}), "
              f"{m['free_fraction']:.0%} free, {m['boxes_from_cells']} boxes from its cells, "
              f"start/goal {m.get('start_goal', 'given')}")
    print(f"wrote {out}")
    return 0
