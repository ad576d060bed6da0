"""vn_perception.models.symmetry: grammar, groups, the symmetric loss and the symmetry-aware error."""
import math

import numpy as np
import pytest
import torch

from vn_perception.models.symmetry import (
    Symmetry, axis_angle_matrix, free_axis_in_sensor, multi_hypothesis_loss, rotation_error_deg,
    symmetric_rotation_loss,
)
from vn_perception.utils.equivariance import random_rotation


@pytest.mark.parametrize("text", ["none", "box", "discrete:z:2", "discrete:x:4:flip", "discrete:z:3:flip=y",
                                  "continuous:z", "continuous:-y:flip", "continuous:1,1,0", "discrete:z:6"])
def test_parse_round_trip(text):
    sym = Symmetry.parse(text)
    assert Symmetry.parse(str(sym)) == sym
    assert hash(sym) == hash(Symmetry.parse(str(sym)))


def test_parse_values():
    assert Symmetry.parse("none").kind == "none" and Symmetry.parse(None).kind == "none"
    box = Symmetry.parse("box")
    assert box == Symmetry.parse("discrete:z:2:flip") and str(box) == "box"
    assert (box.kind, box.order, box.flip) == ("discrete", 2, True)
    c = Symmetry.parse("continuous:1,1,0")
    assert np.allclose(c.axis, np.array([1, 1, 0]) / math.sqrt(2))
    assert Symmetry.parse(" Continuous:Z ") == Symmetry("continuous", (0, 0, 1))


@pytest.mark.parametrize("bad", ["discrete:z", "discrete:z:1", "discrete:z:two", "continuous", "continuous:q",
                                 "sphere", "box:z", "discrete:z:2:flop", "continuous:0,0,0",
                                 "discrete:z:2:flip=z"])
def test_parse_rejects(bad):
    with pytest.raises(ValueError):
        Symmetry.parse(bad)


def test_box_group_is_the_four_half_turns():
    mats = Symmetry.parse("box").rotations()
    assert mats.shape == (4, 3, 3)
    diag = sorted(tuple(np.round(np.diag(m)).astype(int)) for m in mats)
    assert diag == sorted([(1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)])


@pytest.mark.parametrize("text", ["discrete:z:5", "discrete:y:3:flip", "box", "continuous:x:flip"])
def test_groups_are_closed_proper_rotations(text):
    mats = Symmetry.parse(text).rotations()
    assert np.allclose(np.linalg.det(mats), 1.0)
    for a in mats:
        for b in mats:
            assert min(np.abs(a @ b - m).max() for m in mats) < 1e-9


def _random(n, seed=0):
    return random_rotation(n, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("text", ["none", "box", "discrete:z:4", "discrete:x:3:flip"])
def test_loss_zero_for_every_symmetric_equivalent(text):
    sym = Symmetry.parse(text)
    R_gt = _random(6)
    for G in sym.rotations():
        R_eq = R_gt @ torch.as_tensor(G)
        assert symmetric_rotation_loss(R_eq, R_gt, sym).item() < 1e-20
        assert rotation_error_deg(R_eq, R_gt, sym).abs().max().item() < 1e-5


def test_loss_positive_otherwise_and_differentiable():
    R_gt = _random(8, 1)
    perturb = torch.as_tensor(axis_angle_matrix((0.3, -0.2, 1.0), 0.4))
    R_pred = (R_gt @ perturb).requires_grad_(True)
    for text in ["none", "box", "discrete:z:2", "continuous:x"]:
        loss = symmetric_rotation_loss(R_pred, R_gt, text)
        assert loss.item() > 1e-3
        (grad,) = torch.autograd.grad(loss, R_pred)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # a half turn about z: zero for box and discrete:z:2, the maximum for none
    R_half = R_gt @ torch.as_tensor(axis_angle_matrix((0, 0, 1), math.pi))
    assert symmetric_rotation_loss(R_half, R_gt, "box").item() < 1e-20
    assert symmetric_rotation_loss(R_half, R_gt, "none").item() == pytest.approx(8.0)


def test_continuous_counts_only_the_axis():
    R_gt = _random(5, 2)
    spin = torch.as_tensor(axis_angle_matrix((0, 0, 1), 1.234))
    assert symmetric_rotation_loss(R_gt @ spin, R_gt, "continuous:z").item() < 1e-20
    upside_down = torch.as_tensor(axis_angle_matrix((1, 0, 0), math.pi))
    assert symmetric_rotation_loss(R_gt @ upside_down, R_gt, "continuous:z").item() == pytest.approx(4 * 2.0)
    assert symmetric_rotation_loss(R_gt @ upside_down, R_gt, "continuous:z:flip").item() < 1e-20
    tilt = torch.as_tensor(axis_angle_matrix((1, 0, 0), math.radians(20)))
    assert rotation_error_deg(R_gt @ tilt @ spin, R_gt, "continuous:z").numpy() == pytest.approx(20.0)


def test_per_sample_symmetries():
    R_gt = _random(3, 3)
    half_z = torch.as_tensor(axis_angle_matrix((0, 0, 1), math.pi))
    loss = symmetric_rotation_loss(R_gt @ half_z, R_gt, ["none", "box", "continuous:z"], reduction="none")
    assert loss[0].item() == pytest.approx(8.0) and loss[1].item() < 1e-20 and loss[2].item() < 1e-20
    with pytest.raises(ValueError):
        symmetric_rotation_loss(R_gt, R_gt, ["none"])


def test_rotation_error_values_numpy_and_torch():
    R_gt = axis_angle_matrix((0.2, 0.5, -1.0), 0.7)
    R30 = R_gt @ axis_angle_matrix((0, 0, 1), math.radians(30))
    R100 = R_gt @ axis_angle_matrix((0, 0, 1), math.radians(100))
    assert rotation_error_deg(R30, R_gt) == pytest.approx(30.0, abs=1e-6)
    assert isinstance(rotation_error_deg(R30, R_gt), float)
    assert rotation_error_deg(R100, R_gt, "discrete:z:4") == pytest.approx(10.0, abs=1e-6)
    assert rotation_error_deg(R100, R_gt, "continuous:z") == pytest.approx(0.0, abs=1e-4)
    batch = rotation_error_deg(np.stack([R30, R100]), np.stack([R_gt, R_gt]), "none")
    assert isinstance(batch, np.ndarray) and np.allclose(batch, [30.0, 100.0])
    t = rotation_error_deg(torch.as_tensor(R30).float(), torch.as_tensor(R_gt).float())
    assert torch.is_tensor(t) and t.dtype == torch.float32 and abs(t.item() - 30.0) < 1e-3


def test_free_axis_in_sensor():
    R = axis_angle_matrix((1, 0, 0), math.pi / 2)
    assert np.allclose(free_axis_in_sensor(R, "continuous:z"), [0, -1, 0])
    assert free_axis_in_sensor(R, "none") is None
    Rt = torch.as_tensor(R).expand(2, 3, 3)
    assert torch.allclose(free_axis_in_sensor(Rt, "continuous:z"), torch.tensor([[0.0, -1.0, 0.0]] * 2,
                                                                                 dtype=Rt.dtype))


def test_multi_hypothesis_loss_values():
    """Per-hypothesis distances as `symmetric_rotation_loss`; min + mean_weight x mean; CE on the argmin."""
    syms = ["none", "box", "continuous:z:flip", "discrete:z:4"]
    R_gt = _random(4, seed=1)
    H = _random(4 * 5, seed=2).view(4, 5, 3, 3)
    logits = torch.randn(4, 5, dtype=torch.float64)
    d = torch.stack([symmetric_rotation_loss(H[:, k], R_gt, syms, reduction="none") for k in range(5)], dim=1)
    out = multi_hypothesis_loss(H, logits, R_gt, syms, mean_weight=0.1, confidence_weight=0.5)
    expected_rot = (d.min(1).values + 0.1 * d.mean(1)).mean()
    expected_ce = torch.nn.functional.cross_entropy(logits, d.argmin(1))
    torch.testing.assert_close(out["rotation"], expected_rot)
    torch.testing.assert_close(out["confidence"], expected_ce)
    torch.testing.assert_close(out["loss"], expected_rot + 0.5 * expected_ce)
    torch.testing.assert_close(out["selected"], d.gather(1, logits.argmax(1, keepdim=True)).mean())


def test_multi_hypothesis_loss_zero_for_a_symmetric_equivalent_and_confident_winner():
    sym = Symmetry.parse("discrete:z:4")
    R_gt = _random(3, seed=3)
    H = _random(3 * 4, seed=4).view(3, 4, 3, 3).clone()
    G = torch.as_tensor(sym.rotations()[2])
    H[:, 2] = R_gt @ G                                     # hypothesis 2 is a symmetric equivalent of the truth
    logits = torch.zeros(3, 4, dtype=torch.float64)
    logits[:, 2] = 50.0
    out = multi_hypothesis_loss(H, logits, R_gt, sym, mean_weight=0.0)
    assert out["best"].item() < 1e-20 and out["rotation"].item() < 1e-20 and out["selected"].item() < 1e-20
    assert out["confidence"].item() < 1e-12
    logits[:, 2], logits[:, 0] = 0.0, 50.0                 # confident in a wrong hypothesis: large CE
    assert multi_hypothesis_loss(H, logits, R_gt, sym)["confidence"].item() > 10.0


def test_multi_hypothesis_loss_gradients_winner_takes_all_relaxed():
    R_gt = _random(2, seed=5)
    H = _random(2 * 3, seed=6).view(2, 3, 3, 3)
    d = torch.stack([symmetric_rotation_loss(H[:, k], R_gt, "none", reduction="none") for k in range(3)], dim=1)
    winners = d.argmin(1)
    for mean_weight in (0.0, 0.05):
        Hg = H.clone().requires_grad_(True)
        logits = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
        multi_hypothesis_loss(Hg, logits, R_gt, "none", mean_weight=mean_weight)["loss"].backward()
        norms = Hg.grad.flatten(2).norm(dim=2)                                     # [2, 3]
        losers = torch.ones_like(norms, dtype=torch.bool)
        losers[torch.arange(2), winners] = False
        assert (norms[~losers] > 1e-3).all()
        if mean_weight == 0.0:       # pure WTA; the confidence CE does not reach the hypotheses (detached target)
            assert norms[losers].max() == 0.0
        else:
            assert (norms[losers] > 1e-4).all()
        assert logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="symmetries"):
        multi_hypothesis_loss(H, torch.zeros(2, 3), R_gt, ["none"])
