"""VN leaky ReLU and its pluggable decision direction.

The nonlinearity is a function of two tensors, the features `q` and a direction `k`
(`vn_perception.vn._functional.vn_leaky_relu(q, k)`). Which `k` is used is a separate, swappable component:
a small module mapping the features that decide (`[B, C_in, 3, ...]`) to directions `[B, C_out or 1, 3, ...]`.
`make_direction(kind, ...)` builds one from the registry `DIRECTIONS` (a dict of factories); studies add kinds
with `register_direction`. Only directions that rotate with the input (`k(R x) = R k(x)`) keep the layer
SO(3)-equivariant: `per_channel`, `shared`, `frame_octant` and `norm_gate` do; `fixed_111` and
`sensor_octant` (the study's input-independent controls) keep only a subgroup (see `_regions.py`).
Kinds that are not a single plane (`RegionDecision`) supply their own `activate(q, decision, a)`.
"""
from torch import nn

from vn_perception.vn._functional import vn_leaky_relu
from vn_perception.vn._linear import VNLinear, vn_linear
from vn_perception.vn._regions import FixedDirection, LearnedFrameOctant, NormGate, RegionDecision, SensorOctant


class LinearDirection(nn.Module):
    """Learned linear direction `k = U x` (`U: C_in -> C_out`), equivariant because it is VN-linear.

    `out_channels == 1` is the shared kind (one direction per layer, broadcast over all channels).
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.linear = VNLinear(in_channels, out_channels)

    @property
    def weight(self):
        return self.linear.weight

    def forward(self, x):
        return vn_linear(x, self.linear.weight)


def _per_channel(in_channels, out_channels=None):
    """The paper's choice: one learned direction per output channel, `k = U x`, `U: C_in -> C_out`."""
    return LinearDirection(in_channels, in_channels if out_channels is None else out_channels)


def _shared(in_channels, out_channels=None):
    """One learned direction per layer (`U: C_in -> 1`), the reference code's `share_nonlinearity`."""
    return LinearDirection(in_channels, 1)


def _fixed_111(in_channels, out_channels=None):
    """Fixed global normal [1, 1, 1] / sqrt(3) (input-free; equivariant about the diagonal only)."""
    return FixedDirection()


def _sensor_octant(in_channels, out_channels=None):
    """Per-coordinate leaky ReLU in the sensor frame (equivariant under the cyclic axis permutations only)."""
    return SensorOctant()


#: kind -> factory(in_channels, out_channels=None) -> nn.Module mapping [B, C_in, 3, ...] -> [B, C_out or 1, 3, ...]
DIRECTIONS = {
    "per_channel": _per_channel,
    "shared": _shared,
    "fixed_111": _fixed_111,
    "sensor_octant": _sensor_octant,
    "frame_octant": LearnedFrameOctant,
    "norm_gate": NormGate,
}


def register_direction(kind, factory, overwrite=False):
    """Add a direction kind: `factory(in_channels, out_channels=None)` returning an `nn.Module`."""
    if kind in DIRECTIONS and not overwrite:
        raise ValueError(f"direction kind {kind!r} is already registered")
    DIRECTIONS[kind] = factory
    return factory


def make_direction(kind, in_channels, out_channels=None):
    """Build the direction module `kind` (a key of `DIRECTIONS`; an `nn.Module` is returned as is).

    in_channels: channels of the features the direction is computed from; out_channels: channels of the
    features it acts on (defaults to in_channels). Shapes: `[B, in, 3, ...] -> [B, out or 1, 3, ...]`.
    """
    if isinstance(kind, nn.Module):
        return kind
    try:
        factory = DIRECTIONS[kind]
    except KeyError:
        raise ValueError(f"unknown direction kind {kind!r}: expected one of {sorted(DIRECTIONS)}") from None
    return factory(in_channels, out_channels)


class VNLeakyReLU(nn.Module):
    """VN leaky ReLU `[B, C, 3, ...] -> [B, C, 3, ...]` with a learned decision direction `k = direction(x)`.

    Vectors on the positive side of the plane normal to `k` pass; the others lose their component along `k`
    (scaled by `negative_slope`). Formula and EPS: `vn_leaky_relu`.

    Parameters
    ----------
    channels : int
        C, vector channels.
    negative_slope : float
        a in the paper (0 = plain VN-ReLU), default 0.2.
    direction : str or nn.Module
        kind in `DIRECTIONS` (`"per_channel"`: k = U x, one per channel; `"shared"`: one per layer) or a module.

    Example
    -------
    >>> import torch
    >>> act = VNLeakyReLU(8, direction="shared")
    >>> act(torch.randn(2, 8, 3, 50)).shape
    torch.Size([2, 8, 3, 50])
    """

    def __init__(self, channels, negative_slope=0.2, direction="per_channel"):
        super().__init__()
        self.negative_slope = float(negative_slope)
        self.direction = make_direction(direction, channels, channels)

    def forward(self, x):
        decision = self.direction(x)
        if isinstance(self.direction, RegionDecision):
            return self.direction.activate(x, decision, self.negative_slope)
        return vn_leaky_relu(x, decision, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"
