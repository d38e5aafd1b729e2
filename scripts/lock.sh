#!/usr/bin/env bash
# Regenerate requirements.lock from a venv built from requirements.txt. The ROS wheels (ros-*) carry
# nested egg-info dists (rclpy, std_msgs, ...) that pip freeze lists but no index serves: drop them.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q -r requirements.txt
"$tmp/venv/bin/python" - "$tmp/venv/bin/pip" <<'PY' > requirements.lock
import subprocess, sys
lines = subprocess.run([sys.argv[1], "freeze", "--all"], capture_output=True, text=True, check=True).stdout.split()
lines = [l for l in lines if "==" in l and not l.startswith(("pip==", "toponav"))]
names = {l.split("==")[0].lower().replace("_", "-") for l in lines}
print("# Full pinned set (pip freeze of a working venv, minus the ROS packages' nested egg-info names,")
print("# which come with their ros-* wheels). Regenerate with scripts/lock.sh after changing requirements.txt.")
for l in lines:
    n = l.split("==")[0].lower().replace("_", "-")
    if n.startswith("ros-") or "ros-" + n not in names:
        print(l)
PY
rm -rf "$tmp"
