"""`ObjectNet`: encoder + invariant classification head + orientation head, one forward pass per batch."""
import torch
from torch import nn

from vn_perception.constants import EPS
from vn_perception.models.heads import (
    CanonicalRefiner, ClassificationHead, FrameMLPOrientationHead, MultiFrameOrientationHead, Rotation6DHead,
    VNOrientationHead,
)

#: Values of the config key `refine`: none, or `CanonicalRefiner` on the `multi_frame` hypotheses.
REFINERS = ("none", "canonical")


class ObjectNet(nn.Module):
    """`points [B, N, 3]` (metres, sensor frame) -> `{"logits": [B, K], "rotation": [B, 3, 3]}`
    (`multi_frame` also `"hypotheses": [B, H, 3, 3]` and `"confidence": [B, H]` logits).

    1. centre (`center`): subtract the centroid (equivariant, so rotations about the centroid are handled);
    2. normalise the size (`normalize_scale`): divide by the RMS radius s (invariant) so the trunk sees
       unit-size clouds, and append `log(s / 1 m)` to the invariant features (the head still sees the size);
    3. encoder -> invariant `[B, F]` and equivariant `[B, C, 3]` (None for baselines);
    4. logits from the invariant features; rotation from the equivariant features (VN encoders, `orientation`
       `vn`: VN linear + Gram-Schmidt; `frame_mlp`: that frame times an invariant MLP correction;
       `multi_frame`: H such hypotheses plus invariant confidence logits, `rotation` = the most confident;
       all exactly equivariant, rotating the input by Q gives `Q R`) or a 6-D regression (baselines);
    5. `refine: canonical` (`multi_frame` only): `CanonicalRefiner` looks at the points in each hypothesis'
       frame and returns corrected hypotheses and new confidences (the head's own are kept as
       `"coarse_hypotheses"`, `"coarse_confidence"` for its loss); `rotation` = the most confident refined one.

    `rotation` maps object-frame coordinates to sensor-frame coordinates (columns: the object axes).
    """

    def __init__(self, encoder, num_classes, head_hidden=(256, 128), dropout=0.3, negative_slope=0.2,
                 orientation_hidden=(), direction="per_channel", center=True, normalize_scale=True, config=None,
                 orientation="vn", orientation_hypotheses=8, refine="none", refine_points=128,
                 refine_point_hidden=(64, 128), refine_hidden=(256,)):
        super().__init__()
        self.encoder = encoder
        self.center = bool(center)
        self.normalize_scale = bool(normalize_scale)
        features = encoder.invariant_features + (1 if self.normalize_scale else 0)
        self.classifier = ClassificationHead(features, num_classes, head_hidden, dropout, negative_slope)
        self.orientation_kind = orientation if encoder.equivariant_channels else "6d"
        if self.orientation_kind == "vn":
            self.orientation = VNOrientationHead(encoder.equivariant_channels, orientation_hidden,
                                                 negative_slope, direction)
        elif self.orientation_kind == "frame_mlp":
            self.orientation = FrameMLPOrientationHead(encoder.equivariant_channels, features, orientation_hidden,
                                                       negative_slope)
        elif self.orientation_kind == "multi_frame":
            self.orientation = MultiFrameOrientationHead(encoder.equivariant_channels, features, orientation_hidden,
                                                         orientation_hypotheses, negative_slope)
        elif self.orientation_kind == "6d":
            self.orientation = Rotation6DHead(features)
        else:
            raise ValueError(f"unknown orientation head {orientation!r}: expected vn | frame_mlp | multi_frame")
        if refine not in REFINERS:
            raise ValueError(f"unknown refine {refine!r}: expected one of {', '.join(REFINERS)}")
        if refine != "none" and self.orientation_kind != "multi_frame":
            raise ValueError(f"refine {refine!r} needs orientation 'multi_frame' (a VN encoder), "
                             f"got {self.orientation_kind!r}")
        self.refiner = (CanonicalRefiner(features, refine_points, refine_point_hidden, refine_hidden, negative_slope)
                        if refine == "canonical" else None)
        self.num_classes = int(num_classes)
        self.config = dict(config or {})

    def forward(self, points):
        if points.dim() != 3 or points.shape[-1] != 3:
            raise ValueError(f"expected points [B, N, 3], got {tuple(points.shape)}")
        if self.center:
            points = points - points.mean(dim=1, keepdim=True)
        if self.normalize_scale:
            scale = (points * points).sum(-1).mean(-1).clamp_min(EPS * EPS).sqrt()     # [B] metres
            points = points / scale.view(-1, 1, 1)
        inv, equi = self.encoder(points)
        if self.normalize_scale:
            inv = torch.cat((inv, scale.log().unsqueeze(1)), dim=1)
        logits = self.classifier(inv)
        if self.orientation_kind == "frame_mlp":
            rotation = self.orientation(equi, inv)
        elif self.orientation_kind == "multi_frame":
            hypotheses, confidence = self.orientation(equi, inv)
            out = {"logits": logits}
            if self.refiner is not None:
                out["coarse_hypotheses"], out["coarse_confidence"] = hypotheses, confidence
                hypotheses, confidence = self.refiner(points, hypotheses, inv, confidence)
            best = confidence.argmax(dim=1)
            rotation = hypotheses[torch.arange(len(best), device=best.device), best]
            return {**out, "rotation": rotation, "hypotheses": hypotheses, "confidence": confidence}
        else:
            rotation = self.orientation(equi if equi is not None else inv)
        return {"logits": logits, "rotation": rotation}
