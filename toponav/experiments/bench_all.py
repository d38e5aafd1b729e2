"""``toponav bench all``: run every benchmark's method table and collect them into one markdown report.

Each bench is the module behind ``toponav bench <name>``; it is imported and its ``run(args)`` is
called with its own defaults (``--quick`` shrinks the sizes it knows about), its console output is
kept, and the markdown/JSON/PNG files it writes into its ``--out`` folder are linked from the report.
A bench that is not installed, or fails, is reported as such, never skipped silently. The report
starts with the machine, date and exact command, because every number in it depends on them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toponav.experiments.registry import BENCHES

#: smaller sizes for --quick for every bench (each bench's own are in its registry entry); applied only to
#: options the bench actually has, and of the same type
QUICK_ANY: dict[str, Any] = {"seeds": 1, "episodes": 3, "indices": 3, "worlds": 3}


class _Tee(io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", default="", help="comma-separated subset of: " + ", ".join(BENCHES))
    parser.add_argument("--skip", default="", help="comma-separated benches to leave out")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not numbers to quote)")
    parser.add_argument("--out", default="runs/bench_all", help="report folder (report.md + each bench's files)")


def bench_args(module: Any, out_dir: Path, quick: bool, name: str) -> argparse.Namespace:
    """The bench's own defaults, with its outputs pointed into ``out_dir`` and --quick sizes applied."""
    parser = argparse.ArgumentParser(prog=f"toponav bench {name}")
    module.add_arguments(parser)
    args = parser.parse_args([])
    dests = vars(args)
    if "out" in dests:
        args.out = str(out_dir) if name != "eval" else str(out_dir / "bench_eval.json")
    if "json" in dests:
        args.json = str(out_dir / f"bench_{name}.json")
    if quick:
        specific = BENCHES[name].quick
        for key, value in {**QUICK_ANY, **specific}.items():
            if key in dests and (key in specific or type(dests[key]) is type(value)):
                setattr(args, key, value)
    return args


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} CPUs, load average {load:.2f} at start; Python {platform.python_version()} "
            f"on {platform.system()} {platform.release()}")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = [n for n in BENCHES if (not args.only or n in args.only.split(",")) and n not in args.skip.split(",")]
    started = datetime.now(UTC)
    sections: list[str] = []
    summary: list[tuple[str, str, float]] = []
    for name in tqdm(chosen, desc="bench all", unit="bench"):
        module_name, what = BENCHES[name].module, BENCHES[name].table
        bench_dir = out / name
        bench_dir.mkdir(exist_ok=True)
        t0 = time.monotonic()
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            summary.append((name, f"not available ({exc})", 0.0))
            sections.append(f"## {name}\n\n{what}\n\n**Not available:** `{module_name}` could not be imported "
                            f"({exc}).\n")
            continue
        bargs = bench_args(module, bench_dir, args.quick, name)
        log = io.StringIO()
        status = "ok"
        try:
            with contextlib.redirect_stdout(_Tee(log, sys.stdout)):
                code = int(module.run(bargs) or 0)
            if code:
                status = f"exit code {code}"
        except Exception as exc:  # a failing bench is reported, the others still run
            status = f"failed: {type(exc).__name__}: {exc}"
            log.write("\n" + traceback.format_exc())
        took = time.monotonic() - t0
        summary.append((name, status, took))
        quick_keys = {**QUICK_ANY, **BENCHES[name].quick}
        cmd = f"toponav bench {name}" + ("" if not args.quick else "  # with --quick sizes: " + json.dumps(
            {k: v for k, v in vars(bargs).items() if k in quick_keys}))
        parts = [f"## {name}\n", what + "\n", f"Command: `{cmd}` — {status}, {took:.0f} s\n"]
        for md in sorted(bench_dir.glob("*.md")):
            parts.append(md.read_text().strip() + "\n")
        for png in sorted(bench_dir.glob("*.png")):
            parts.append(f"![{png.stem}]({png.relative_to(out)})\n")
        if not list(bench_dir.glob("*.md")):
            text = log.getvalue().strip()
            tail = "\n".join(text.splitlines()[-40:])
            parts.append("Output (last lines):\n\n```\n" + tail + "\n```\n")
        sections.append("\n".join(parts))
    header = [
        "# toponav benchmark report\n",
        f"Produced {started.strftime('%Y-%m-%d %H:%M UTC')} by `toponav bench all"
        + (" --quick" if args.quick else "") + "`",
        f"on {machine()}.",
        "Numbers measured on a shared or loaded machine are noisy; every table states its own method and sizes.\n",
        "| bench | status | time (s) |", "|---|---|---|",
        *[f"| {n} | {s} | {t:.0f} |" for n, s, t in summary],
        "",
    ]
    report = "\n".join(header) + "\n" + "\n\n".join(sections)
    (out / "report.md").write_text(report)
    print(f"[bench all] wrote {out / 'report.md'}")
    return 0 if all(s == "ok" or s.startswith("not available") for _, s, _ in summary) else 1
