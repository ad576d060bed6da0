"""vn_perception.utils.equivariance: rotations are uniform proper rotations, the checks catch violations."""
import pytest
import torch

from vn_perception.utils.equivariance import (
    assert_equivariant, assert_permutation_invariant, equivariance_error, permutation_error, random_reflection,
    random_rotation, transform,
)


def test_random_rotation_is_proper_orthogonal(generator):
    R = random_rotation(500, generator=generator)
    eye = torch.eye(3, dtype=R.dtype).expand_as(R)
    assert torch.allclose(R @ R.transpose(1, 2), eye, atol=1e-12)
    assert torch.allclose(torch.det(R), torch.ones(500, dtype=R.dtype), atol=1e-12)
    assert random_rotation(dtype=torch.float32).shape == (3, 3)
    assert random_rotation(dtype=torch.float32).dtype == torch.float32


def test_random_rotation_is_uniform(generator):
    # Haar measure on SO(3): E[R] = 0, E[trace R] = 0, E[R_ij^2] = 1/3; the angle has density (1 - cos t)/pi.
    R = random_rotation(20000, generator=generator)
    assert R.mean(0).abs().max() < 0.03
    assert (R ** 2).mean(0).sub(1 / 3).abs().max() < 0.02
    cos = ((torch.diagonal(R, dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1)
    assert abs(cos.mean().item() + 0.5) < 0.02          # E[cos t] = -1/2 under Haar


def test_reflection_is_improper(generator):
    S = random_reflection(generator=generator)
    assert torch.allclose(S @ S.T, torch.eye(3, dtype=S.dtype), atol=1e-12)
    assert torch.det(S) == pytest.approx(-1.0)


def test_transform_kinds(generator):
    R = random_rotation(generator=generator)
    p = torch.randn(2, 5, 3, dtype=torch.float64)
    v = p.transpose(1, 2).unsqueeze(1)                               # [B, 1, 3, N]
    assert torch.allclose(transform(p, R, "points").transpose(1, 2).unsqueeze(1), transform(v, R, "vector"))
    F = random_rotation(2, generator=generator)
    assert torch.allclose(transform(F, R, "frame"), R @ F)
    assert transform(p, R, "invariant") is p
    with pytest.raises(ValueError):
        transform(p, R, "tensor")


def test_checks_pass_and_fail(generator):
    x = torch.randn(2, 4, 3, 10, dtype=torch.float64)
    assert equivariance_error(lambda t: 2 * t, x, "vector", "vector", generator=generator) < 1e-12
    assert_equivariant(lambda t: t.norm(dim=2), x, "vector", "invariant", generator=generator)
    with pytest.raises(AssertionError, match="equivariance error"):
        assert_equivariant(lambda t: t + 1.0, x, "vector", "vector", generator=generator)   # a bias is not
    # dict outputs with per-key transformations
    fn = lambda t: {"v": t.mean(-1), "s": t.norm(dim=2)}
    assert_equivariant(fn, x, "vector", {"v": "vector", "s": "invariant"}, generator=generator)
    assert_permutation_invariant(lambda t: t.mean(-1), x, generator=generator)
    assert permutation_error(lambda t: t[..., 0], x, generator=generator) > 0.1
