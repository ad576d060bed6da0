"""Every network: output contract, exact invariance of the logits and equivariance of the rotation (float64,
random SO(3)), proper rotations, centring, degenerate clouds, gradients, config handling, device."""
import copy
import functools
import json

import pytest
import torch

from vn_perception.models import DEFAULT_MODEL_CONFIG, ENCODERS, build_model, describe_model
from vn_perception.utils.equivariance import (
    FRAME_ATOL, assert_equivariant, equivariance_error, random_rotation,
)

VN_ENCODERS = ["fast_vn", "vn_pointnet", "vn_dgcnn"]
SMALL = {"fast_vn": {}, "vn_pointnet": {"k": 8}, "vn_dgcnn": {"k": 8}, "pointnet": {"widths": [16, 32]},
         "dgcnn": {"k": 8, "widths": [8, 8, 16, 16], "embed": 32}}
OUT_KINDS = {"logits": "invariant", "rotation": "frame"}


def _model(encoder, dtype=torch.float64, **overrides):
    """A fresh copy of a built network (eval mode, batch-norm statistics from one training-mode pass)."""
    return copy.deepcopy(_cached_model(encoder, dtype, json.dumps(overrides, sort_keys=True)))


@functools.lru_cache(maxsize=None)
def _cached_model(encoder, dtype, overrides):
    torch.manual_seed(0)
    model = build_model({"encoder": encoder, "num_classes": 5, **SMALL[encoder], **json.loads(overrides)}).to(dtype)
    with torch.no_grad():      # populate the batch-norm running statistics with something non-trivial
        model.train()(_cloud(3, 32, dtype, seed=9))
    return model.eval()


def _cloud(b, n, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(b, n, 3, generator=g, dtype=torch.float64) * torch.tensor([0.08, 0.05, 0.03], dtype=torch.float64)
    return (p - p.mean(1, keepdim=True)).to(dtype)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_output_contract(encoder):
    model = _model(encoder, torch.float32)
    out = model(_cloud(3, 32, torch.float32))
    assert set(out) == {"logits", "rotation"}
    assert out["logits"].shape == (3, 5) and out["rotation"].shape == (3, 3, 3)
    R = out["rotation"].double()
    assert torch.allclose(R.transpose(1, 2) @ R, torch.eye(3, dtype=R.dtype).expand_as(R), atol=1e-5)
    assert torch.allclose(torch.linalg.det(R), torch.ones(3, dtype=R.dtype), atol=1e-5)
    with pytest.raises(ValueError, match="expected points"):
        model(torch.zeros(3, 32, 4))


@pytest.mark.parametrize("encoder", VN_ENCODERS)
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_vn_models_invariant_logits_equivariant_rotation_float64(encoder, train, generator):
    model = _model(encoder, dropout=0.0).train(train)
    assert_equivariant(model, _cloud(3, 48), "points", OUT_KINDS, atol=1e-9, n_trials=2, generator=generator)


def test_fast_vn_variants_float64(generator):
    cloud = _cloud(2, 160)       # N > candidates (128): the subsampled-support path
    for overrides in ({"neighbourhood": "knn", "k": 10}, {"direction": "shared"}, {"candidates": None},
                      {"normalize_scale": False}, {"widths": [16, 24, 32, 40]},
                      {"orientation": "frame_mlp", "orientation_hidden": [32]}):
        model = _model("fast_vn", **overrides)
        if overrides.get("orientation") == "frame_mlp":   # its correction starts near zero: make it matter
            with torch.no_grad():
                for p in model.orientation.mlp[-1].parameters():
                    p.normal_()
        assert_equivariant(model, cloud, "points", OUT_KINDS, atol=1e-9, n_trials=2, generator=generator)


def test_fast_vn_float32_is_equivariant_to_rounding(generator):
    model = _model("fast_vn", torch.float32)
    err = equivariance_error(model, _cloud(8, 512, torch.float32), "points", OUT_KINDS, n_trials=3,
                             generator=generator)
    assert err < FRAME_ATOL[torch.float32]


@pytest.mark.parametrize("encoder", ["pointnet", "dgcnn"])
def test_baselines_are_not_invariant(encoder, generator):
    model = _model(encoder)
    out = model(_cloud(3, 64))
    R = random_rotation(generator=generator)
    moved = model(_cloud(3, 64) @ R.T)
    assert (out["logits"] - moved["logits"]).abs().max() > 1e-6


@pytest.mark.parametrize("encoder", ENCODERS)
def test_translation_invariance_by_centring(encoder):
    model = _model(encoder)
    cloud = _cloud(2, 32)
    a, b = model(cloud), model(cloud + torch.tensor([0.4, -1.0, 2.0], dtype=cloud.dtype))
    assert torch.allclose(a["logits"], b["logits"], atol=1e-9)
    assert torch.allclose(a["rotation"], b["rotation"], atol=1e-9)


def _degenerate(case, dtype):
    if case == "zeros":
        return torch.zeros(2, 24, 3, dtype=dtype)
    if case == "duplicates":
        return torch.tensor([0.1, -0.2, 0.3], dtype=dtype).expand(2, 24, 3).clone()
    if case == "coplanar":
        p = _cloud(2, 24, dtype)
        p[..., 2] = 0.0
        return p
    if case == "few_points":
        return _cloud(2, 3, dtype)
    raise ValueError(case)


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("case", ["zeros", "duplicates", "coplanar", "few_points"])
def test_degenerate_clouds_finite_outputs_and_gradients(encoder, case, dtype):
    model = _model(encoder, dtype).train()
    points = _degenerate(case, dtype).requires_grad_(True)
    out = model(points)
    assert torch.isfinite(out["logits"]).all() and torch.isfinite(out["rotation"]).all()
    (out["logits"].square().sum() + out["rotation"].sum()).backward()
    assert torch.isfinite(points.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_config_defaults_and_round_trip():
    model = build_model(DEFAULT_MODEL_CONFIG)
    assert model.config["encoder"] == "fast_vn" == DEFAULT_MODEL_CONFIG["encoder"]
    again = build_model(model.config)
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    info = describe_model(model)
    assert info["encoder"] == "fast_vn" and info["parameters"] == sum(p.numel() for p in model.parameters())
    assert sum(info["parameters_by_part"].values()) == info["parameters"]
    assert build_model({"num_classes": 7})(torch.randn(2, 32, 3))["logits"].shape == (2, 7)
    with pytest.raises(ValueError, match="unknown encoder"):
        build_model({"encoder": "vn_transformer"})
    with pytest.raises(ValueError):
        build_model({"encoder": "fast_vn", "neighbourhood": "ball"})


def test_runs_on_every_available_device():
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        model = _model("fast_vn", torch.float32).to(device)
        out = model(_cloud(2, 64, torch.float32).to(device))
        assert out["logits"].device.type == device and out["rotation"].device.type == device


@pytest.mark.parametrize("encoder", VN_ENCODERS)
def test_vn_models_are_so3_not_o3_invariant(encoder, generator):
    """Frames are built with a cross product (and fast_vn / vn_pointnet use p x d / cross edge features),
    so a reflection changes the logits while a rotation does not: the models tell mirror images apart."""
    from vn_perception.utils.equivariance import random_reflection
    model = _model(encoder)
    cloud = _cloud(3, 48)
    logits = lambda p: model(p)["logits"]
    R, S = random_rotation(generator=generator), random_reflection(generator=generator)
    assert equivariance_error(logits, cloud, "points", "invariant", rotation=R) < 1e-9
    assert equivariance_error(logits, cloud, "points", "invariant", rotation=S) > 1e-6


MULTI = {"orientation": "multi_frame", "orientation_hidden": [32], "orientation_hypotheses": 6}
MULTI_KINDS = {**OUT_KINDS, "confidence": "invariant", "hypotheses": lambda t, R: R.to(t.dtype) @ t}


def _randomised_multi_frame(dtype=torch.float64, config=MULTI):
    """A multi_frame fast_vn (with `config`) whose correction and confidence layers, and the refiner's last layer
    when it has one, are random (they start near constant)."""
    model = _model("fast_vn", dtype, dropout=0.0, **config)
    layers = [model.orientation.to_rotations, model.orientation.to_confidence]
    layers += [model.refiner.mlp[-1]] if model.refiner is not None else []
    with torch.no_grad():
        for layer in layers:
            for p in layer.parameters():
                p.normal_()
    return model


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_multi_frame_head_every_hypothesis_equivariant_float64(train, generator):
    model = _randomised_multi_frame().train(train)
    cloud = _cloud(3, 48)
    assert_equivariant(model, cloud, "points", MULTI_KINDS, atol=1e-9, n_trials=3, generator=generator)
    out = model(cloud)
    assert set(out) == {"logits", "rotation", "hypotheses", "confidence"}
    H = out["hypotheses"]
    assert H.shape == (3, 6, 3, 3) and out["confidence"].shape == (3, 6)
    eye = torch.eye(3, dtype=H.dtype).expand_as(H)
    assert torch.allclose(H.transpose(-1, -2) @ H, eye, atol=1e-9)
    assert torch.allclose(torch.linalg.det(H), torch.ones(3, 6, dtype=H.dtype), atol=1e-9)
    best = out["confidence"].argmax(1)
    assert torch.equal(out["rotation"], H[torch.arange(3), best])
    # the hypotheses differ (not K copies of one rotation) and so do the confidences
    assert (H[:, 0] - H[:, 1]).abs().max() > 1e-3 and out["confidence"].std(1).min() > 1e-3


def test_multi_frame_hypotheses_start_spread():
    """Freshly built: hypothesis k is the frame times `spread_rotations(K)[k]` up to the small last weights,
    so every pair of hypotheses starts >= ~90 degrees apart (winner-takes-all cannot start collapsed)."""
    from vn_perception.models.heads import spread_rotations
    torch.manual_seed(0)
    model = build_model({"encoder": "fast_vn", "num_classes": 5, **MULTI}).double().eval()
    H = model(_cloud(4, 64))["hypotheses"]                               # [4, 6, 3, 3]
    relative = H[:, :1].transpose(-1, -2) @ H                            # F R_0 -> R_0^T R_k
    start = torch.as_tensor(spread_rotations(6))
    assert torch.allclose(relative, (start[:1].transpose(-1, -2) @ start).expand_as(relative), atol=0.1)
    cos = ((H.unsqueeze(2).transpose(-1, -2) @ H.unsqueeze(1)).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    off_diagonal = ~torch.eye(6, dtype=torch.bool)
    assert cos[:, off_diagonal].max() < 0.1                              # angles > ~84 degrees


def test_spread_rotations():
    from vn_perception.models.heads import spread_rotations
    R = torch.as_tensor(spread_rotations(24))
    assert torch.allclose(R.transpose(1, 2) @ R, torch.eye(3, dtype=R.dtype).expand_as(R))
    assert torch.allclose(torch.linalg.det(R), torch.ones(24, dtype=R.dtype))
    assert len({tuple(m.round().flatten().tolist()) for m in R}) == 24            # the whole cube group
    assert torch.equal(R[0], torch.eye(3, dtype=R.dtype))
    for k in (1, 2, 3):                                                           # then the half-turns
        assert torch.allclose(R[k], torch.diag(torch.tensor([-1.0, -1.0, -1.0]).index_fill(0, torch.tensor(k - 1),
                                                                                            1.0)).double())
    for bad in (0, 25):
        with pytest.raises(ValueError, match="hypotheses"):
            spread_rotations(bad)


def test_multi_frame_float32_rounding_and_old_heads_unchanged(generator):
    model = _randomised_multi_frame(torch.float32)
    err = equivariance_error(model, _cloud(4, 256, torch.float32), "points", MULTI_KINDS, n_trials=2,
                             generator=generator)
    assert err < FRAME_ATOL[torch.float32]
    # the vn / frame_mlp heads keep their parameters (old checkpoints load): no hypothesis layers
    for kind in ("vn", "frame_mlp"):
        keys = build_model({"encoder": "fast_vn", "orientation": kind}).state_dict().keys()
        assert not any("to_rotations" in k or "to_confidence" in k for k in keys)
    with pytest.raises(ValueError, match="multi_frame"):
        build_model({"encoder": "fast_vn", "orientation": "many"})


REFINE = {**MULTI, "refine": "canonical", "refine_points": 32, "refine_point_hidden": [16, 32], "refine_hidden": [32]}
REFINE_KINDS = {**MULTI_KINDS, "coarse_confidence": "invariant", "coarse_hypotheses": MULTI_KINDS["hypotheses"]}


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_canonical_refiner_equivariant_float64(train, generator):
    model = _randomised_multi_frame(config=REFINE).train(train)
    cloud = _cloud(3, 48)
    assert_equivariant(model, cloud, "points", REFINE_KINDS, atol=1e-9, n_trials=3, generator=generator)
    out = model(cloud)
    H, coarse = out["hypotheses"], out["coarse_hypotheses"]
    assert H.shape == coarse.shape == (3, 6, 3, 3)
    assert torch.allclose(H.transpose(-1, -2) @ H, torch.eye(3, dtype=H.dtype).expand_as(H), atol=1e-9)
    assert torch.allclose(torch.linalg.det(H), torch.ones(3, 6, dtype=H.dtype), atol=1e-9)
    assert torch.equal(out["rotation"], H[torch.arange(3), out["confidence"].argmax(1)])
    # the refiner moves the hypotheses and rescores them (random last layer: far from the identity start)
    assert (H - coarse).abs().max() > 1e-2 and (out["confidence"] - out["coarse_confidence"]).abs().max() > 1e-2


def test_canonical_refiner_starts_at_the_coarse_hypotheses_and_needs_multi_frame():
    torch.manual_seed(0)
    model = build_model({"encoder": "fast_vn", "num_classes": 5, **REFINE}).double().eval()
    out = model(_cloud(2, 64))
    assert (out["hypotheses"] - out["coarse_hypotheses"]).abs().max() < 0.1       # small last weights
    assert set(out) == {"logits", "rotation", "hypotheses", "confidence", "coarse_hypotheses", "coarse_confidence"}
    # only a few points per hypothesis: the refiner looks at the first refine_points of the cloud
    a, b = _cloud(1, 64), _cloud(1, 64)
    b[:, :32] = a[:, :32]
    b[:, 32:] = a[:, 32:].flip(1)                                # same cloud, other order after the first 32
    assert torch.allclose(model(a)["hypotheses"], model(b)["hypotheses"], atol=1e-12)
    for kind in ("vn", "frame_mlp"):
        with pytest.raises(ValueError, match="multi_frame"):
            build_model({"encoder": "fast_vn", "orientation": kind, "refine": "canonical"})
    with pytest.raises(ValueError, match="refine"):
        build_model({"encoder": "fast_vn", **MULTI, "refine": "icp"})
    assert not any(k.startswith("refiner") for k in build_model({"encoder": "fast_vn", **MULTI}).state_dict())
