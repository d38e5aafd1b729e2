"""Speed of the full stack in lockstep: achieved real-time factor and each process's CPU seconds per sim second.

    .venv/bin/python scripts/measure_lockstep.py --world warehouse --seed 1000000 --wall 60 [--rtf 0] [--step 0.05]

Brings up launch/sim_navigation.launch.xml (lockstep, send_goal) on a private loopback domain, lets it run for
``--wall`` seconds after lockstep starts, then reads utime+stime of every launched process from /proc/<pid>/stat
and the sim's /lockstep/status. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", default="warehouse")
    ap.add_argument("--seed", default="1000000")
    ap.add_argument("--wall", type=float, default=60.0)
    ap.add_argument("--rtf", default="0")
    ap.add_argument("--step", default="0.05")
    ap.add_argument("--lockstep", default="true")
    args = ap.parse_args()
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    from std_msgs.msg import String

    from toponav.launching import Launcher, find_package_share, parse_launch_file
    from toponav.ros_nodes.common import LATCHED_QOS
    from toponav.ros_nodes.demo import find_free_domain
    from toponav.ros_nodes.probe import Probe
    from toponav.ros_nodes.stack_run import process_cpu_seconds

    domain = find_free_domain()
    desc = parse_launch_file(find_package_share("toponav") / "launch" / "sim_navigation.launch.xml",
                             {"world": args.world, "seed": args.seed, "real_time_factor": args.rtf,
                              "lockstep": args.lockstep, "step_period": args.step, "send_goal": "true"})
    out = io.StringIO()
    launcher = Launcher(desc, domain_id=domain, log_dir=Path("/tmp") / f"measure_lockstep_{domain}", stream=out)
    result: dict = {}
    try:
        launcher.start()
        with Probe(domain) as probe:
            probe.subscribe("/lockstep/status", String, LATCHED_QOS)

            def status() -> dict:
                m = probe.last("/lockstep/status")
                return json.loads(m.data) if m is not None else {}

            t0 = time.monotonic()
            while time.monotonic() - t0 < 120 and not (status().get("started") or not status().get("lockstep", 1)):
                time.sleep(0.2)
            pids = {p.spec.name or p.spec.executable: p.popen.pid for p in launcher.procs}
            cpu0 = {n: process_cpu_seconds(p) for n, p in pids.items()}
            s0, w0 = status().get("stamp", 0.0), time.monotonic()
            time.sleep(args.wall)
            cpu1 = {n: process_cpu_seconds(p) for n, p in pids.items()}
            st = status()
            sim = st.get("stamp", 0.0) - s0
            wall = time.monotonic() - w0
            result = {"world": f"{args.world}:{args.seed}", "lockstep": args.lockstep, "rtf_cap": float(args.rtf),
                      "step_period": float(args.step), "sim_s": round(sim, 2), "wall_s": round(wall, 2),
                      "rtf": round(sim / wall, 2) if wall > 0 else None,
                      "cpu_s_per_sim_s": {n: round((cpu1[n] - cpu0[n]) / sim, 3) if sim > 0 else None for n in pids},
                      "status": st, "loadavg": os.getloadavg()}
            result["cpu_total_per_sim_s"] = round(sum(v for v in result["cpu_s_per_sim_s"].values() if v), 3)
    finally:
        launcher.shutdown()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
