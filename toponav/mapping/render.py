"""``toponav map show <graph.geojson>``: draw a saved topological graph over its occupancy grid to PNG.

Unknown cells grey, free white, occupied black; travel edges solid, line-of-sight edges dashed blue,
frontier links green; places coloured by visit count, frontier nodes as green triangles, the current
place ringed. Works on any nav2_route GeoJSON graph too (then without a grid).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from toponav.mapping.geojson import load_geojson
from toponav.mapping.topomap import MapError, TopoMap
from toponav.topo_graph import FRONTIER, LOS, TRAVEL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("graph", type=Path, help="saved graph (GeoJSON from topo_mapper ~/save or save_geojson)")
    parser.add_argument("-o", "--out", type=Path, default=None, help="PNG path (default: <graph>.png)")
    parser.add_argument("--dpi", type=int, default=120)
    parser.add_argument("--labels", action="store_true", help="write node ids")
    parser.add_argument("--title", default=None)


def render(tm: TopoMap, out: Path, *, dpi: int = 120, labels: bool = False, title: str | None = None) -> Path:
    """Draw ``tm`` to ``out`` (PNG); returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 8))
    grid = tm.occupancy
    if not grid.empty:
        vals = grid.to_occupancy_values()
        img = np.full(vals.shape, 0.75)
        img[vals == 0] = 1.0
        img[vals == 100] = 0.0
        x0, y0, x1, y1 = grid.bounds()
        ax.imshow(img, cmap="gray", vmin=0, vmax=1, origin="lower", extent=(x0, x1, y0, y1), interpolation="nearest")
    g = tm.graph
    styles = {TRAVEL: dict(color="tab:orange", lw=1.6, ls="-"), LOS: dict(color="tab:blue", lw=0.8, ls="--"),
              FRONTIER: dict(color="tab:green", lw=0.8, ls=":")}
    for u, v, kind in g.edges(data="kind"):
        (ux, uy), (vx, vy) = tm.position(u), tm.position(v)
        ax.plot([ux, vx], [uy, vy], zorder=2, **styles.get(kind, styles[TRAVEL]))
    places = tm.place_nodes()
    if places:
        xy = np.array([tm.position(n) for n in places])
        visits = np.array([g.nodes[n]["visits"] for n in places])
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=visits, cmap="plasma", s=40, zorder=3, edgecolors="k", linewidths=0.5)
        fig.colorbar(sc, ax=ax, shrink=0.7, label="visits")
    fronts = tm.frontier_nodes()
    if fronts:
        fxy = np.array([tm.position(n) for n in fronts])
        ax.scatter(fxy[:, 0], fxy[:, 1], marker="^", c="limegreen", s=60, zorder=4, edgecolors="k", linewidths=0.5,
                   label="frontier")
    if tm.current_node is not None and tm.current_node in g:
        cx, cy = tm.position(tm.current_node)
        ax.scatter([cx], [cy], s=200, facecolors="none", edgecolors="red", linewidths=2, zorder=5, label="current")
    if labels:
        for n in g.nodes:
            x, y = tm.position(n)
            ax.annotate(str(n), (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_aspect("equal")
    ax.set_xlabel(f"x (m, frame {tm.cfg.frame_id})")
    ax.set_ylabel("y (m)")
    ax.set_title(title or f"{tm.num_places} places, {len(fronts)} frontiers, {g.number_of_edges()} edges, "
                 f"explored {tm.explored_area():.0f} m²")
    if fronts or tm.current_node is not None:
        ax.legend(loc="upper right", fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return out


def run(args: argparse.Namespace) -> int:
    try:
        tm = load_geojson(args.graph)
    except MapError as exc:
        print(f"toponav map show: {exc}", file=sys.stderr)
        return 1
    out = args.out or args.graph.with_suffix(".png")
    render(tm, out, dpi=args.dpi, labels=args.labels, title=args.title)
    print(f"wrote {out} ({tm.num_places} places, {len(tm.frontier_nodes())} frontiers)")
    return 0
