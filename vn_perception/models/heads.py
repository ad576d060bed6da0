"""Output heads: invariant classification MLP, equivariant orientation (VN), 6-D regression (baselines)."""
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
        layers, c = [], in_features + 3 * channels
        for h in hidden:
            layers += [nn.Linear(c, h), nn.LeakyReLU(negative_slope)]
            c = h
        last = nn.Linear(c, 6)
        with torch.no_grad():
            last.weight.mul_(0.01)
            last.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))
        self.mlp = nn.Sequential(*layers, last)

    def forward(self, equi, inv):
        u = self.to_frame(equi)                                            # [B, 2, 3]
        frame = gram_schmidt(u[:, 0], u[:, 1], dim=1)                      # [B, 3, 3]
        z = torch.cat((inv, frame_project(equi, frame).flatten(1)), dim=1)
        r = self.mlp(z).view(-1, 2, 3)
        return frame @ gram_schmidt(r[:, 0], r[:, 1], dim=1)


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
