"""Pooling over points / neighbours: VN max pooling (learned, per channel) and mean pooling."""
from torch import nn

from vn_perception.vn._functional import inner
from vn_perception.vn._linear import vn_linear, VNLinear


class VNMaxPool(nn.Module):
    """Per channel, keep the element along the last dim with the largest invariant score `<x, W x>`.

    `[B, C, 3, ..., N] -> [B, C, 3, ...]`. The score is rotation invariant, so the selected index is too and
    the output is equivariant; it does not depend on the order of the N elements (except among exact ties,
    where the first maximum wins). Implemented with `argmax` + `gather` (no meshgrid indexing).

    Parameters
    ----------
    channels : int
        C, vector channels.

    Example
    -------
    >>> import torch
    >>> VNMaxPool(8)(torch.randn(2, 8, 3, 100)).shape
    torch.Size([2, 8, 3])
    """

    def __init__(self, channels):
        super().__init__()
        self.direction = VNLinear(channels, channels)

    def forward(self, x):
        score = inner(x, vn_linear(x, self.direction.weight), keepdim=True)   # [B, C, 1, ..., N]
        idx = score.argmax(dim=-1, keepdim=True)                                # [B, C, 1, ..., 1]
        idx = idx.expand(*x.shape[:-1], 1)                                      # [B, C, 3, ..., 1]
        return x.gather(-1, idx).squeeze(-1)


def mean_pool(x, dim=-1, keepdim=False):
    """Mean over `dim` (points or neighbours), equivariant and permutation invariant: `x.mean(dim)`."""
    return x.mean(dim=dim, keepdim=keepdim)
