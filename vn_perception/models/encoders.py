"""Vector Neuron encoders: `points [B, N, 3] -> (invariant [B, F], equivariant [B, C, 3])`.

- `FastVNEncoder` (`fast_vn`): real time on a 2-core CPU. One kNN graph; the per-neighbour work is reduced to
  closed-form local moments (centroid offset, covariance acting on vectors), so every VN layer runs per
  point, never per edge.
- `VNPointNetEncoder` (`vn_pointnet`) and `VNDGCNNEncoder` (`vn_dgcnn`): the paper's channel plans
  (Deng et al. 2021; reference code vn_pointnet.py and vn_dgcnn_cls.py, channel counts 64//3 = 21, ...).

The invariant output feeds the classification head; the equivariant one (pooled vectors) feeds the
orientation head. Every encoder is SO(3)-equivariant / invariant about the origin: callers centre the cloud.
"""
import torch
from torch import nn

from vn_perception.constants import EPS
from vn_perception.vn import (
    VNBatchNorm, VNInvariant, VNLinear, VNLinearBNLeakyReLU, VNMaxPool, edge_features, frame_project, knn,
    mean_pool,
)


def to_vn(points):
    """`[B, N, 3]` points -> VN features `[B, 1, 3, N]`."""
    return points.transpose(1, 2).unsqueeze(1)


#: Floor of the (max-shifted) log-weights in `kernel_moment_features`.
_LOG_FLOOR = 60.0


def _moment_channels(points, centroid, second_moment):
    """VN channels `[B, 5, 3, N]` from each point's local centroid c `[B, N, 3]` and raw second moment
    `M = E[n n^T]` `[B, N, 3, 3]` (weights summing to one).

    With `cov = M - c c^T` and `r^2` the mean of `tr(cov)` over the object's points (an invariant patch
    size, clamped at EPS), the channels are `p`, `d = (c - p) / r`, `p x d`, `S p`, `S d` with `S = cov / r^2`.
    A per-object r keeps isolated points (tiny cov) from amplifying rounding noise; all channels are bounded.
    """
    cov = second_moment - centroid.unsqueeze(-1) * centroid.unsqueeze(-2)               # [B, N, 3, 3]
    trace = torch.diagonal(cov, dim1=-2, dim2=-1).sum(-1)                               # [B, N]
    r2 = trace.mean(-1).clamp_min(EPS).view(-1, 1, 1)                                   # [B, 1, 1]
    d = (centroid - points) / r2.sqrt()
    pd = torch.stack((points, d), dim=2)                                                # [B, N, 2, 3]
    s_pd = torch.einsum("bnij,bnvj->bnvi", cov, pd) / r2.unsqueeze(-1)                  # S p, S d
    feats = torch.cat((pd, torch.linalg.cross(points, d, dim=-1).unsqueeze(2), s_pd), dim=2)  # [B, N, 5, 3]
    return feats.permute(0, 2, 3, 1)                                                    # [B, 5, 3, N]


def local_moment_features(points, idx):
    """Local VN features of every point from its kNN patch `idx [B, N, k]`: `[B, 5, 3, N]`.

    With p the point, c the centroid of its k neighbours and S their covariance, both scaled by the object's
    mean patch size (see `_moment_channels`), the channels are `p`, `c - p`, `p x (c - p)`, `S p`,
    `S (c - p)`. All are equivariant (S rotates as `R S R^T`) and dimensionless in the patch.
    """
    b, n, _ = points.shape
    k = idx.shape[-1]
    nb = points.gather(1, idx.reshape(b, n * k, 1).expand(b, n * k, 3)).view(b, n, k, 3)   # [B, N, k, 3]
    second = torch.einsum("bnki,bnkj->bnij", nb, nb) / k
    return _moment_channels(points, nb.mean(dim=2), second)


def kernel_moment_features(points, radius=0.25, candidates=None):
    """Local VN features with Gaussian neighbourhoods instead of kNN: `[B, 5, 3, N]`, no sorting, no ties.

    Weights `w_ij = exp(-|p_i - p_j|^2 / (2 radius^2))` normalised over j (radius in the units of `points`;
    the network feeds unit-RMS-radius clouds) give each point a local centroid and second moment by one
    batched matmul; channels as `local_moment_features`. The weights are rotation invariant, so the features
    are exactly equivariant, and smooth in the input (no neighbour flips in float32).

    candidates: if set and smaller than N, the neighbourhoods are estimated from that many points taken at
    evenly spaced indices (cost `N x candidates` instead of `N x N`; indices do not depend on coordinates,
    so equivariance is kept; the result then depends on the order of the points).
    """
    b, n, _ = points.shape
    support = points
    if candidates is not None and n > candidates:
        index = torch.linspace(0, n - 1, int(candidates), device=points.device).round().long()
        support = points.index_select(1, index)
    # softmax_j(-|p_i - p_j|^2 / 2r^2) = softmax_j((<p_i, p_j> - |p_j|^2 / 2) / r^2): one matmul with an
    # appended coordinate ([p_i, 1] . [p_j / r^2, -|p_j|^2 / 2r^2]).
    inv_r2 = 1.0 / (radius * radius)
    ones = torch.ones_like(points[..., :1])
    keys = torch.cat((support * inv_r2, (support * support).sum(-1, keepdim=True) * (-0.5 * inv_r2)), dim=-1)
    logits = torch.bmm(torch.cat((points, ones), dim=-1), keys.transpose(1, 2))                   # [B, N, M]
    # Softmax with the exponent floored at -_LOG_FLOOR: exp of far points would otherwise be float32
    # denormals (e^-88 .. e^-104), which are 10x slower to compute with on x86; their weight is < 1e-26.
    logits = (logits - logits.amax(-1, keepdim=True)).clamp_min_(-_LOG_FLOOR).exp_()
    w = logits / logits.sum(-1, keepdim=True)
    outer = (support.unsqueeze(-1) * support.unsqueeze(-2)).reshape(b, support.shape[1], 9)
    moments = torch.bmm(w, torch.cat((support, outer), dim=-1))                                   # [B, N, 12]
    return _moment_channels(points, moments[..., :3], moments[..., 3:].reshape(b, n, 3, 3))


class FastVNEncoder(nn.Module):
    """Real-time VN encoder (`fast_vn`).

    points `[B, N, 3]` -> local moment features `[B, 5, 3, N]` (`neighbourhood="kernel"`: Gaussian weights of
    `radius` estimated from `candidates` evenly spaced points, no kNN; `"knn"`: one kNN graph of `k`) ->
    per-point VN blocks `widths[:-1]` -> concatenate the mean over points -> one VN block `widths[-1]` ->
    mean pool `g`. All VN work is per point (never per edge); the kernel step costs `N x candidates`.
    An equivariant frame F from g (VNInvariant without hidden layers) gives per-point invariants `F^T h`,
    max- and mean-pooled: invariant `[B, 6 * widths[-1]]`; equivariant `g` `[B, widths[-1], 3]`.
    """

    def __init__(self, widths=(32, 32, 64), k=16, negative_slope=0.2, direction="per_channel",
                 neighbourhood="kernel", radius=0.25, candidates=128):
        super().__init__()
        widths = list(widths)
        if neighbourhood not in ("kernel", "knn"):
            raise ValueError(f"neighbourhood must be 'kernel' or 'knn', got {neighbourhood!r}")
        self.neighbourhood = neighbourhood
        self.radius = float(radius)
        self.candidates = None if candidates is None else int(candidates)
        if len(widths) < 2:
            raise ValueError("fast_vn needs at least two widths (per-point layers, then the global layer)")
        self.k = int(k)
        layers, c = [], 5
        for w in widths[:-1]:
            layers.append(VNLinearBNLeakyReLU(c, w, negative_slope, direction))
            c = w
        self.point_layers = nn.Sequential(*layers)
        self.global_layer = VNLinearBNLeakyReLU(2 * c, widths[-1], negative_slope, direction)
        self.invariant = VNInvariant(widths[-1], hidden=())
        self.invariant_features = 6 * widths[-1]
        self.equivariant_channels = widths[-1]

    def forward(self, points):
        if self.neighbourhood == "kernel":
            feats = kernel_moment_features(points, self.radius, self.candidates)
        else:
            feats = local_moment_features(points, knn(points, self.k))
        h = self.point_layers(feats)                                         # [B, C, 3, N]
        h = self.global_layer(h, context=mean_pool(h))                       # cat([h, mean h]) -> [B, C2, 3, N]
        g = mean_pool(h)                                                     # [B, C2, 3]
        frame = self.invariant.frame(g)                                      # [B, 3, 3]
        inv = frame_project(h, frame).flatten(1, 2)                          # [B, 3 C2, N]
        inv_mean = frame_project(g, frame).flatten(1, 2)                     # = inv.mean(-1) (F^T is linear)
        return torch.cat((inv.amax(-1), inv_mean), dim=1), g


class VNPointNetEncoder(nn.Module):
    """VN-PointNet (paper-faithful channel plan, reference `vn_pointnet.py`).

    kNN (k=20) cross edge features `[B, 3, 3, N, k]` -> block 3->21 (ReLU) -> mean over neighbours ->
    21->21 -> feature transform (21->21->42->341, pool, 341->170->85->21, broadcast and concatenated) ->
    42->42 -> VN linear 42->341 + VN batch norm -> concatenate the mean -> VNInvariant(682) ->
    `[B, 2046, N]` -> max over points. Equivariant output: mean of the 341-channel features.
    """

    def __init__(self, k=20, negative_slope=0.0, direction="per_channel", pooling="mean"):
        super().__init__()
        a = negative_slope
        self.k = int(k)
        self.pool = VNMaxPool(21) if pooling == "max" else None
        self.conv_pos = VNLinearBNLeakyReLU(3, 21, a, direction)
        self.conv1 = VNLinearBNLeakyReLU(21, 21, a, direction)
        self.fstn = VNFeatureTransform(21, negative_slope=a, direction=direction)
        self.conv2 = VNLinearBNLeakyReLU(42, 42, a, direction)
        self.conv3 = VNLinear(42, 341)
        self.bn3 = VNBatchNorm(341)
        self.invariant = VNInvariant(682, negative_slope=a, direction=direction)
        self.invariant_features = 682 * 3
        self.equivariant_channels = 341

    def forward(self, points):
        x = to_vn(points)
        e = self.conv_pos(edge_features(x, knn(points, self.k), cross=True))   # [B, 21, 3, N, k]
        x = self.pool(e) if self.pool is not None else mean_pool(e)
        x = self.conv1(x)
        t = self.fstn(x)                                                         # [B, 21, 3]
        x = self.conv2(torch.cat((x, t.unsqueeze(-1).expand_as(x)), dim=1))
        x = self.bn3(self.conv3(x))                                              # [B, 341, 3, N]
        g = mean_pool(x)
        x = torch.cat((x, g.unsqueeze(-1).expand_as(x)), dim=1)                  # [B, 682, 3, N]
        inv, _ = self.invariant(x)
        return inv.flatten(1, 2).amax(-1), g


class VNFeatureTransform(nn.Module):
    """The VN feature transform of VN-PointNet (STNkd): `[B, C, 3, N] -> [B, C, 3]` global vectors."""

    def __init__(self, channels, negative_slope=0.0, direction="per_channel"):
        super().__init__()
        a = negative_slope
        self.convs = nn.Sequential(
            VNLinearBNLeakyReLU(channels, 21, a, direction), VNLinearBNLeakyReLU(21, 42, a, direction),
            VNLinearBNLeakyReLU(42, 341, a, direction))
        self.fcs = nn.Sequential(
            VNLinearBNLeakyReLU(341, 170, 0.2, direction), VNLinearBNLeakyReLU(170, 85, 0.2, direction),
            VNLinear(85, channels))

    def forward(self, x):
        return self.fcs(mean_pool(self.convs(x)))


class VNDGCNNEncoder(nn.Module):
    """VN-DGCNN (paper-faithful channel plan, reference `vn_dgcnn_cls.py`).

    Four edge blocks on dynamic kNN graphs (k=20, features `[x_j - x_i, x_i]`, no cross product):
    2->21, 42->21, 42->42, 84->85, each mean-pooled over neighbours; concatenation 169 -> 341 with a shared
    decision direction; concatenate the mean -> VNInvariant(682) -> `[B, 2046, N]` -> max and mean over
    points `[B, 4092]`. The first graph is built on the points, the next ones on the features.
    """

    def __init__(self, k=20, negative_slope=0.2, direction="per_channel", pooling="mean"):
        super().__init__()
        a = negative_slope
        self.k = int(k)
        self.pooling = pooling
        plan = [(2, 21), (42, 21), (42, 42), (84, 85)]
        self.edge_convs = nn.ModuleList(VNLinearBNLeakyReLU(i, o, a, direction) for i, o in plan)
        self.pools = nn.ModuleList(VNMaxPool(o) for _, o in plan) if pooling == "max" else None
        self.conv5 = VNLinearBNLeakyReLU(169, 341, a, "shared")
        self.invariant = VNInvariant(682, negative_slope=a, direction=direction)
        self.invariant_features = 682 * 3 * 2
        self.equivariant_channels = 341

    def forward(self, points):
        x = to_vn(points)
        outs = []
        for i, conv in enumerate(self.edge_convs):
            idx = knn(points if i == 0 else x, self.k)
            e = conv(edge_features(x, idx, cross=False))
            x = self.pools[i](e) if self.pools is not None else mean_pool(e)
            outs.append(x)
        x = self.conv5(torch.cat(outs, dim=1))                                   # [B, 341, 3, N]
        g = mean_pool(x)
        x = torch.cat((x, g.unsqueeze(-1).expand_as(x)), dim=1)
        inv, _ = self.invariant(x)
        inv = inv.flatten(1, 2)                                                  # [B, 2046, N]
        return torch.cat((inv.amax(-1), inv.mean(-1)), dim=1), g


__all__ = ["FastVNEncoder", "VNPointNetEncoder", "VNDGCNNEncoder", "VNFeatureTransform", "local_moment_features",
           "kernel_moment_features",
           "to_vn"]
