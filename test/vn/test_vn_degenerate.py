"""Zero vectors, duplicate points and coplanar inputs give finite outputs and finite gradients."""
import pytest
import torch

from vn_perception.vn import (
    VNBatchNorm, VNInvariant, VNLeakyReLU, VNLinear, VNLinearBNLeakyReLU, VNMaxPool, edge_features,
    gram_schmidt, knn, mean_pool,
)


def _points(case, dtype, n=32):
    if case == "zeros":
        return torch.zeros(2, n, 3, dtype=dtype)
    if case == "duplicates":
        return torch.randn(2, 1, 3, dtype=dtype).expand(2, n, 3).clone()
    if case == "coplanar":
        p = torch.randn(2, n, 3, dtype=dtype)
        p[..., 2] = 0.0
        return p
    if case == "collinear":
        return torch.linspace(-1, 1, n, dtype=dtype)[None, :, None] * torch.tensor([1.0, 2.0, -1.0], dtype=dtype)
    raise ValueError(case)


CASES = ["zeros", "duplicates", "coplanar", "collinear"]


def _stack(dtype):
    layers = torch.nn.ModuleList([
        VNLinearBNLeakyReLU(3, 8), VNLeakyReLU(8, direction="shared"), VNLinear(8, 8), VNBatchNorm(8),
        VNMaxPool(8), VNInvariant(16),
    ]).to(dtype)

    def fn(points):
        x = points.transpose(1, 2).unsqueeze(1)
        e = edge_features(x, knn(points, 8))                        # [B, 3, 3, N, k]
        h = mean_pool(layers[0](e))                                  # [B, 8, 3, N]
        h = layers[3](layers[2](layers[1](h)))
        g = layers[4](h)                                             # [B, 8, 3]
        h = torch.cat([h, g.unsqueeze(-1).expand_as(h)], dim=1)     # [B, 16, 3, N]
        inv, frame = layers[5](h)
        return inv, frame

    return layers, fn


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_finite_outputs_and_gradients(case, train, dtype):
    layers, fn = _stack(dtype)
    layers.train(train)
    points = _points(case, dtype).requires_grad_(True)
    inv, frame = fn(points)
    assert torch.isfinite(inv).all() and torch.isfinite(frame).all()
    (inv.square().sum() + frame.sum()).backward()
    assert torch.isfinite(points.grad).all()
    for p in layers.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


def test_gram_schmidt_degenerate_is_finite(dtype):
    u = torch.zeros(4, 3, dtype=dtype, requires_grad=True)
    v = torch.tensor([[1.0, 0, 0], [0, 0, 0], [2.0, 0, 0], [0, 1.0, 0]], dtype=dtype, requires_grad=True)
    F = gram_schmidt(u, v, dim=1)
    F.sum().backward()
    assert torch.isfinite(F).all() and torch.isfinite(u.grad).all() and torch.isfinite(v.grad).all()
    w = torch.tensor([[1.0, 0, 0]] * 4, dtype=dtype, requires_grad=True)
    F = gram_schmidt(w, w * 2.0, dim=1)                          # parallel
    F.sum().backward()
    assert torch.isfinite(F).all() and torch.isfinite(w.grad).all()
