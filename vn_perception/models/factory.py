"""`build_model(config)`: one place that turns a config dict into a network; defaults per encoder."""
import copy
import logging

from vn_perception.models.baselines import DGCNNEncoder, PointNetEncoder
from vn_perception.models.encoders import FastVNEncoder, VNDGCNNEncoder, VNPointNetEncoder
from vn_perception.models.network import ObjectNet

_log = logging.getLogger(__name__)

ENCODERS = ("fast_vn", "vn_pointnet", "vn_dgcnn", "pointnet", "dgcnn")

#: Keys every encoder accepts (see ObjectNet). `num_classes` is a placeholder: set it to the catalog's.
COMMON_DEFAULTS = {
    "num_classes": 10,
    "direction": "per_channel",     # decision-direction kind of the VN nonlinearities (vn.DIRECTIONS)
    "center": True,                 # subtract the centroid inside the model
    "normalize_scale": True,        # divide by the RMS radius, feed log(radius) to the head
    "orientation": "vn",            # VN encoders: vn (VN linear + Gram-Schmidt) | frame_mlp (frame x invariant MLP)
                                    # | multi_frame (orientation_hypotheses such rotations + confidences)
    "orientation_hypotheses": 8,    # multi_frame: number of rotation hypotheses (1..24)
    "refine": "none",               # multi_frame: none | canonical (CanonicalRefiner: points seen in each hypothesis)
    "refine_points": 128,           # canonical: points per hypothesis the refiner looks at
    "refine_point_hidden": [64, 128],   # canonical: per-point MLP widths (max-pooled)
    "refine_hidden": [256],         # canonical: MLP widths after pooling
}

#: Per-encoder defaults (widths: channel plan; k: kNN neighbours; head_hidden/dropout: classification MLP).
ENCODER_DEFAULTS = {
    "fast_vn": {"widths": [32, 32, 64], "neighbourhood": "kernel", "radius": 0.25,
                "candidates": 128, "k": 16, "negative_slope": 0.2, "head_hidden": [256, 128],
                "dropout": 0.3, "orientation_hidden": [32]},
    "vn_pointnet": {"k": 20, "negative_slope": 0.0, "pooling": "mean", "head_hidden": [512, 256],
                    "dropout": 0.4, "orientation_hidden": [85]},
    "vn_dgcnn": {"k": 20, "negative_slope": 0.2, "pooling": "mean", "head_hidden": [512, 256],
                 "dropout": 0.5, "orientation_hidden": [85]},
    "pointnet": {"widths": [64, 128, 1024], "negative_slope": 0.0, "head_hidden": [512, 256], "dropout": 0.4},
    "dgcnn": {"widths": [64, 64, 128, 256], "k": 20, "embed": 1024, "negative_slope": 0.2,
              "head_hidden": [512, 256], "dropout": 0.5},
}

#: The real-time default: fast_vn with its defaults.
DEFAULT_MODEL_CONFIG = {"encoder": "fast_vn", **COMMON_DEFAULTS, **ENCODER_DEFAULTS["fast_vn"]}


def resolve_config(config=None):
    """Full config: `COMMON_DEFAULTS`, then the encoder's defaults, then `config` (encoder default fast_vn)."""
    config = dict(config or {})
    encoder = config.get("encoder", "fast_vn")
    if encoder not in ENCODER_DEFAULTS:
        raise ValueError(f"unknown encoder {encoder!r}: expected one of {', '.join(ENCODERS)}")
    full = {"encoder": encoder, **copy.deepcopy(COMMON_DEFAULTS), **copy.deepcopy(ENCODER_DEFAULTS[encoder])}
    unknown = sorted(set(config) - set(full))
    if unknown:
        _log.warning("model config keys not used by %s: %s", encoder, ", ".join(unknown))
    full.update(config)
    return full


def build_model(config=None):
    """`config` dict -> `ObjectNet` (`model.config` holds the resolved config, enough to rebuild it).

    Keys: `encoder` (fast_vn | vn_pointnet | vn_dgcnn | pointnet | dgcnn), `num_classes`, `direction`,
    `widths`, `k`, `negative_slope`, `pooling`, `head_hidden`, `dropout`, `orientation` (vn | frame_mlp |
    multi_frame), `orientation_hidden` (VN widths for vn, MLP widths for frame_mlp / multi_frame),
    `orientation_hypotheses` (multi_frame), `refine` (none | canonical), `refine_points`,
    `refine_point_hidden`, `refine_hidden`, `center`, `normalize_scale`; fast_vn
    also `neighbourhood` (kernel | knn), `radius`, `candidates` (defaults: `ENCODER_DEFAULTS`, `COMMON_DEFAULTS`).
    """
    cfg = resolve_config(config)
    name, a, direction = cfg["encoder"], cfg["negative_slope"], cfg["direction"]
    if name == "fast_vn":
        encoder = FastVNEncoder(cfg["widths"], cfg["k"], a, direction, cfg["neighbourhood"], cfg["radius"],
                                cfg["candidates"])
    elif name == "vn_pointnet":
        encoder = VNPointNetEncoder(cfg["k"], a, direction, cfg["pooling"])
    elif name == "vn_dgcnn":
        encoder = VNDGCNNEncoder(cfg["k"], a, direction, cfg["pooling"])
    elif name == "pointnet":
        encoder = PointNetEncoder(cfg["widths"])
    else:
        encoder = DGCNNEncoder(cfg["widths"], cfg["k"], cfg["embed"])
    head_slope = a if a > 0 else 0.2
    return ObjectNet(encoder, cfg["num_classes"], cfg["head_hidden"], cfg["dropout"], head_slope,
                     cfg.get("orientation_hidden", ()), direction, cfg["center"], cfg["normalize_scale"],
                     config=cfg, orientation=cfg["orientation"],
                     orientation_hypotheses=cfg.get("orientation_hypotheses", 8), refine=cfg.get("refine", "none"),
                     refine_points=cfg.get("refine_points", 128),
                     refine_point_hidden=cfg.get("refine_point_hidden", (64, 128)),
                     refine_hidden=cfg.get("refine_hidden", (256,)))


def count_parameters(model, trainable_only=False):
    """Number of parameters (all, or only those with requires_grad)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def describe_model(model):
    """Summary dict: encoder name, total parameters, parameters per top-level part, number of classes."""
    config = getattr(model, "config", {}) or {}
    parts = {name: count_parameters(child) for name, child in model.named_children()}
    return {
        "encoder": config.get("encoder", type(getattr(model, "encoder", model)).__name__),
        "num_classes": getattr(model, "num_classes", config.get("num_classes")),
        "parameters": count_parameters(model),
        "parameters_by_part": parts,
    }
