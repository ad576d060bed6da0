"""k-nearest-neighbour graphs and VN edge features (device-agnostic, no Python loops)."""
import torch


def _as_channels_first(points):
    """`[B, N, 3]`, `[B, 3, N]` or VN features `[B, C, 3, N]` -> `[B, D, N]` coordinates per point."""
    if points.dim() == 4:                       # VN features [B, C, 3, N]: distances over all coordinates
        return points.reshape(points.shape[0], -1, points.shape[-1])
    if points.dim() != 3:
        raise ValueError(f"knn expects [B, N, 3], [B, 3, N] or [B, C, 3, N], got {tuple(points.shape)}")
    if points.shape[-1] == 3:                   # [B, N, 3] (also chosen when N == 3)
        return points.transpose(1, 2)
    if points.shape[1] == 3:
        return points
    raise ValueError(f"knn expects [B, N, 3] or [B, 3, N] points, got {tuple(points.shape)}")


def knn(points, k):
    """Indices of the k nearest neighbours of every point (itself included, at distance 0): `[B, N, k]`.

    points: `[B, N, 3]` or `[B, 3, N]` (`[B, N, 3]` is assumed when N == 3), or features `[B, C, D, N]`
    (e.g. VN features `[B, C, 3, N]`, or scalar features `[B, C, 1, N]`: distance over all C x D coordinates,
    rotation invariant for VN features). Compute once and pass the result to every layer
    that uses the same graph. Ranks `|x_j|^2 - 2 <x_i, x_j>` (the squared distance minus the constant
    `|x_i|^2`) with one batched matmul and `topk`. Rotation invariant up to rounding: in float32 near-ties
    may swap neighbours under rotation; float64 is exact in practice. k is capped at N.
    """
    x = _as_channels_first(points)                               # [B, D, N]
    k = min(int(k), x.shape[-1])
    sq = (x * x).sum(dim=1, keepdim=True)                        # [B, 1, N]
    score = sq - 2.0 * torch.bmm(x.transpose(1, 2), x)           # [B, N, N]: |x_j|^2 - 2 <x_i, x_j>
    return score.topk(k, dim=-1, largest=False, sorted=True).indices


def gather_neighbours(x, idx):
    """`x [B, C, 3, N]`, `idx [B, N, k]` -> neighbours `[B, C, 3, N, k]` (`out[..., i, j] = x[..., idx[i, j]]`)."""
    b, c, d, n = x.shape
    k = idx.shape[-1]
    flat = x.reshape(b, c * d, n)
    index = idx.reshape(b, 1, -1).expand(b, c * d, idx.shape[1] * k)
    return flat.gather(2, index).reshape(b, c, d, idx.shape[1], k)


def edge_features(x, idx, cross=True):
    """VN edge features of the graph idx: `[v_j - v_i, v_i, v_j x v_i]` channel-stacked.

    x: `[B, C, 3, N]`; idx: `[B, N, k]` (from `knn`). Returns `[B, 3C, 3, N, k]` (`cross=True`) or
    `[B, 2C, 3, N, k]`. The cross product makes the features SO(3)- but not O(3)-equivariant: a reflection
    S gives `S a x S b = det(S) S (a x b) = -S (a x b)`.
    """
    neighbours = gather_neighbours(x, idx)                       # v_j
    centre = x.unsqueeze(-1).expand_as(neighbours)               # v_i
    feats = [neighbours - centre, centre]
    if cross:
        feats.append(torch.linalg.cross(neighbours, centre, dim=2))
    return torch.cat(feats, dim=1)
