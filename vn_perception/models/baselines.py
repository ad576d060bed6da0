"""Non-equivariant baselines: PointNet and DGCNN encoders, `points [B, N, 3] -> (features [B, F], None)`.

They see raw coordinates, so they are neither rotation invariant nor equivariant (the point of comparing
them); `None` as the equivariant output makes the network use a 6-D rotation regression head.
"""
import torch
from torch import nn

from vn_perception.vn import gather_neighbours, knn


def _conv(c_in, c_out, dims=1, negative_slope=None):
    conv = nn.Conv1d if dims == 1 else nn.Conv2d
    bn = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
    act = nn.ReLU() if negative_slope is None else nn.LeakyReLU(negative_slope)
    return nn.Sequential(conv(c_in, c_out, 1, bias=False), bn(c_out), act)


class PointNetEncoder(nn.Module):
    """PointNet without input/feature transforms: shared MLP 3->64->128->1024 per point, max over points."""

    def __init__(self, widths=(64, 128, 1024)):
        super().__init__()
        layers, c = [], 3
        for w in widths:
            layers.append(_conv(c, w))
            c = w
        self.net = nn.Sequential(*layers)
        self.invariant_features = c
        self.equivariant_channels = None

    def forward(self, points):
        return self.net(points.transpose(1, 2)).amax(-1), None


class DGCNNEncoder(nn.Module):
    """DGCNN: EdgeConv 64, 64, 128, 256 on dynamic kNN graphs (k=20, `[x_j - x_i, x_i]`, max over neighbours),
    concatenation -> 1024 -> max and mean over points `[B, 2048]`. Leaky ReLU 0.2 as the reference."""

    def __init__(self, widths=(64, 64, 128, 256), k=20, embed=1024):
        super().__init__()
        self.k = int(k)
        convs, c = [], 3
        for w in widths:
            convs.append(_conv(2 * c, w, dims=2, negative_slope=0.2))
            c = w
        self.edge_convs = nn.ModuleList(convs)
        self.embed = _conv(sum(widths), embed, negative_slope=0.2)
        self.invariant_features = 2 * embed
        self.equivariant_channels = None

    def forward(self, points):
        x = points.transpose(1, 2)                                          # [B, 3, N]
        outs = []
        for conv in self.edge_convs:
            idx = knn(x.unsqueeze(2), self.k)                               # distances over all C features
            nb = gather_neighbours(x.unsqueeze(2), idx).squeeze(2)          # [B, C, N, k]
            centre = x.unsqueeze(-1).expand_as(nb)
            x = conv(torch.cat((nb - centre, centre), dim=1)).amax(-1)      # [B, C', N]
            outs.append(x)
        x = self.embed(torch.cat(outs, dim=1))
        return torch.cat((x.amax(-1), x.mean(-1)), dim=1), None
