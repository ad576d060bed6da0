"""Shared fixtures: dtype parametrisation (float32 / float64 with their equivariance tolerances), seeding."""
import pytest
import torch

from vn_perception.utils.equivariance import DEFAULT_ATOL


@pytest.fixture(params=[torch.float32, torch.float64], ids=["float32", "float64"])
def dtype(request):
    """Run a test in float32 and in float64."""
    return request.param


@pytest.fixture
def atol(dtype):
    """Equivariance tolerance of `dtype`: 1e-4 (float32, rounding), 1e-9 (float64, exactness)."""
    return DEFAULT_ATOL[dtype]


@pytest.fixture
def generator():
    """A seeded CPU generator for random rotations and permutations."""
    return torch.Generator().manual_seed(1234)


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)
