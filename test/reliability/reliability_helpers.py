"""Helpers of the reliability tests: hypothesis settings of the fuzzers, an untrained checkpoint.

Fuzzers: `fuzz_settings(n)` gives hypothesis settings with n cases in CI, derandomised (a CI failure
reproduces; the failing case is printed). A longer search with random seeds on demand:
    VN_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest test/reliability -k fuzz     # cases per fuzzer
The settings apply per test (no global hypothesis profile, so other test folders keep theirs).
"""
import os

from hypothesis import HealthCheck, settings


def fuzz_settings(ci_examples):
    """hypothesis settings: $VN_FUZZ_EXAMPLES cases (random seeds) when set, else `ci_examples` (derandomised)."""
    requested = os.environ.get("VN_FUZZ_EXAMPLES")
    return settings(max_examples=int(requested or ci_examples), derandomize=not requested, deadline=None,
                    print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                            HealthCheck.filter_too_much])


def untrained_checkpoint(path):
    """Write a checkpoint of an untrained default network (3 classes) to `path`."""
    import torch
    from vn_perception.models.checkpoint import save_checkpoint
    from vn_perception.models.factory import DEFAULT_MODEL_CONFIG, build_model
    torch.manual_seed(0)
    config = dict(DEFAULT_MODEL_CONFIG, num_classes=3)
    return save_checkpoint(path, build_model(config), {
        "classes": ["box", "can", "mug"], "model_config": config, "symmetries": ["none", "continuous:z", "none"],
        "preprocessing": {"num_points": 512, "centering": "mean"}})
