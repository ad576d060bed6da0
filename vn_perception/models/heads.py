"""Output heads: invariant classification MLP, equivariant orientation (VN, frame x MLP, multi-hypothesis),
6-D regression (baselines)."""
import itertools

import numpy as np
import torch
from torch import nn

from vn_perception.vn import VNLinear, VNLinearBNLeakyReLU, frame_project, gram_schmidt


def mlp(in_features, hidden, out_features, dropout=0.0, negative_slope=0.2):
    """`Linear -> BatchNorm1d -> LeakyReLU -> Dropout` per hidden width, then a plain `Linear`."""
    layers, c = [], in_features
    for h in hidden:
        layers += [nn.Linear(c, h, bias=False), nn.BatchNorm1d(h), nn.LeakyReLU(negative_slope)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        c = h
    layers.append(nn.Linear(c, out_features))
    return nn.Sequential(*layers)


class ClassificationHead(nn.Module):
    """Invariant features `[B, F]` -> class logits `[B, K]` (MLP with batch norm, leaky ReLU, dropout).

    Dropout acts on invariant scalars only (dropping vector coordinates would break equivariance).
    """

    def __init__(self, in_features, num_classes, hidden=(256, 128), dropout=0.3, negative_slope=0.2):
        super().__init__()
        self.net = mlp(in_features, hidden, num_classes, dropout, negative_slope)

    def forward(self, features):
        return self.net(features)


class VNOrientationHead(nn.Module):
    """Equivariant pooled features `[B, C, 3]` -> rotation `[B, 3, 3]` (object -> sensor frame).

    Optional VN blocks (no batch norm, so a batch of one trains), then a VN linear to two vectors u1, u2 and
    Gram-Schmidt: `R = [e1, e2, e1 x e2]` (columns = normalised predicted object axes x, y, z in the sensor
    frame). Exactly equivariant: rotating the input cloud by Q gives `Q R`; det R = +1.
    """

    def __init__(self, channels, hidden=(), negative_slope=0.2, direction="per_channel"):
        super().__init__()
        layers, c = [], channels
        for h in hidden:
            layers.append(VNLinearBNLeakyReLU(c, h, negative_slope, direction, batch_norm=False))
            c = h
        self.net = nn.Sequential(*layers)
        self.to_axes = VNLinear(c, 2)

    def forward(self, equi):
        u = self.to_axes(self.net(equi))                 # [B, 2, 3]
        return gram_schmidt(u[:, 0], u[:, 1], dim=1)


def _leaky_layers(in_features, hidden, negative_slope):
    """`Linear -> LeakyReLU` per hidden width (no batch norm: a batch of one trains) -> (layers, out width)."""
    layers, c = [], in_features
    for h in hidden:
        layers += [nn.Linear(c, h), nn.LeakyReLU(negative_slope)]
        c = h
    return layers, c


def _frame_and_features(to_frame, equi, inv):
    """Equivariant frame F `[B, 3, 3]` (Gram-Schmidt of the two VN-linear vectors `to_frame(equi)`) and the
    invariant head input `[B, F + 3 C]`: the invariant features and the pooled vectors' coordinates in F."""
    u = to_frame(equi)                                                     # [B, 2, 3]
    frame = gram_schmidt(u[:, 0], u[:, 1], dim=1)                          # [B, 3, 3]
    return frame, torch.cat((inv, frame_project(equi, frame).flatten(1)), dim=1)


class FrameMLPOrientationHead(nn.Module):
    """Equivariant frame times an invariant correction: `R = F(equi) @ R_inv(inv, F^T equi)`, `[B, 3, 3]`.

    F = Gram-Schmidt of two VN-linear vectors of the pooled equivariant features `[B, C, 3]` (rotates with the
    input); R_inv = Gram-Schmidt of 6 numbers from an MLP on the invariant features `[B, F]` and the
    coordinates of the pooled features in F (`F^T equi`, invariant, so the MLP knows F). Rotating the input by
    Q gives `Q F R_inv`: exactly equivariant, det +1. The MLP starts at R_inv = I (identity bias, small last
    weights), i.e. at the plain VN head. Config `orientation: frame_mlp` (`orientation_hidden`: MLP widths).
    """

    def __init__(self, channels, in_features, hidden=(256,), negative_slope=0.2):
        super().__init__()
        self.to_frame = VNLinear(channels, 2)
        layers, c = _leaky_layers(in_features + 3 * channels, hidden, negative_slope)
        last = nn.Linear(c, 6)
        with torch.no_grad():
            last.weight.mul_(0.01)
            last.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))
        self.mlp = nn.Sequential(*layers, last)

    def forward(self, equi, inv):
        frame, z = _frame_and_features(self.to_frame, equi, inv)
        r = self.mlp(z).view(-1, 2, 3)
        return frame @ gram_schmidt(r[:, 0], r[:, 1], dim=1)


def spread_rotations(k):
    """`k` (1..24) distinct rotations of the cube group as float64 `[k, 3, 3]`, the most different first.

    Order: identity; 180 degrees about x, y, z (the front/back and top/bottom flips that nearly symmetric
    objects are confused by); +-90 degrees about x, y, z; then the 120/240-degree turns about the cube
    diagonals and the 180-degree turns about the face diagonals. The initial hypotheses of
    `MultiFrameOrientationHead`: spread over SO(3), so winner-takes-all training starts with hypotheses that
    already cover the likely confusions instead of K copies of one rotation.
    """
    if not 1 <= k <= 24:
        raise ValueError(f"need 1 <= hypotheses <= 24, got {k}")
    group = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[list(range(3)), list(perm)] = signs
            if np.linalg.det(m) > 0:
                group.append(m)

    def rank(m):
        angle = np.arccos(np.clip((np.trace(m) - 1.0) / 2.0, -1.0, 1.0))
        axis = np.array([m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1]])
        if angle < 1e-6:
            return (0, 0.0)
        if abs(angle - np.pi) < 1e-6:           # 180 degrees: the axis from the symmetric part
            axis = np.sqrt(np.clip((np.diag(m) + 1.0) / 2.0, 0.0, None))
            coordinate = int(np.count_nonzero(axis > 1e-6)) == 1
            return (1, float(np.argmax(axis))) if coordinate else (4, float(np.argmax(axis) + 3 * (axis[2] > 0)))
        if abs(angle - np.pi / 2) < 1e-6:       # +-90 degrees about a coordinate axis
            i = int(np.argmax(np.abs(axis)))
            return (2, i + (3 if axis[i] < 0 else 0))
        return (3, float(np.dot(np.sign(axis), [4.0, 2.0, 1.0])))   # 120/240 degrees about a cube diagonal

    group.sort(key=rank)
    return np.stack(group[:k])


class MultiFrameOrientationHead(nn.Module):
    """K rotation hypotheses `F R_k` `[B, K, 3, 3]` and K invariant confidence logits `[B, K]`.

    F = Gram-Schmidt frame of two VN-linear vectors of the pooled equivariant features `[B, C, 3]` (as in
    `FrameMLPOrientationHead`); an MLP on the invariant features `[B, F]` and `F^T equi` gives, per hypothesis,
    6 numbers -> R_k (Gram-Schmidt, invariant) and a prior logit. The confidence logit of hypothesis k is that
    prior plus a verifier score: a small MLP shared by all hypotheses looks at the pooled features in the
    hypothesis' own frame, `(F R_k)^T equi` `[B, C, 3]` (with the invariant features), and scores how well the
    object "looks canonical" in it (the frame enters detached: the confidence loss does not move the
    hypotheses). Rotating the input by Q gives `Q F R_k` for every k and the same logits: exactly
    equivariant, det +1.

    Why: a nearly symmetric object (wood block, clamps, pitcher, mug seen from the wrong side) has two or
    more plausible orientations; one regressed rotation trained with a mean loss settles between them.
    Trained with `models.symmetry.multi_hypothesis_loss` (relaxed winner-takes-all + confidence
    cross-entropy). The hypotheses start at `spread_rotations(K)` (identity bias, small last weights) so
    they begin distinct. `ObjectNet` returns the most confident one as `rotation`.
    Config `orientation: multi_frame`, `orientation_hypotheses: K`, `orientation_hidden`: MLP widths.
    """

    def __init__(self, channels, in_features, hidden=(256,), hypotheses=8, negative_slope=0.2, verifier_hidden=128):
        super().__init__()
        self.hypotheses = int(hypotheses)
        self.to_frame = VNLinear(channels, 2)
        layers, c = _leaky_layers(in_features + 3 * channels, hidden, negative_slope)
        self.trunk = nn.Sequential(*layers)
        self.to_rotations = nn.Linear(c, 6 * self.hypotheses)
        self.to_confidence = nn.Linear(c, self.hypotheses)
        start = torch.as_tensor(spread_rotations(self.hypotheses), dtype=torch.float32)     # [K, 3, 3]
        with torch.no_grad():
            self.to_rotations.weight.mul_(0.01)
            self.to_rotations.bias.copy_(start[:, :, :2].transpose(1, 2).reshape(-1))    # columns 1, 2 per k
            self.to_confidence.weight.mul_(0.01)
            self.to_confidence.bias.zero_()
        self.verifier = nn.Sequential(nn.Linear(in_features + 3 * channels, verifier_hidden),
                                      nn.LeakyReLU(negative_slope), nn.Linear(verifier_hidden, 1))

    def forward(self, equi, inv):
        """equi `[B, C, 3]`, inv `[B, F]` -> (hypotheses `[B, K, 3, 3]`, confidence logits `[B, K]`)."""
        frame, features = _frame_and_features(self.to_frame, equi, inv)
        z = self.trunk(features)
        r = self.to_rotations(z).view(-1, self.hypotheses, 2, 3)           # [B, K, 2, 3]
        corrections = gram_schmidt(r[:, :, 0], r[:, :, 1], dim=2)          # [B, K, 3, 3]
        hypotheses = frame.unsqueeze(1) @ corrections                      # [B, K, 3, 3]
        seen = torch.einsum("bci,bkij->bkcj", equi, hypotheses.detach())   # [B, K, C, 3]: equi in each frame
        b, k = seen.shape[:2]
        verify = torch.cat((inv.unsqueeze(1).expand(b, k, inv.shape[1]), seen.flatten(2)), dim=2)
        return hypotheses, self.to_confidence(z) + self.verifier(verify).squeeze(2)


class Rotation6DHead(nn.Module):
    """Non-equivariant baseline: features `[B, F]` -> 6 numbers -> two vectors -> Gram-Schmidt `[B, 3, 3]`."""

    def __init__(self, in_features, hidden=256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 6))
        with torch.no_grad():   # start near the identity: u1 ~ x, u2 ~ y
            self.net[-1].bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def forward(self, features):
        u = self.net(features).view(-1, 2, 3)
        return gram_schmidt(u[:, 0], u[:, 1], dim=1)


class CanonicalRefiner(nn.Module):
    """A second look at every rotation hypothesis, from the points themselves: `[B, K, 3, 3]` -> refined + logits.

    For hypothesis R_k (object -> sensor) the points `[B, N, 3]` (centred, unit RMS size; the first
    `points` of them, which are in random order) are expressed in that hypothesis' object frame, `R_k^T x`:
    the object as it would look if R_k were right. A point MLP shared by all hypotheses (per-point layers,
    max pool: PointNet) plus the invariant features gives, per hypothesis, 6 numbers -> a correction dR_k
    (Gram-Schmidt; starts at the identity) and a score. Outputs `R_k dR_k` `[B, K, 3, 3]` and the logits
    `prior + score` `[B, K]`. A flip that the pooled VN features cannot tell apart (the handle of a mug
    seen on the wrong side) is plain in canonical coordinates, and the residual fixes the last degrees.

    Exactly equivariant: rotating the input by Q turns R_k into Q R_k, so `R_k^T x` and dR_k do not change
    and the output is `Q R_k dR_k`. The hypotheses and the prior enter detached (the refiner's loss does not
    move the coarse head). Config `refine: canonical`, `refine_points`, `refine_point_hidden`, `refine_hidden`.
    """

    def __init__(self, in_features, points=128, point_hidden=(64, 128), hidden=(256,), negative_slope=0.2):
        super().__init__()
        self.points = int(points)
        layers, c = _leaky_layers(3, point_hidden, negative_slope)
        self.point_mlp = nn.Sequential(*layers)
        layers, c = _leaky_layers(c + in_features, hidden, negative_slope)
        last = nn.Linear(c, 7)                               # score, then the two correction vectors
        with torch.no_grad():
            last.weight.mul_(0.01)
            last.bias.copy_(torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))
        self.mlp = nn.Sequential(*layers, last)

    def forward(self, points, hypotheses, inv, prior):
        """points `[B, N, 3]`, hypotheses `[B, K, 3, 3]`, inv `[B, F]`, prior logits `[B, K]`
        -> (refined hypotheses `[B, K, 3, 3]`, logits `[B, K]`)."""
        hypotheses = hypotheses.detach()
        b, k = hypotheses.shape[:2]
        canonical = torch.einsum("bni,bkij->bknj", points[:, :self.points], hypotheses)    # [B, K, M, 3]
        pooled = self.point_mlp(canonical).amax(dim=2)                                     # [B, K, H]
        out = self.mlp(torch.cat((pooled, inv.unsqueeze(1).expand(b, k, inv.shape[1])), dim=2))   # [B, K, 7]
        correction = gram_schmidt(out[..., 1:4], out[..., 4:7], dim=2)                    # [B, K, 3, 3]
        return hypotheses @ correction, prior.detach() + out[..., 0]
