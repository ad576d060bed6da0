"""kNN graphs and VN edge features: shapes, correctness, rotation invariance / equivariance, reflections."""
import pytest
import torch

from vn_perception.utils.equivariance import (
    assert_equivariant, equivariance_error, random_reflection, random_rotation,
)
from vn_perception.vn import VNLinearBNLeakyReLU, edge_features, gather_neighbours, knn, mean_pool


def _brute_knn(p, k):
    d = ((p[:, :, None, :] - p[:, None, :, :]) ** 2).sum(-1)
    return d.argsort(dim=-1)[..., :k]


def test_knn_matches_brute_force_and_layouts():
    p = torch.randn(3, 40, 3, dtype=torch.float64)
    idx = knn(p, 6)
    assert idx.shape == (3, 40, 6) and idx.dtype == torch.int64
    assert torch.equal(idx, _brute_knn(p, 6))
    assert torch.equal(knn(p.transpose(1, 2), 6), idx)                      # [B, 3, N] layout
    assert torch.equal(idx[..., 0], torch.arange(40).expand(3, 40))        # itself first
    assert knn(p, 100).shape == (3, 40, 40)                                 # k capped at N
    with pytest.raises(ValueError):
        knn(torch.randn(2, 5, 4), 3)


def test_knn_on_vn_features_is_rotation_invariant(generator):
    x = torch.randn(2, 4, 3, 30, dtype=torch.float64)
    R = random_rotation(generator=generator)
    assert torch.equal(knn(x, 8), knn(torch.einsum("ij,bcjn->bcin", R, x), 8))


def test_knn_rotation_invariant_in_float64(generator):
    p = torch.randn(4, 256, 3, dtype=torch.float64)
    for _ in range(5):
        R = random_rotation(generator=generator)
        assert torch.equal(knn(p, 20), knn(p @ R.T, 20))


def test_gather_neighbours():
    x = torch.randn(2, 3, 3, 10)
    idx = knn(x[:, 0].transpose(1, 2), 4)
    nb = gather_neighbours(x, idx)
    assert nb.shape == (2, 3, 3, 10, 4)
    assert torch.equal(nb[1, 2, :, 7, 3], x[1, 2, :, idx[1, 7, 3]])


@pytest.mark.parametrize("cross", [True, False])
def test_edge_features_equivariant(cross, dtype, atol, generator):
    p = torch.randn(2, 64, 3, dtype=dtype)

    def fn(points):
        x = points.transpose(1, 2).unsqueeze(1)                    # [B, 1, 3, N]
        return edge_features(x, knn(points, 8), cross=cross)

    out = fn(p)
    assert out.shape == (2, 3 if cross else 2, 3, 64, 8)
    assert torch.allclose(out[:, 0, :, :, 0], torch.zeros_like(out[:, 0, :, :, 0]))   # self edge: v_i - v_i
    if dtype == torch.float64:
        assert_equivariant(fn, p, "points", "vector", atol=atol, generator=generator)


def test_cross_feature_is_so3_not_o3_equivariant(generator):
    """A reflection S commutes with [v_j - v_i, v_i] but flips the sign of v_j x v_i (det S = -1)."""
    p = torch.randn(2, 64, 3, dtype=torch.float64)
    idx = knn(p, 8)                                                # distances are O(3)-invariant: same graph

    def fn(points, cross):
        return edge_features(points.transpose(1, 2).unsqueeze(1), idx, cross=cross)

    S = random_reflection(generator=generator)
    R = random_rotation(generator=generator)
    assert equivariance_error(lambda q: fn(q, True), p, "points", "vector", rotation=R) < 1e-12
    assert equivariance_error(lambda q: fn(q, False), p, "points", "vector", rotation=S) < 1e-12
    assert equivariance_error(lambda q: fn(q, True), p, "points", "vector", rotation=S) > 1e-2
    moved = fn(p @ S.T, True)[:, 2]
    expected = -torch.einsum("ij,bjnk->bink", S, fn(p, True)[:, 2])   # S a x S b = -S (a x b)
    assert torch.allclose(moved, expected, atol=1e-12)


def test_edge_block_pipeline_equivariant(generator):
    torch.manual_seed(3)
    block = VNLinearBNLeakyReLU(3, 8, negative_slope=0.0).double()
    p = torch.randn(2, 100, 3, dtype=torch.float64)

    def fn(points):
        x = points.transpose(1, 2).unsqueeze(1)
        return mean_pool(block(edge_features(x, knn(points, 10))))

    assert_equivariant(fn, p, "points", "vector", generator=generator)


def test_graph_device_follows_input():
    p = torch.randn(1, 10, 3)
    assert knn(p, 3).device == p.device
    assert edge_features(p.transpose(1, 2).unsqueeze(1), knn(p, 3)).device == p.device
