"""VN invariant layer: an equivariant frame from the features, and the features' coordinates in it."""
from torch import nn

from vn_perception.vn._block import VNLinearBNLeakyReLU
from vn_perception.vn._functional import frame_project, gram_schmidt
from vn_perception.vn._linear import VNLinear, vn_linear


class VNInvariant(nn.Module):
    """`x [B, C, 3, ...] -> (invariant [B, C, 3, ...], frame [B, 3, 3, ...])` (the reference's `VNStdFeature`).

    A small VN network (`hidden` channels, combined blocks) maps x to two vectors u1, u2; Gram-Schmidt plus a
    cross product turns them into a right-handed orthonormal frame F = [e1, e2, e1 x e2] (columns; a proper
    rotation, det +1, wherever u1, u2 are not parallel). The invariant output is `F^T x` per channel:
    `out[b, c, j] = <x[b, c], e_j>`. Rotating x by R rotates the frame to R F and leaves `out` unchanged.
    Norms in Gram-Schmidt are clamped at EPS (finite, not orthonormal, for degenerate inputs).

    Parameters
    ----------
    channels : int
        C, vector channels of x.
    hidden : sequence of int or None
        channels of the frame network; None gives the reference plan (C // 2, C // 4), at least 2 each;
        () uses one VN linear. The last width (or C) must be >= 2: two vectors from one channel are parallel.
    negative_slope : float, direction : str
        passed to the hidden blocks.

    Example
    -------
    >>> import torch
    >>> inv, frame = VNInvariant(8)(torch.randn(2, 8, 3, 64))
    >>> inv.shape, frame.shape
    (torch.Size([2, 8, 3, 64]), torch.Size([2, 3, 3, 64]))
    """

    def __init__(self, channels, hidden=None, negative_slope=0.2, direction="per_channel"):
        super().__init__()
        if hidden is None:
            hidden = (max(channels // 2, 2), max(channels // 4, 2))
        if (list(hidden) or [channels])[-1] < 2:
            raise ValueError("VNInvariant needs >= 2 channels before the frame (one channel spans one line)")
        layers, c = [], channels
        for h in hidden:
            layers.append(VNLinearBNLeakyReLU(c, h, negative_slope=negative_slope, direction=direction))
            c = h
        self.net = nn.Sequential(*layers)
        self.to_frame = VNLinear(c, 2)

    def frame(self, x):
        """The equivariant frame `[B, 3, 3, ...]` (columns e1, e2, e3) of features x."""
        u = vn_linear(self.net(x), self.to_frame.weight)       # [B, 2, 3, ...]
        return gram_schmidt(u[:, 0], u[:, 1], dim=1)

    def forward(self, x):
        frame = self.frame(x)
        return frame_project(x, frame), frame
