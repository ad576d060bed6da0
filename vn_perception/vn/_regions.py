"""Alternative decision rules for the VN nonlinearity (the decision-plane study, `docs/decision_planes.md`).

The paper's VN-ReLU keeps a vector where `<q, k> >= 0` and clips its component along `k` otherwise, with
`k = U x` learned from the input (`_nonlinearity.LinearDirection`). The kinds here change *where the
decision comes from*; each states which rotations it commutes with:

=================  ======================================================  =================================
kind               decision                                                symmetry kept
=================  ======================================================  =================================
`fixed_111`        one plane, normal `[1, 1, 1] / sqrt(3)` (input-free)    rotations about `[1, 1, 1]` (SO(2))
`sensor_octant`    three planes, the sensor axes (per-coordinate leaky)    cyclic axis permutations (C3)
`frame_octant`     three planes, a frame `F(x)` learned from the input     all of SO(3)
`norm_gate`        no plane: `q * gate(|x|)` from invariant norms          all of SO(3)
=================  ======================================================  =================================

A `fixed_111` module is an ordinary direction (it returns `k`); the others are `RegionDecision`s: `forward(x)`
returns the decision (None, a frame or a gate) and `activate(q, decision, negative_slope)` applies it. The
VN block (`_block.py`) and `VNLeakyReLU` call `activate` for them instead of `vn_leaky_relu`.
"""
import math

import torch
from torch import nn

from vn_perception.vn._functional import VEC_DIM, gram_schmidt, safe_norm
from vn_perception.vn._linear import VNLinear, vn_linear

#: The fixed decision normal of `fixed_111` (unit length).
DIAGONAL = (1.0 / math.sqrt(3.0),) * 3


def _broadcast_vector(vector, like):
    """`[3]` -> `[1, 1, 3, 1, ...]` broadcastable against VN features `like` `[B, C, 3, ...]`."""
    return vector.view(1, 1, 3, *([1] * (like.dim() - 3))).to(like.dtype)


def leaky_coordinates(coords, negative_slope):
    """Per-coordinate leaky ReLU `max(c, 0) + a min(c, 0)` of `coords` `[B, C, 3, ...]` (any shape)."""
    return coords + (negative_slope - 1.0) * coords.clamp_max(0.0)


class FixedDirection(nn.Module):
    """Input-independent decision normal `k = [1, 1, 1] / sqrt(3)`: `[B, C, 3, ...] -> [1, 1, 3, 1, ...]`.

    Symmetry kept: only rotations R with `R k = k` (about the diagonal); a generic rotation moves the input
    but not the plane, so the layer is not SO(3)-equivariant. No parameters.
    """

    def __init__(self, vector=DIAGONAL):
        super().__init__()
        self.register_buffer("vector", torch.as_tensor(vector, dtype=torch.float32), persistent=False)

    def forward(self, x):
        return _broadcast_vector(self.vector, x)


class RegionDecision(nn.Module):
    """Base of decision rules that replace the single half-space test.

    `forward(x)`: decision from the layer input `x` `[B, C_in, 3, ...]`; `activate(q, decision, a)`: output
    `[B, C, 3, ...]` from the features `q` `[B, C, 3, ...]` (after linear map and batch norm).
    """

    def activate(self, q, decision, negative_slope):
        raise NotImplementedError


class SensorOctant(RegionDecision):
    """Octant regions of the fixed sensor frame: per-coordinate leaky ReLU of every vector.

    Equals three VN leaky ReLUs against the sensor axes e1, e2, e3. Symmetry kept: rotations that permute the
    axes without sign flips (the leak is not odd), i.e. the cyclic permutations (C3 about `[1, 1, 1]`).
    No parameters.
    """

    def forward(self, x):
        return None

    def activate(self, q, decision, negative_slope):
        return leaky_coordinates(q, negative_slope)


class LearnedFrameOctant(RegionDecision):
    """Octant regions of an equivariant frame derived from the input, one frame per point (per layer).

    `u = V x` (VN linear, `C_in -> 2`), `F = gram_schmidt(u1, u2)` `[B, 3, 3, ...]`; the output is
    `F leaky(F^T q)`: coordinates in F, per-coordinate leaky ReLU, rotated back. Rotating the input by R
    rotates F to `R F`, so the layer is exactly SO(3)-equivariant (the equivariant form of `sensor_octant`:
    three orthogonal learned planes instead of one). Parameters: `2 C_in`.
    """

    def __init__(self, in_channels, out_channels=None):
        super().__init__()
        self.to_axes = VNLinear(in_channels, 2)

    def forward(self, x):
        u = vn_linear(x, self.to_axes.weight)                           # [B, 2, 3, ...]
        return gram_schmidt(u[:, 0], u[:, 1], dim=1)                    # [B, 3, 3, ...] columns e1, e2, e3

    def activate(self, q, frame, negative_slope):
        # F^T q, leaky, F (...): 3 x 3 broadcast multiply-adds on [B, C, ...] slices (einsum with a per-point
        # frame copies and permutes the largest tensor; this is ~2x faster on one CPU core).
        f = frame.unsqueeze(1)                                                   # [B, 1, 3, 3, ...]
        q0, q1, q2 = q.unbind(VEC_DIM)
        coords = [leaky_coordinates(q0 * f[:, :, 0, j] + q1 * f[:, :, 1, j] + q2 * f[:, :, 2, j], negative_slope)
                  for j in range(3)]                                              # F^T q per frame axis j
        return torch.stack([coords[0] * f[:, :, i, 0] + coords[1] * f[:, :, i, 1] + coords[2] * f[:, :, i, 2]
                            for i in range(3)], dim=VEC_DIM)


class NormGate(RegionDecision):
    """Plane-free control: every output vector scaled by a gate from rotation-invariant norms of the input.

    `g = sigmoid(W |x| + b)` (`|x|` `[B, C_in, ...]` the channel norms, W `[C_out, C_in]`, b `[C_out]`);
    `out = q (a + (1 - a) g)`, so the slope a plays the role of the leak (a vector is never rotated, only
    shrunk). Exactly SO(3)-equivariant (and O(3)). Parameters: `C_in C_out + C_out`, as `per_channel` plus b.
    """

    def __init__(self, in_channels, out_channels=None):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.gate = nn.Linear(in_channels, out_channels)

    def forward(self, x):
        norms = safe_norm(x, dim=VEC_DIM, keepdim=False).reshape(x.shape[0], x.shape[1], -1)   # [B, C_in, M]
        logits = torch.matmul(self.gate.weight, norms) + self.gate.bias.view(1, -1, 1)
        return torch.sigmoid(logits).view(x.shape[0], -1, 1, *x.shape[3:])    # [B, C_out, 1, ...]

    def activate(self, q, gate, negative_slope):
        return q * (negative_slope + (1.0 - negative_slope) * gate)
