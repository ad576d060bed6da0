"""The decision-plane study's nonlinearity kinds (`vn/_regions.py`): each keeps exactly the symmetry it claims.

Equivariant kinds (`frame_octant`, `norm_gate`) commute with random SO(3) rotations in float64; the
input-independent controls (`fixed_111`, `sensor_octant`) commute with their residual subgroup (rotations
about [1, 1, 1]; the cyclic axis permutations) and measurably not with a generic rotation.
"""
import math

import pytest
import torch
from scipy.spatial.transform import Rotation

from vn_perception.constants import EPS
from vn_perception.models.factory import build_model
from vn_perception.utils.equivariance import assert_equivariant, equivariance_error, random_rotation
from vn_perception.vn import (
    DIRECTIONS, LearnedFrameOctant, NormGate, RegionDecision, VNLeakyReLU, VNLinearBNLeakyReLU, leaky_coordinates,
    vn_leaky_relu,
)

C_IN, C_OUT = 6, 8
EQUIVARIANT = ("frame_octant", "norm_gate")
SUBGROUP_ONLY = ("fixed_111", "sensor_octant")
#: a clearly broken equivariance (features of unit scale): far above float64 rounding
BROKEN = 1e-2
#: the cyclic permutation x -> y -> z -> x as a proper rotation (120 degrees about [1, 1, 1])
CYCLIC = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)


def _layers(kind):
    return {"leaky_relu": VNLeakyReLU(C_IN, direction=kind), "block": VNLinearBNLeakyReLU(C_IN, C_OUT, direction=kind),
            "block_no_bn": VNLinearBNLeakyReLU(C_IN, C_OUT, direction=kind, batch_norm=False)}


def _about_diagonal(angle):
    return torch.from_numpy(Rotation.from_rotvec(angle * math.sqrt(1 / 3) * torch.ones(3).numpy()).as_matrix())


def test_new_kinds_are_registered():
    assert set(EQUIVARIANT + SUBGROUP_ONLY) <= set(DIRECTIONS)


@pytest.mark.parametrize("kind", EQUIVARIANT)
@pytest.mark.parametrize("part", ["leaky_relu", "block", "block_no_bn"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_equivariant_kinds_commute_with_random_rotations(kind, part, train, generator):
    layer = _layers(kind)[part].double().train(train)
    x = torch.randn(4, C_IN, 3, 32, dtype=torch.float64)
    assert_equivariant(layer, x, rotate_input="vector", rotate_output="vector", n_trials=5, generator=generator)


@pytest.mark.parametrize("kind", EQUIVARIANT)
def test_equivariant_kinds_with_neighbour_dim_and_without_points(kind, generator):
    layer = VNLinearBNLeakyReLU(C_IN, C_OUT, direction=kind).double()
    for shape in ((3, C_IN, 3, 16, 5), (3, C_IN, 3)):
        if len(shape) == 3:
            layer = VNLinearBNLeakyReLU(C_IN, C_OUT, direction=kind, batch_norm=False).double()
        assert_equivariant(layer, torch.randn(*shape, dtype=torch.float64), rotate_input="vector",
                           rotate_output="vector", generator=generator)


@pytest.mark.parametrize("kind", SUBGROUP_ONLY)
@pytest.mark.parametrize("part", ["leaky_relu", "block"])
def test_fixed_kinds_keep_their_subgroup_and_break_so3(kind, part, generator):
    layer = _layers(kind)[part].double().eval()
    x = torch.randn(4, C_IN, 3, 32, dtype=torch.float64)
    subgroup = [CYCLIC, CYCLIC @ CYCLIC]
    if kind == "fixed_111":
        subgroup += [_about_diagonal(a) for a in (0.3, 1.7, -2.5)]
    for R in subgroup:
        assert equivariance_error(layer, x, "vector", "vector", rotation=R) < 1e-12
    generic = [random_rotation(generator=generator) for _ in range(3)]
    assert min(equivariance_error(layer, x, "vector", "vector", rotation=R) for R in generic) > BROKEN


def test_sensor_octant_is_three_planes_and_axis_flips_break_it():
    """Per-coordinate leaky ReLU = the VN leaky ReLU against e1, e2, e3 in turn; a sign flip is not kept."""
    q = torch.randn(2, C_IN, 3, 10, dtype=torch.float64)
    out = VNLeakyReLU(C_IN, negative_slope=0.2, direction="sensor_octant")(q)
    expected = q
    for axis in torch.eye(3, dtype=torch.float64):
        expected = vn_leaky_relu(expected, axis.view(1, 1, 3, 1), 0.2)
    torch.testing.assert_close(out, expected, rtol=10 * EPS, atol=10 * EPS)     # vn_leaky_relu divides by |k|^2 + EPS
    flip = torch.diag(torch.tensor([-1.0, -1.0, 1.0], dtype=torch.float64))       # a proper rotation by pi
    layer = VNLeakyReLU(C_IN, direction="sensor_octant")
    assert equivariance_error(layer, q, "vector", "vector", rotation=flip) > BROKEN


def test_frame_octant_clips_in_its_frame():
    """In the learned frame F, the coordinates of the output are the leaky-ReLU'd coordinates of the input."""
    layer = VNLeakyReLU(C_IN, negative_slope=0.1, direction="frame_octant").double()
    x = torch.randn(3, C_IN, 3, 20, dtype=torch.float64)
    frame = layer.direction(x)                                                       # [B, 3, 3, N]
    torch.testing.assert_close(torch.einsum("bij...,bik...->bjk...", frame, frame),
                               torch.eye(3, dtype=torch.float64).view(1, 3, 3, 1).expand_as(frame))
    coords_in = torch.einsum("bci...,bij...->bcj...", x, frame)
    coords_out = torch.einsum("bci...,bij...->bcj...", layer(x), frame)
    torch.testing.assert_close(coords_out, leaky_coordinates(coords_in, 0.1))
    assert (coords_in < 0).any() and not torch.allclose(coords_in, coords_out)


def test_norm_gate_only_rescales_and_is_bounded():
    layer = VNLinearBNLeakyReLU(C_IN, C_OUT, negative_slope=0.2, direction="norm_gate", batch_norm=False).double()
    x = torch.randn(5, C_IN, 3, 12, dtype=torch.float64)
    q, out = layer.linear(x), layer(x)
    ratio = out.norm(dim=2) / q.norm(dim=2)
    cosine = (out * q).sum(2) / (out.norm(dim=2) * q.norm(dim=2))
    assert torch.all(ratio > 0.2) and torch.all(ratio < 1.0)
    torch.testing.assert_close(cosine, torch.ones_like(cosine))
    assert isinstance(layer.direction, NormGate) and isinstance(layer.direction, RegionDecision)


def test_parameter_counts():
    assert sum(p.numel() for p in LearnedFrameOctant(C_IN).parameters()) == 2 * C_IN
    assert sum(p.numel() for p in NormGate(C_IN, C_OUT).parameters()) == C_IN * C_OUT + C_OUT
    for kind in SUBGROUP_ONLY:
        assert sum(p.numel() for p in VNLeakyReLU(C_IN, direction=kind).parameters()) == 0


@pytest.mark.parametrize("kind", EQUIVARIANT + SUBGROUP_ONLY)
def test_fast_vn_with_each_kind(kind, generator):
    """The config key `direction` reaches the encoder; equivariant kinds give an invariant classifier and an
    equivariant rotation, the fixed kinds do not."""
    model = build_model({"encoder": "fast_vn", "num_classes": 4, "direction": kind, "widths": [8, 8, 16],
                         "head_hidden": [16], "orientation_hidden": [8]}).double().eval()
    points = torch.randn(3, 64, 3, dtype=torch.float64)
    err = equivariance_error(model, points, "points", {"logits": "invariant", "rotation": "frame"},
                             generator=generator)
    if kind in EQUIVARIANT:
        assert err < 1e-9
    else:
        assert err > BROKEN
