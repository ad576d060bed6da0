#!/usr/bin/env bash
# The package as a ROS 2 user gets it: `colcon build` in a fresh workspace, then the installed executable
# (<prefix>/lib/vn_perception/vn_perception_node) starts confined, publishes its class map (~/label_info)
# and exits 0 on SIGINT.
#
# Usage: .ci/colcon_check.sh [MODEL_PATH]     (default: the model shipped in vn_perception/assets)
# Needs the project venv (scripts/setup.sh); installs colcon-common-extensions into .cache/colcon when missing.
# The workspace holds a symlink to this checkout (msgs/ carries COLCON_IGNORE: only vn_perception is built).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
py="$venv/bin/python"
model_path="${1:-}"
say() { echo "colcon_check: $*"; }

# colcon lives in its own folder (pip --target), put on PYTHONPATH for the build only: installed into the venv it
# would downgrade setuptools and add pytest plugins to the test environment.
colcon_dir="$root/.cache/colcon"
if [ ! -f "$colcon_dir/bin/colcon" ]; then
  say "installing colcon-common-extensions into $colcon_dir"
  "$py" -m pip install --disable-pip-version-check -q --target "$colcon_dir" colcon-common-extensions
fi
if [ -z "$model_path" ] && [ ! -f "$root/vn_perception/assets/default_model.pt" ]; then
  say "no shipped model (vn_perception/assets/default_model.pt): pass a checkpoint as the first argument" >&2
  exit 1
fi

ws="$(mktemp -d "${TMPDIR:-/tmp}/vn_colcon_ws.XXXXXX")"
trap 'rm -rf "$ws"' EXIT
mkdir "$ws/src"
ln -s "$root" "$ws/src/vn_perception"
say "colcon build in $ws"
start=$(date +%s)
(cd "$ws" && PATH="$venv/bin:$PATH" PYTHONPATH="$colcon_dir" "$py" "$colcon_dir/bin/colcon" --log-base "$ws/log" build --packages-select vn_perception \
   --build-base "$ws/build" --install-base "$ws/install" --event-handlers console_direct- > "$ws/build.log" 2>&1) \
  || { tail -40 "$ws/build.log" >&2; say "colcon build failed" >&2; exit 1; }
say "built in $(( $(date +%s) - start )) s"

prefix="$ws/install/vn_perception"
executable="$prefix/lib/vn_perception/vn_perception_node"
for installed in "$executable" "$prefix/share/vn_perception/launch/vn_perception.launch.py" \
                 "$prefix/share/vn_perception/config/vn_perception.yaml" \
                 "$prefix/share/vn_perception/config/fastdds_large_messages.xml" \
                 "$prefix/share/ament_index/resource_index/packages/vn_perception"; do
  [ -e "$installed" ] || { say "missing from the install: $installed" >&2; exit 1; }
done

# Inside one private network namespace: the installed node, and a listener for its transient-local class map.
# `source setup.bash` puts the install first on PYTHONPATH (it shadows the venv's editable checkout).
export VN_CHECK_EXECUTABLE="$executable" VN_CHECK_PREFIX="$prefix" VN_CHECK_MODEL="$model_path" \
       VN_CHECK_PARAMS="$prefix/share/vn_perception/config/vn_perception.yaml" VN_CHECK_PY="$py"
bash "$root/scripts/ros-confined" bash -c '
  set -eo pipefail
  cd "$(dirname "$VN_CHECK_PREFIX")"
  set +u; source setup.bash; set -u
  module_file="$("$VN_CHECK_PY" -c "import vn_perception, sys; print(vn_perception.__file__)")"
  case "$module_file" in
    "$VN_CHECK_PREFIX"/*) ;;
    *) echo "colcon_check: imports $module_file, not the install" >&2; exit 1;;
  esac
  model_arg=()     # an empty override (`model_path:=`) is not parsable by rcl: none means the shipped model
  [ -z "$VN_CHECK_MODEL" ] || model_arg=(-p "model_path:=$VN_CHECK_MODEL")
  (exec "$VN_CHECK_EXECUTABLE" --ros-args --params-file "$VN_CHECK_PARAMS" "${model_arg[@]}") &
  export VN_CHECK_NODE_PID=$!
  node=$VN_CHECK_NODE_PID
  "$VN_CHECK_PY" - <<"PY" || { kill -INT $node; wait $node || true; exit 1; }
import os, sys, time, rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from vision_msgs.msg import LabelInfo
rclpy.init()
node = rclpy.create_node("colcon_check")
received = []
node.create_subscription(LabelInfo, "/vn_perception/label_info", received.append, QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL))
node_pid = os.environ["VN_CHECK_NODE_PID"]
def node_alive():
    with open(f"/proc/{node_pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
deadline = time.monotonic() + 180
while not received and time.monotonic() < deadline and node_alive():
    rclpy.spin_once(node, timeout_sec=0.2)
if not received:
    sys.exit("colcon_check: no label_info from the installed node (it stopped, or 180 s passed)")
print(f"colcon_check: label_info received: {len(received[0].class_map)} classes")
PY
  kill -INT $node
  status=0; wait $node || status=$?
  [ $status -eq 0 ] || { echo "colcon_check: the node exited with $status on SIGINT" >&2; exit 1; }
  echo "colcon_check: node exited 0 on SIGINT"
'
say "ok"
