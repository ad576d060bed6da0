"""Equivariance checks (e3nn style): apply a random rotation, compare `f(g x)` with `g f(x)`.

Transformations are named by how a rotation R `[3, 3]` acts on a tensor (or given as `callable(t, R)`):

==============  =====================================  =========================================
name            tensor                                 action
==============  =====================================  =========================================
"points"        `[..., 3]` (points `[B, N, 3]`)        `t @ R^T` (each row p -> R p)
"vector"        VN features `[B, C, 3, ...]`           R on dim 2
"frame"         rotations / frames `[B, 3, 3, ...]`    `R @ F` (columns rotate; left multiplication)
"invariant"     anything                               unchanged (also None)
==============  =====================================  =========================================

Tolerances (`DEFAULT_ATOL`): 1e-9 in float64 (exactness) and 1e-4 in float32 (rounding). Outputs that go
through a Gram-Schmidt frame (`VNInvariant`, orientation heads) amplify rounding by `1 / sin(angle(u1, u2))`
of the two vectors the frame is built from, which randomly initialised layers make small at some points;
their float32 tolerance is `FRAME_ATOL[torch.float32]` = 1e-3 (float64 stays 1e-9).
"""
import torch

#: Absolute tolerance of `assert_equivariant` per dtype.
DEFAULT_ATOL = {torch.float64: 1e-9, torch.float32: 1e-4}
#: Absolute tolerance for outputs computed through a Gram-Schmidt frame (ill-conditioned near parallel axes).
FRAME_ATOL = {torch.float64: 1e-9, torch.float32: 1e-3}


def random_rotation(n=None, dtype=torch.float64, generator=None, device=None):
    """Uniform (Haar) random proper rotation(s): `[3, 3]` (n None) or `[n, 3, 3]`, det = +1.

    QR of a Gaussian matrix with the sign fix `Q diag(sign(diag(R)))` is Haar on O(3); right-multiplying
    the improper ones by `diag(1, 1, -1)` maps that coset onto SO(3) and keeps the measure uniform.
    """
    m = 1 if n is None else int(n)
    g = torch.randn(m, 3, 3, dtype=torch.float64, generator=generator)
    q, r = torch.linalg.qr(g)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    flip = torch.det(q) < 0
    q[flip, :, 2] = -q[flip, :, 2]
    q = q.to(dtype=dtype, device=device)
    return q[0] if n is None else q


def random_reflection(dtype=torch.float64, generator=None, device=None):
    """A random improper orthogonal matrix (det = -1): a random rotation times `diag(1, 1, -1)`."""
    r = random_rotation(dtype=torch.float64, generator=generator)
    r[:, 2] = -r[:, 2]
    return r.to(dtype=dtype, device=device)


def transform(t, R, kind):
    """Apply rotation (or any orthogonal matrix) R to tensor t according to `kind` (see module doc)."""
    if kind is None or kind == "invariant":
        return t
    if callable(kind):
        return kind(t, R)
    R = R.to(dtype=t.dtype, device=t.device)
    if kind == "points":
        return t @ R.transpose(-1, -2)
    if kind == "vector":
        return torch.einsum("ij,bcj...->bci...", R, t)
    if kind == "frame":
        return torch.einsum("ij,bjk...->bik...", R, t)
    raise ValueError(f"unknown transformation {kind!r}: expected points|vector|frame|invariant or a callable")


def _map(spec, value, fn):
    """Apply `fn(tensor, kind)` over value (tensor, tuple/list or dict) with a matching spec (or one kind)."""
    if isinstance(value, dict):
        return {key: fn(v, spec.get(key) if isinstance(spec, dict) else spec) for key, v in value.items()}
    if isinstance(value, (tuple, list)):
        specs = spec if isinstance(spec, (tuple, list)) else [spec] * len(value)
        if len(specs) != len(value):
            raise ValueError(f"{len(specs)} transformations for {len(value)} tensors")
        return type(value)(fn(v, s) for v, s in zip(value, specs))
    return fn(value, spec)


def _leaves(value):
    if isinstance(value, dict):
        return [t for v in value.values() for t in _leaves(v)]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _leaves(v)]
    return [value] if torch.is_tensor(value) else []


def equivariance_error(fn, inputs, rotate_input="points", rotate_output="vector", n_trials=3, generator=None,
                       rotation=None):
    """Largest absolute difference `|f(g x) - g f(x)|` over outputs and `n_trials` random rotations.

    fn: called as `fn(*inputs)` (a tensor input is wrapped in a tuple). rotate_input / rotate_output: one
    kind for all, a sequence per input/output, or a dict per output key (see module doc). rotation: use this
    `[3, 3]` matrix (e.g. a reflection) instead of random ones (then one trial). Returns a float.
    """
    if torch.is_tensor(inputs):
        inputs = (inputs,)
    inputs = tuple(inputs)
    dtype = next((t.dtype for t in inputs if torch.is_tensor(t) and t.is_floating_point()), torch.float64)
    rotations = [rotation] if rotation is not None else [
        random_rotation(dtype=torch.float64, generator=generator) for _ in range(n_trials)]
    worst = 0.0
    with torch.no_grad():
        out = fn(*inputs)
        for R in rotations:
            R = R.to(dtype=dtype)
            moved_in = _map(rotate_input, inputs, lambda t, kind: transform(t, R, kind) if torch.is_tensor(t) else t)
            out_of_moved = fn(*moved_in)
            moved_out = _map(rotate_output, out, lambda t, kind: transform(t, R, kind) if torch.is_tensor(t) else t)
            for a, b in zip(_leaves(out_of_moved), _leaves(moved_out)):
                if a.numel():
                    worst = max(worst, (a - b).abs().max().item())
    return worst


def assert_equivariant(fn, inputs, rotate_input="points", rotate_output="vector", atol=None, n_trials=3,
                       generator=None):
    """Raise AssertionError when `equivariance_error` exceeds atol (default `DEFAULT_ATOL` of the input dtype).

    Returns the error. Example: `assert_equivariant(layer, x, rotate_input="vector", rotate_output="vector")`.
    """
    if torch.is_tensor(inputs):
        inputs = (inputs,)
    if atol is None:
        dtype = next((t.dtype for t in inputs if torch.is_tensor(t) and t.is_floating_point()), torch.float64)
        atol = DEFAULT_ATOL.get(dtype, 1e-4)
    err = equivariance_error(fn, inputs, rotate_input, rotate_output, n_trials=n_trials, generator=generator)
    assert err <= atol, f"equivariance error {err:.3e} > atol {atol:.1e}"
    return err


def permutation_error(fn, x, dim=-1, n_trials=3, generator=None):
    """Largest `|f(x) - f(x permuted along dim)|` over random permutations (fn should be invariant)."""
    worst = 0.0
    with torch.no_grad():
        ref = fn(x)
        for _ in range(n_trials):
            perm = torch.randperm(x.shape[dim], generator=generator).to(x.device)
            out = fn(x.index_select(dim, perm))
            for a, b in zip(_leaves(out), _leaves(ref)):
                worst = max(worst, (a - b).abs().max().item())
    return worst


def assert_permutation_invariant(fn, x, dim=-1, atol=None, n_trials=3, generator=None):
    """Raise AssertionError when reordering x along `dim` (points) changes `fn(x)` by more than atol."""
    if atol is None:
        atol = DEFAULT_ATOL.get(x.dtype, 1e-4)
    err = permutation_error(fn, x, dim=dim, n_trials=n_trials, generator=generator)
    assert err <= atol, f"permutation error {err:.3e} > atol {atol:.1e}"
    return err
