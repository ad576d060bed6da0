"""VN batch norm: batch-normalises the length of every vector and keeps its direction."""
from torch import nn

from vn_perception.vn._functional import safe_norm


class VNBatchNorm(nn.Module):
    """`out = x / n * BN(n)` with `n = max(||x||, EPS)` per vector, BN over (batch, points) per channel.

    Norms are invariant, so the output is equivariant. As in the reference code the affine BN output may
    be negative, which flips a vector: still equivariant (a sign is rotation invariant), not clamped.
    `EPS` (vn_perception.constants) clamps the norm so zero vectors give zero output and finite gradients.

    Parameters
    ----------
    channels : int
        C, vector channels of `[B, C, 3, ...]`.
    momentum : float
        running-statistics momentum, as `torch.nn.BatchNorm1d`.

    Example
    -------
    >>> import torch
    >>> VNBatchNorm(8)(torch.randn(2, 8, 3, 64)).shape
    torch.Size([2, 8, 3, 64])
    """

    def __init__(self, channels, momentum=0.1):
        super().__init__()
        self.bn = nn.BatchNorm1d(channels, momentum=momentum)

    def forward(self, x):
        return x * self.scale(x)

    def scale(self, x):
        """The per-vector factor `BN(n) / n` `[B, C, 1, ...]` with `forward(x) == x * scale(x)`."""
        norm = safe_norm(x)                                    # [B, C, 1, ...]
        shape = norm.shape
        scaled = self.bn(norm.reshape(shape[0], shape[1], -1)).reshape(shape)
        return scaled.div_(norm)
