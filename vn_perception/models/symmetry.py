"""Object symmetries and symmetry-aware rotation losses and errors.

A rotation `R` maps object-frame coordinates to sensor-frame coordinates. A symmetry is a set of rotations
`G` in the object frame with `shape(G x) = shape(x)`: then `R` and `R G` describe the same observation, so
losses and errors take the minimum over G. Axes are unit vectors in the object frame.

String grammar (`Symmetry.parse`; `str(sym)` writes it back):

=========================  ===================================================================================
`none`                     no symmetry
`discrete:<axis>:<n>`      n-fold rotational symmetry about axis (cyclic group C_n, n >= 2)
`discrete:<axis>:<n>:flip` plus 180-degree flips about an axis perpendicular to it (dihedral D_n, 2n elements);
                           `flip=<axis>` names the flip axis (default: x for z, y for x, z for y; otherwise
                           a perpendicular chosen from the coordinate axes)
`box`                      `discrete:z:2:flip`: 180 degrees about x, y and z (D_2, 4 rotations: boxes)
`continuous:<axis>`        any rotation about axis (bottle, bowl: the axis direction is observable)
`continuous:<axis>:flip`   plus a 180-degree flip, so the axis sign is not observable (can, cylinder)
=========================  ===================================================================================

`<axis>` is `x`, `y`, `z` (optionally signed, `-z`) or three numbers `a,b,c` (normalised).
Continuous symmetries compare only the axis: `R a` against `R_gt a` (and `-R_gt a` with flip).
"""
from dataclasses import dataclass, field
import math

import numpy as np
import torch

_AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}
_DEFAULT_FLIP = {"z": "x", "x": "y", "y": "z"}
KINDS = ("none", "discrete", "continuous")


def _parse_axis(text):
    text = text.strip().lower()
    sign = -1.0 if text.startswith("-") else 1.0
    name = text.lstrip("+-")
    if name in _AXES:
        v = sign * np.asarray(_AXES[name])
    else:
        try:
            v = np.asarray([float(t) for t in text.split(",")], dtype=np.float64)
        except ValueError:
            raise ValueError(f"bad axis {text!r}: expected x, y, z, -z or 'a,b,c'") from None
    if v.shape != (3,) or np.linalg.norm(v) < 1e-9:
        raise ValueError(f"bad axis {text!r}: need three numbers, not all zero")
    return v / np.linalg.norm(v)


def _axis_text(axis):
    for name, v in _AXES.items():
        if np.allclose(axis, v):
            return name
        if np.allclose(axis, -np.asarray(v)):
            return "-" + name
    return ",".join(f"{c:.6g}" for c in axis)


def _perpendicular(axis):
    """A coordinate-based unit vector perpendicular to axis (x for z, y for x, z for y)."""
    name = _axis_text(axis).lstrip("-")
    if name in _DEFAULT_FLIP:
        return np.asarray(_AXES[_DEFAULT_FLIP[name]])
    helper = np.eye(3)[np.argmin(np.abs(axis))]
    p = np.cross(axis, helper)
    return p / np.linalg.norm(p)


def axis_angle_matrix(axis, angle):
    """Rotation matrix `[3, 3]` (float64 numpy) of `angle` radians about unit `axis` (Rodrigues)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    k = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    return np.eye(3) + math.sin(angle) * k + (1.0 - math.cos(angle)) * (k @ k)


@dataclass(frozen=True)
class Symmetry:
    """Symmetry of an object shape, in its object frame.

    kind: `none` | `discrete` | `continuous`; axis: unit 3-vector (object frame; `(0, 0, 1)` for none);
    order: n of a discrete symmetry (1 otherwise); flip: also symmetric under 180 degrees about `flip_axis`
    (perpendicular to axis). Hashable, comparable; `Symmetry.parse(str(s)) == s`.
    """

    kind: str = "none"
    axis: tuple = (0.0, 0.0, 1.0)
    order: int = 1
    flip: bool = False
    flip_axis: tuple = field(default=None)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown symmetry kind {self.kind!r}: expected one of {KINDS}")
        axis = np.asarray(self.axis, dtype=np.float64)
        if axis.shape != (3,) or np.linalg.norm(axis) < 1e-9:
            raise ValueError(f"symmetry axis must be a non-zero 3-vector, got {self.axis!r}")
        axis = axis / np.linalg.norm(axis)
        object.__setattr__(self, "axis", tuple(float(c) for c in axis))
        object.__setattr__(self, "order", int(self.order))
        if self.kind == "discrete" and self.order < 2:
            raise ValueError("a discrete symmetry needs order >= 2")
        if self.kind != "discrete":
            object.__setattr__(self, "order", 1)
        if self.kind == "none":
            object.__setattr__(self, "flip", False)
        if self.flip:
            fa = _perpendicular(axis) if self.flip_axis is None else np.asarray(self.flip_axis, dtype=np.float64)
            fa = fa - (fa @ axis) * axis
            if np.linalg.norm(fa) < 1e-9:
                raise ValueError("flip axis must not be parallel to the symmetry axis")
            object.__setattr__(self, "flip_axis", tuple(float(c) for c in fa / np.linalg.norm(fa)))
        else:
            object.__setattr__(self, "flip_axis", None)

    # -- parsing ------------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text):
        """Parse the string grammar of the module doc (also accepts a Symmetry or None, meaning none)."""
        if isinstance(text, Symmetry):
            return text
        if text is None:
            return cls()
        parts = [p.strip() for p in str(text).strip().lower().split(":")]
        head = parts[0]
        if head in ("", "none"):
            if len(parts) > 1:
                raise ValueError(f"bad symmetry {text!r}: 'none' takes no arguments")
            return cls()
        if head == "box":
            if len(parts) > 1:
                raise ValueError(f"bad symmetry {text!r}: 'box' takes no arguments")
            return cls("discrete", (0.0, 0.0, 1.0), 2, True)
        flip, flip_axis = False, None
        if parts[-1].startswith("flip") and len(parts) > 2:
            token = parts.pop()
            flip = True
            if token.startswith("flip="):
                flip_axis = tuple(_parse_axis(token[5:]))
            elif token != "flip":
                raise ValueError(f"bad symmetry {text!r}: expected 'flip' or 'flip=<axis>'")
        if head == "continuous" and len(parts) == 2:
            return cls("continuous", tuple(_parse_axis(parts[1])), 1, flip, flip_axis)
        if head == "discrete" and len(parts) == 3:
            try:
                order = int(parts[2])
            except ValueError:
                raise ValueError(f"bad symmetry {text!r}: order must be an integer") from None
            return cls("discrete", tuple(_parse_axis(parts[1])), order, flip, flip_axis)
        raise ValueError(
            f"bad symmetry {text!r}: expected none | box | discrete:<axis>:<n>[:flip] | continuous:<axis>[:flip]")

    def __str__(self):
        if self.kind == "none":
            return "none"
        if self.kind == "discrete" and self.order == 2 and self.flip and np.allclose(self.axis, (0, 0, 1)) \
                and np.allclose(self.flip_axis, (1, 0, 0)):
            return "box"
        text = f"{self.kind}:{_axis_text(self.axis)}"
        if self.kind == "discrete":
            text += f":{self.order}"
        if self.flip:
            default = _perpendicular(np.asarray(self.axis))
            text += ":flip" if np.allclose(self.flip_axis, default) else f":flip={_axis_text(self.flip_axis)}"
        return text

    # -- group ---------------------------------------------------------------------------------------------
    def rotations(self):
        """The discrete part of the group as float64 numpy `[G, 3, 3]` (object frame), identity first.

        none: `[I]`; discrete: the C_n (or D_n with flip) rotations; continuous: `[I]` or `[I, flip]`
        (the continuous rotations about the axis are handled by comparing axes only).
        """
        mats = [np.eye(3)]
        if self.kind == "discrete":
            mats = [axis_angle_matrix(self.axis, 2 * math.pi * i / self.order) for i in range(self.order)]
        if self.flip:
            f = axis_angle_matrix(self.flip_axis, math.pi)
            mats = mats + [m @ f for m in mats]
        return np.stack(mats)


def as_symmetry(value):
    """Symmetry from a Symmetry, a string of the grammar, or None (none)."""
    return Symmetry.parse(value)


# -- losses and errors --------------------------------------------------------------------------------------
def _chordal_sq(a, b):
    """`||a - b||_F^2` over the last two dims (= 4 (1 - cos angle) for rotations)."""
    return (a - b).square().sum(dim=(-2, -1))


def _per_sample_distance(R_pred, R_gt, sym):
    """Symmetry-aware squared chordal distance `[B']` for one symmetry (torch, differentiable)."""
    group = torch.as_tensor(sym.rotations(), dtype=R_pred.dtype, device=R_pred.device)      # [G, 3, 3]
    if sym.kind == "continuous":
        axis = torch.as_tensor(sym.axis, dtype=R_pred.dtype, device=R_pred.device)
        a_pred = R_pred @ axis                                                               # [B', 3]
        a_gt = R_gt @ axis
        d = (a_pred - a_gt).square().sum(-1)
        if sym.flip:
            d = torch.minimum(d, (a_pred + a_gt).square().sum(-1))
        return 2.0 * d                                            # 4 (1 - cos angle between the axes)
    candidates = R_gt.unsqueeze(1) @ group                                                   # [B', G, 3, 3]
    return _chordal_sq(R_pred.unsqueeze(1), candidates).amin(dim=1)


def _per_sample(symmetries, batch):
    """One Symmetry per sample from one Symmetry/string for all or a list of `batch`."""
    if isinstance(symmetries, (list, tuple)):
        if len(symmetries) != batch:
            raise ValueError(f"{len(symmetries)} symmetries for a batch of {batch}")
        return [as_symmetry(s) for s in symmetries]
    return [as_symmetry(symmetries)] * batch


def symmetric_rotation_loss(R_pred, R_gt, symmetries, reduction="mean"):
    """Differentiable rotation loss that ignores what a symmetry makes unobservable.

    R_pred, R_gt: `[B, 3, 3]` (object -> sensor). symmetries: one Symmetry/string for all, or a list of B.
    Per sample: `min_G ||R_pred - R_gt G||_F^2` over the discrete group (= 4 (1 - cos geodesic angle),
    range [0, 8]); continuous: `4 (1 - cos)` of the angle between `R_pred a` and `R_gt a` (axis a; with flip
    also against `-R_gt a`). Zero exactly for symmetric equivalents. reduction: mean | sum | none.
    """
    b = R_pred.shape[0]
    syms = _per_sample(symmetries, b)
    R_gt = R_gt.to(dtype=R_pred.dtype, device=R_pred.device)
    loss = R_pred.new_zeros(b)
    groups = {}
    for i, s in enumerate(syms):
        groups.setdefault(s, []).append(i)
    for sym, rows in groups.items():
        index = torch.as_tensor(rows, device=R_pred.device)
        loss = loss.index_put((index,), _per_sample_distance(R_pred[index], R_gt[index], sym))
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"unknown reduction {reduction!r}")


def rotation_error_deg(R_pred, R_gt, symmetry=None):
    """Symmetry-aware geodesic rotation error in degrees (numpy in, numpy out; torch in, torch out).

    R_pred, R_gt: `[3, 3]` or `[B, 3, 3]`; symmetry: one Symmetry/string (or a list of B). Discrete:
    the smallest angle of `R_pred^T R_gt G` over the group; continuous: the angle between the predicted and
    true axis in the sensor frame (0..180, or 0..90 with flip); none: the plain geodesic angle (0..180).
    """
    is_numpy = not torch.is_tensor(R_pred)
    p = torch.as_tensor(np.asarray(R_pred) if is_numpy else R_pred).double()
    g = torch.as_tensor(np.asarray(R_gt) if not torch.is_tensor(R_gt) else R_gt).double().to(p.device)
    single = p.dim() == 2
    if single:
        p, g = p.unsqueeze(0), g.unsqueeze(0)
    # cos(angle) from the chordal distance: ||A - B||^2 = 4 (1 - cos) (discrete, none) or 2 (1 - cos) (axes).
    d = symmetric_rotation_loss(p, g, symmetry if isinstance(symmetry, (list, tuple)) else as_symmetry(symmetry),
                                reduction="none")
    err = torch.rad2deg(torch.arccos((1.0 - d / 4.0).clamp(-1.0, 1.0)))
    if single:
        err = err[0]
    if is_numpy:
        return err.cpu().numpy() if err.dim() else float(err)
    return err.to(R_pred.dtype) if R_pred.is_floating_point() else err


def free_axis_in_sensor(R, symmetry):
    """The symmetry axis in the sensor frame (`R a`), or None for no symmetry. R: `[3, 3]` or `[B, 3, 3]`.

    For a continuous symmetry the rotation about this axis is unobservable (inflate its covariance).
    """
    sym = as_symmetry(symmetry)
    if sym.kind == "none":
        return None
    if torch.is_tensor(R):
        return R @ torch.as_tensor(sym.axis, dtype=R.dtype, device=R.device)
    return np.asarray(R) @ np.asarray(sym.axis)


def multi_hypothesis_loss(hypotheses, confidence, R_gt, symmetries, mean_weight=0.05, confidence_weight=0.5):
    """Relaxed winner-takes-all loss of K rotation hypotheses plus their confidence cross-entropy.

    hypotheses: `[B, K, 3, 3]` (object -> sensor); confidence: logits `[B, K]`; R_gt: `[B, 3, 3]`;
    symmetries: one Symmetry/string for all or a list of B. With `d [B, K]` the `symmetric_rotation_loss`
    of every hypothesis: `rotation = mean_b(min_k d + mean_weight * mean_k d)` (the best hypothesis learns;
    the small mean term keeps every hypothesis trained so none is left behind), and `confidence` =
    cross-entropy of the logits against the best hypothesis `argmin_k d` (detached target: the logits
    learn which hypothesis to trust; the hypotheses are not pulled by it). Returns a dict of scalars:
    `loss` (= rotation + confidence_weight x confidence), `rotation`, `confidence`, `best` (mean of
    `min_k d`) and `selected` (mean `d` of the most confident hypothesis, what prediction returns).
    """
    b, k = hypotheses.shape[:2]
    per_sample = _per_sample(symmetries, b)
    R_gt = R_gt.to(dtype=hypotheses.dtype, device=hypotheses.device)
    d = symmetric_rotation_loss(hypotheses.reshape(b * k, 3, 3),
                                R_gt.unsqueeze(1).expand(b, k, 3, 3).reshape(b * k, 3, 3),
                                [s for s in per_sample for _ in range(k)], reduction="none").view(b, k)
    best_d, best = d.min(dim=1)
    rotation = (best_d + mean_weight * d.mean(dim=1)).mean()
    conf = torch.nn.functional.cross_entropy(confidence, best.detach())
    selected = d.gather(1, confidence.argmax(dim=1, keepdim=True)).mean()
    return {"loss": rotation + confidence_weight * conf, "rotation": rotation, "confidence": conf,
            "best": best_d.mean(), "selected": selected}
