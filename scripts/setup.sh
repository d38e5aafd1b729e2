#!/usr/bin/env bash
# Idempotent setup on a fresh Debian machine with Python 3.11 (root, no ROS installed):
#   Debian packages (libusb for open3d), a venv in .venv with the pinned requirements (ROS 2 Kilted
#   wheels, torch 2.13.0 CPU, pybullet, open3d, ...) and toponav itself in editable mode.
# A second run only checks and returns within seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

# --- Debian packages -----------------------------------------------------------------------------
need_apt=()
ldconfig -p | grep -q 'libusb-1.0.so.0' || need_apt+=(libusb-1.0-0)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- Python venv -----------------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.toponav-requirements.sha
want=$(cat requirements.lock setup.py | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing pinned requirements (first run takes a few minutes)"
  pipi() {  # pip install, hiding the "location is ignored" noise of this machine's extra indexes
    local log; log=$(mktemp)
    if ! .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
      grep -v -E "^WARNING: Location .* is ignored" "$log" >&2; rm -f "$log"; return 1
    fi
    rm -f "$log"
  }
  pipi -r requirements.lock || { echo "[setup] pip install -r requirements.lock failed" >&2; exit 1; }
  pipi --no-deps --no-build-isolation -e . || { echo "[setup] pip install -e . failed" >&2; exit 1; }
  .venv/bin/python -c "import rclpy, torch, pybullet, open3d, networkx, rosbags, gymnasium, panda_gym, stable_baselines3, sb3_contrib, toponav" \
    || { echo "[setup] import check failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
echo "[setup] ready: $ROOT/.venv (activate with: source .venv/bin/activate)"
