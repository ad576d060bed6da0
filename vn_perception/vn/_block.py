"""The combined VN block: linear, batch norm, leaky ReLU (the reference's `VNLinearLeakyReLU`)."""
import torch
from torch import nn

from vn_perception.vn._batchnorm import VNBatchNorm
from vn_perception.vn._functional import scaled_vn_leaky_relu
from vn_perception.vn._linear import VNLinear, vn_linear
from vn_perception.vn._nonlinearity import LinearDirection, make_direction
from vn_perception.vn._regions import RegionDecision


class VNLinearBNLeakyReLU(nn.Module):
    """`[B, C_in, 3, ...] -> [B, C_out, 3, ...]`: `q = BN(W x)`, `k = direction(x)`, `out = VN-LeakyReLU(q, k)`.

    The decision direction is computed from the layer *input* x, as in the paper and the reference code
    (`k = U x`, U: C_in -> C_out, or C_in -> 1 for the shared kind), not from the linear output. With a
    linear direction, W and U are applied in one fused matmul.

    `forward(x, context)` is `forward(cat([x, context broadcast over the trailing dims], dim=1))` (the VN
    pattern "concatenate the global mean") without materialising the concatenation: the context part of
    the fused linear map is applied once per object. Then `in_channels = C_x + C_context`.

    Parameters
    ----------
    in_channels, out_channels : int
        C_in, C_out vector channels.
    negative_slope : float
        leak of the VN-ReLU (0 = plain ReLU), default 0.2.
    direction : str or nn.Module
        direction kind (see `make_direction`), default `"per_channel"`.
    batch_norm : bool
        apply `VNBatchNorm` to `W x` (default True).

    Example
    -------
    >>> import torch
    >>> VNLinearBNLeakyReLU(3, 16)(torch.randn(2, 3, 3, 64, 10)).shape
    torch.Size([2, 16, 3, 64, 10])
    """

    def __init__(self, in_channels, out_channels, negative_slope=0.2, direction="per_channel", batch_norm=True):
        super().__init__()
        self.out_channels = int(out_channels)
        self.negative_slope = float(negative_slope)
        self.linear = VNLinear(in_channels, out_channels)
        self.bn = VNBatchNorm(out_channels) if batch_norm else nn.Identity()
        self.direction = make_direction(direction, in_channels, out_channels)

    def forward(self, x, context=None):
        if not isinstance(self.direction, LinearDirection):
            if context is not None:
                x = torch.cat((x, _broadcast(context, x)), dim=1)
            q, k = self.linear(x), self.direction(x)
        else:
            weight = torch.cat((self.linear.weight, self.direction.weight), dim=0)     # [W; U]
            c = x.shape[1]
            qk = vn_linear(x, weight[:, :c])
            if context is not None:
                qk = qk.add_(_broadcast(vn_linear(context, weight[:, c:]), qk))   # in place: autograd-safe after a matmul
            q, k = qk[:, : self.out_channels], qk[:, self.out_channels:]
        scale = self.bn.scale(q) if isinstance(self.bn, VNBatchNorm) else None
        if isinstance(self.direction, RegionDecision):          # not one plane: the kind applies its own rule
            return self.direction.activate(q if scale is None else q * scale, k, self.negative_slope)
        return scaled_vn_leaky_relu(q, scale, k, self.negative_slope, overwrite_q=True)   # q: our intermediate

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


def _broadcast(context, like):
    """`[B, C, 3]` (or `[B, C, 3, ...]` with fewer trailing dims) -> broadcastable view against `like`."""
    while context.dim() < like.dim():
        context = context.unsqueeze(-1)
    return context.expand(*context.shape[:2], *like.shape[2:])
