"""VN linear layer: mixes vector channels, never the three coordinates of a vector.

A matrix W `[C_out, C_in]` acting on the channel axis commutes with any R acting on the vector axis."""
import math

import torch
from torch import nn


class VNLinear(nn.Module):
    """Channel mixing `out[b, o] = sum_c W[o, c] x[b, c]` applied to every 3-D vector (no bias).

    A bias would be a fixed vector and break rotation equivariance, so there is none.

    Parameters
    ----------
    in_channels : int
        C_in, vector channels of the input `[B, C_in, 3, ...]`.
    out_channels : int
        C_out, vector channels of the output `[B, C_out, 3, ...]`.

    Example
    -------
    >>> import torch
    >>> layer = VNLinear(4, 8)
    >>> layer(torch.randn(2, 4, 3, 100)).shape
    torch.Size([2, 8, 3, 100])
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.weight = nn.Parameter(torch.empty(self.out_channels, self.in_channels))
        self.reset_parameters()

    def reset_parameters(self):
        # Same scale as nn.Linear's default: U(-1/sqrt(C_in), 1/sqrt(C_in)).
        bound = 1.0 / math.sqrt(max(self.in_channels, 1))
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x):
        return vn_linear(x, self.weight)

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}"


def vn_linear(x, weight):
    """`einsum('oc,bc...->bo...', weight, x)`: `weight [C_out, C_in]` applied to `x [B, C_in, 3, ...]`.

    Computed as one batched matmul on the `[B, C_in, 3 * ...]` view, which keeps the layout and avoids the
    transposed copies `torch.einsum` makes for this pattern.
    """
    b, c = x.shape[:2]
    return torch.matmul(weight, x.reshape(b, c, -1)).view(b, weight.shape[0], *x.shape[2:])
