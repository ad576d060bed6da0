"""Settings of the reliability tests: hypothesis profiles for the fuzzers.

CI runs the `ci` profile (a fixed budget of generated cases per fuzzer, derandomised so that a CI failure
reproduces). A longer search on demand: VN_FUZZ_EXAMPLES=20000 (cases per fuzzer, random seeds), e.g.
    VN_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest test/reliability -k fuzz
"""
import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# the ROS helpers (confined harness, node subprocess) are shared with test/ros
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ros"))

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.filter_too_much], print_blob=True)
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("long", derandomize=False, **_COMMON)
settings.load_profile("long" if os.environ.get("VN_FUZZ_EXAMPLES") else "ci")


def fuzz_examples(ci_default):
    """Cases per fuzzer: $VN_FUZZ_EXAMPLES when set, else `ci_default`."""
    return int(os.environ.get("VN_FUZZ_EXAMPLES") or ci_default)
