"""Vector Neuron layers (Deng et al., ICCV 2021): SO(3)-equivariant building blocks.

Features are `[B, C, 3, N, ...]`: C channels of 3-D vectors (dim 2) per point (and per neighbour). A rotation
R acts on dim 2 (`x -> R x`); every layer here commutes with it, invariant layers ignore it.
One epsilon, `vn_perception.constants.EPS`, clamps norms and denominators.
"""
from vn_perception.vn._batchnorm import VNBatchNorm
from vn_perception.vn._block import VNLinearBNLeakyReLU
from vn_perception.vn._functional import (
    VEC_DIM, frame_project, gram_schmidt, inner, safe_norm, scaled_vn_leaky_relu, vn_leaky_relu,
)
from vn_perception.vn._graph import edge_features, gather_neighbours, knn
from vn_perception.vn._invariant import VNInvariant
from vn_perception.vn._linear import VNLinear, vn_linear
from vn_perception.vn._nonlinearity import (
    DIRECTIONS, LinearDirection, VNLeakyReLU, make_direction, register_direction,
)
from vn_perception.vn._pooling import VNMaxPool, mean_pool
from vn_perception.vn._regions import (
    FixedDirection, LearnedFrameOctant, NormGate, RegionDecision, SensorOctant, leaky_coordinates,
)

__all__ = [
    "VEC_DIM", "VNLinear", "vn_linear", "VNLeakyReLU", "vn_leaky_relu", "VNBatchNorm", "VNLinearBNLeakyReLU",
    "scaled_vn_leaky_relu", "VNMaxPool", "mean_pool", "VNInvariant", "gram_schmidt", "frame_project", "inner",
    "safe_norm",
    "knn", "edge_features", "gather_neighbours",
    "DIRECTIONS", "LinearDirection", "make_direction", "register_direction",
    "FixedDirection", "SensorOctant", "LearnedFrameOctant", "NormGate", "RegionDecision", "leaky_coordinates",
]
