"""Networks: `build_model(config)` -> `ObjectNet` returning `{"logits": [B, K], "rotation": [B, 3, 3]}`.

encoders.py   VN encoders (fast_vn, vn_pointnet, vn_dgcnn)      baselines.py  PointNet, DGCNN
heads.py      classification / orientation heads                 network.py    ObjectNet (encoder + heads)
factory.py    configs, build_model, describe_model               symmetry.py   object symmetries, rotation loss
checkpoint.py save / load (weights only)
"""
from vn_perception.models.factory import (
    COMMON_DEFAULTS, DEFAULT_MODEL_CONFIG, ENCODER_DEFAULTS, ENCODERS, build_model, count_parameters,
    describe_model, resolve_config,
)
from vn_perception.models.network import ObjectNet

__all__ = [
    "build_model", "describe_model", "count_parameters", "resolve_config", "DEFAULT_MODEL_CONFIG",
    "COMMON_DEFAULTS", "ENCODER_DEFAULTS", "ENCODERS", "ObjectNet",
]
