#!/usr/bin/env bash
# The whole test suite, confined: every rclpy process runs inside a private network namespace
# (scripts/ros-confined). Extra arguments go to pytest. pytest exits non-zero when no test ran.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PYTHONUNBUFFERED=1
exec bash scripts/ros-confined "$root/.venv/bin/python" -m pytest "$@"
