"""PNG reports: world + trajectory + topological graph, coverage over time, velocity profile (matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from toponav.evaluation.run import RunData
from toponav.worlds import World


def draw_world(ax: Any, world: World) -> None:
    """Obstacles (grey), bounds, start and goal of ``world`` on a matplotlib axis."""
    from matplotlib.patches import Circle, Polygon, Rectangle

    xmin, ymin, xmax, ymax = world.bounds
    ax.add_patch(Rectangle((xmin, ymin), xmax - xmin, ymax - ymin, fill=False, lw=1.5, ec="k"))
    for cx, cy, r in world.circle_array():
        ax.add_patch(Circle((cx, cy), r, color="0.45"))
    for corners in world.box_corners():
        ax.add_patch(Polygon(corners, closed=True, color="0.45"))
    ax.plot(*world.start[:2], "bs", ms=8, label="start")
    ax.plot(*world.goal[:2], "r*", ms=14, label="world goal")


def draw_graph(ax: Any, graph: dict[str, Any] | None) -> None:
    """Nodes (places blue, frontiers green) and edges of a /topo_graph JSON."""
    if not graph:
        return
    pos = {n["id"]: (n["x"], n["y"]) for n in graph.get("nodes", []) if "id" in n and "x" in n}
    for e in graph.get("edges", []):
        if e.get("u") in pos and e.get("v") in pos:
            (x0, y0), (x1, y1) = pos[e["u"]], pos[e["v"]]
            ax.plot([x0, x1], [y0, y1], "-", color="tab:cyan", lw=0.8, alpha=0.8, zorder=2)
    nodes = graph.get("nodes", [])
    front = np.array([(n["x"], n["y"]) for n in nodes if n.get("frontier")]).reshape(-1, 2)
    places = np.array([(n["x"], n["y"]) for n in nodes if not n.get("frontier")]).reshape(-1, 2)
    if len(places):
        ax.plot(places[:, 0], places[:, 1], "o", color="tab:blue", ms=4, zorder=3, label="graph places")
    if len(front):
        ax.plot(front[:, 0], front[:, 1], "^", color="tab:green", ms=5, zorder=3, label="frontiers")


def plot_run(run: RunData, metrics: dict[str, Any], path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 6.5))
    ax = fig.add_subplot(1, 2, 1)
    if run.world is not None:
        draw_world(ax, run.world)
    draw_graph(ax, run.last_graph)
    if len(run.traj):
        ax.plot(run.traj[:, 0], run.traj[:, 1], "-", color="tab:orange", lw=2, zorder=4, label="trajectory")
    if run.goal is not None:
        ax.plot(*run.goal, "rx", ms=12, mew=3, zorder=5, label="goal")
    for tc in run.collisions:
        if len(run.traj_t):
            i = min(int(np.searchsorted(run.traj_t, tc)), len(run.traj) - 1)
            ax.plot(*run.traj[i, :2], "kx", ms=10, zorder=6)
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    status = "REACHED" if metrics.get("reached") else "not reached"
    spl = metrics.get("spl")
    ax.set_title(title or f"{run.world_spec or Path(run.bag).name}: {status}, "
                 f"path {metrics.get('path_length', 0):.1f} m" + (f", SPL {spl:.2f}" if spl is not None else ""))
    # Below the axes, never over the map: inside, "best" still covered the start, goal or trajectory on
    # several maps.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=5, fontsize=7, frameon=False)

    ax2 = fig.add_subplot(2, 2, 2)
    cov = np.asarray(metrics.get("explored_area_over_time") or []).reshape(-1, 2)
    if len(cov):
        ax2.plot(cov[:, 0], cov[:, 1], label="lidar coverage (m²)")
    if run.graph_t:
        ax2.plot(run.graph_t, run.graph_area, "--", label="mapper explored area (m²)")
        axn = ax2.twinx()
        axn.plot(run.graph_t, run.graph_nodes, ":", color="tab:green", label="graph nodes")
        axn.set_ylabel("graph nodes")
        axn.legend(loc="lower right", fontsize=7)
    ax2.set_ylabel("area (m²)")
    ax2.set_title("exploration over time")
    ax2.legend(loc="upper left", fontsize=7)

    ax3 = fig.add_subplot(2, 2, 4)
    if len(run.vel):
        ax3.plot(run.vel_t, run.vel[:, 0], label="v odom (m/s)")
        ax3.plot(run.vel_t, run.vel[:, 1], label="w odom (rad/s)", alpha=0.7)
    if len(run.cmd):
        ax3.plot(run.cmd_t, run.cmd[:, 0], ":", label="v cmd (m/s)")
    ax3.set_xlabel("sim time (s)")
    ax3.set_title("velocity profile")
    ax3.legend(loc="best", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_tum(run: RunData, path: str | Path) -> Path:
    """Trajectory in TUM format (``t x y z qx qy qz qw``), which evo reads (``evo_traj tum file``)."""
    path = Path(path)
    with path.open("w") as fh:
        for t, (x, y, yaw) in zip(run.traj_t, run.traj):
            fh.write(f"{t:.9f} {x:.6f} {y:.6f} 0.0 0.0 0.0 {np.sin(yaw / 2):.9f} {np.cos(yaw / 2):.9f}\n")
    return path
