"""Every VN layer commutes with rotations (equivariant outputs) or ignores them (invariant outputs),
in float32 and float64; pooling is permutation invariant; direction kinds are pluggable."""
import pytest
import torch
from torch import nn

from vn_perception.utils.equivariance import FRAME_ATOL, assert_equivariant, assert_permutation_invariant
from vn_perception.vn import (
    DIRECTIONS, VNBatchNorm, VNInvariant, VNLeakyReLU, VNLinear, VNLinearBNLeakyReLU, VNMaxPool,
    gram_schmidt, make_direction, mean_pool, register_direction, vn_leaky_relu,
)

C = 6


def _layers():
    return {
        "linear": (lambda: VNLinear(C, 8), "vector"),
        "leaky_relu_per_channel": (lambda: VNLeakyReLU(C), "vector"),
        "leaky_relu_shared": (lambda: VNLeakyReLU(C, direction="shared"), "vector"),
        "relu_slope0": (lambda: VNLeakyReLU(C, negative_slope=0.0), "vector"),
        "batchnorm": (lambda: VNBatchNorm(C), "vector"),
        "block": (lambda: VNLinearBNLeakyReLU(C, 8), "vector"),
        "block_shared": (lambda: VNLinearBNLeakyReLU(C, 8, direction="shared"), "vector"),
        "block_no_bn": (lambda: VNLinearBNLeakyReLU(C, 8, batch_norm=False), "vector"),
        "maxpool": (lambda: VNMaxPool(C), "vector"),
        "mean_pool": (lambda: mean_pool, "vector"),
        "invariant": (lambda: VNInvariant(C), ("invariant", "frame")),
        "invariant_no_hidden": (lambda: VNInvariant(C, hidden=()), ("invariant", "frame")),
    }


@pytest.mark.parametrize("name", list(_layers()))
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_layer_equivariance(name, train, dtype, atol, generator):
    make, out_kind = _layers()[name]
    layer = make()
    if isinstance(layer, nn.Module):
        layer = layer.to(dtype).train(train)
    x = torch.randn(4, C, 3, 32, dtype=dtype)
    if isinstance(layer, nn.Module) and not train:
        layer.train()(x)                    # populate running statistics first
        layer.eval()
    if out_kind != "vector":
        atol = FRAME_ATOL[dtype]            # Gram-Schmidt amplifies float32 rounding (see FRAME_ATOL)
    assert_equivariant(layer, x, "vector", out_kind, atol=atol, n_trials=4, generator=generator)


def test_invariant_well_conditioned_frame_meets_default_tolerance(dtype, atol, generator):
    # Two input channels mapped by a fixed orthogonal VN linear: u1, u2 are independent Gaussians, so the
    # frame is well conditioned and float32 meets the plain 1e-4 tolerance.
    layer = VNInvariant(2, hidden=()).to(dtype)
    with torch.no_grad():
        layer.to_frame.weight.copy_(torch.tensor([[1.0, 0.0], [0.6, 0.8]]))
    x = torch.randn(4, 2, 3, 64, dtype=dtype)
    assert_equivariant(layer, x, "vector", ("invariant", "frame"), atol=atol, generator=generator)


def test_trailing_neighbour_dim(dtype, atol, generator):
    x = torch.randn(2, C, 3, 16, 5, dtype=dtype)
    for layer in (VNLinearBNLeakyReLU(C, 4), VNMaxPool(C), VNInvariant(C)):
        layer = layer.to(dtype)
        out = layer(x)
        kinds = ("invariant", "frame") if isinstance(out, tuple) else "vector"
        tol = FRAME_ATOL[dtype] if isinstance(out, tuple) else atol
        assert_equivariant(layer, x, "vector", kinds, atol=tol, generator=generator)


@pytest.mark.parametrize("pool", ["max", "mean"])
def test_pooling_permutation_invariance(pool, dtype, atol, generator):
    fn = VNMaxPool(C).to(dtype) if pool == "max" else mean_pool
    x = torch.randn(3, C, 3, 50, dtype=dtype)
    assert_permutation_invariant(fn, x, dim=-1, atol=atol, generator=generator)
    assert fn(x).shape == (3, C, 3)


def test_vn_leaky_relu_matches_paper_definition():
    torch.manual_seed(1)
    q = torch.randn(5, 4, 3, 7, dtype=torch.float64)
    k = torch.randn(5, 4, 3, 7, dtype=torch.float64)
    a = 0.2
    khat = k / k.norm(dim=2, keepdim=True)
    dot = (q * khat).sum(2, keepdim=True)
    relu = torch.where(dot >= 0, q, q - dot * khat)
    assert torch.allclose(vn_leaky_relu(q, k, a), a * q + (1 - a) * relu, atol=1e-5)
    out = vn_leaky_relu(q, k, 0.0)                     # plain VN-ReLU: never on the negative side of k
    assert ((out * k).sum(2) >= -1e-5).all()


def test_block_direction_comes_from_the_input():
    torch.manual_seed(2)
    block = VNLinearBNLeakyReLU(3, 5, batch_norm=False).double()
    x = torch.randn(2, 3, 3, 9, dtype=torch.float64)
    q = block.linear(x)
    k = block.direction(x)
    assert torch.allclose(block(x), vn_leaky_relu(q, k, 0.2))


@pytest.mark.parametrize("direction", ["per_channel", "shared"])
@pytest.mark.parametrize("with_context", [False, True], ids=["plain", "context"])
def test_block_in_place_inference_path_matches_autograd_path(direction, with_context):
    """Under `torch.inference_mode` the block writes into its own intermediates: same numbers, inputs intact."""
    torch.manual_seed(3)
    block = VNLinearBNLeakyReLU(4 + (4 if with_context else 0), 6, direction=direction).double().eval()
    x = torch.randn(2, 4, 3, 11, dtype=torch.float64)
    context = torch.randn(2, 4, 3, dtype=torch.float64) if with_context else None
    x_copy = x.clone()
    expected = block(x, context=context)
    with torch.inference_mode():
        got = block(x, context=context)
    assert torch.equal(x, x_copy)
    assert torch.allclose(got, expected, rtol=0, atol=1e-14)


def test_direction_registry_is_open():
    assert {"per_channel", "shared"} <= set(DIRECTIONS)
    assert make_direction("per_channel", 4, 6)(torch.randn(1, 4, 3, 2)).shape == (1, 6, 3, 2)
    assert make_direction("shared", 4, 6)(torch.randn(1, 4, 3, 2)).shape == (1, 1, 3, 2)
    with pytest.raises(ValueError, match="unknown direction"):
        make_direction("octants", 4)

    class Mean(nn.Module):          # k = mean over points of x, per channel: equivariant, no parameters
        def forward(self, x):
            return x.mean(-1, keepdim=True)

    register_direction("_test_mean", lambda c_in, c_out=None: Mean())
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_direction("_test_mean", lambda c_in, c_out=None: Mean())
        layer = VNLeakyReLU(C, direction="_test_mean").double()
        assert_equivariant(layer, torch.randn(2, C, 3, 10, dtype=torch.float64), "vector", "vector")
        block = VNLinearBNLeakyReLU(C, C, direction=Mean()).double()        # a module instance works too
        assert_equivariant(block, torch.randn(2, C, 3, 10, dtype=torch.float64), "vector", "vector")
    finally:
        DIRECTIONS.pop("_test_mean")


def test_invariant_frame_is_a_proper_rotation(dtype):
    inv, frame = VNInvariant(C).to(dtype)(torch.randn(4, C, 3, 20, dtype=dtype))
    F = frame.permute(0, 3, 1, 2)                           # [B, N, 3, 3]
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    assert torch.allclose(F.transpose(-1, -2) @ F, torch.eye(3, dtype=dtype).expand_as(F), atol=tol)
    assert torch.allclose(torch.linalg.det(F), torch.ones(F.shape[:2], dtype=dtype), atol=tol)


def test_gram_schmidt_columns_are_the_normalised_axes():
    u1 = torch.tensor([[2.0, 0.0, 0.0]], dtype=torch.float64)
    u2 = torch.tensor([[1.0, 3.0, 0.0]], dtype=torch.float64)
    F = gram_schmidt(u1, u2, dim=1)
    assert torch.allclose(F[0], torch.eye(3, dtype=torch.float64))


def test_invariant_rejects_a_single_channel_frame():
    with pytest.raises(ValueError, match=">= 2 channels"):
        VNInvariant(4, hidden=(1,))
