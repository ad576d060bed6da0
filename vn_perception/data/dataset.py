"""Synthetic view sets cached on disk, and a torch Dataset over them with on-the-fly augmentation.

A set is `views_per_object` views (`data/views.py`) of every catalog object, for one split (train / val /
test) and one `ViewConfig`. View `j` of object `i` in split `s` is drawn from the generator seeded with
`(seed, crc32(s), i, j)`, so sets are identical whatever the number of worker processes, and the splits
never share a view. Sets are cached as .npz under `$VN_CACHE_DIR` or `<repo>/.cache/vn_perception/views`
(one file per object while generating, so an interrupted run resumes; merged at the end), keyed by a hash
of the catalog (mesh contents included), the view parameters, the split, the seed and the view count.

Arrays of a set (M = objects x views): `points [M, P, 3]` float32 (centred, metres, camera frame),
`label [M]` int64 (class index), `rotation [M, 3, 3]` float32 (object -> camera), `centroid [M, 3]`,
`up [M, 3]` (world up in the camera frame), `object_index [M]`, `num_visible [M]`.
"""
import hashlib
import json
import multiprocessing
import os
import threading
import zlib
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation
from tqdm.auto import tqdm

from vn_perception.data.paths import default_cache_dir
from vn_perception.data.views import render_view

#: bump when the view generator changes in a way that invalidates cached sets
GENERATOR_VERSION = 1
ARRAY_KEYS = ("points", "label", "rotation", "centroid", "up", "object_index", "num_visible")


def view_rng(seed, split, object_index, view_index):
    """The generator of one view (independent of the order of generation)."""
    return np.random.default_rng([int(seed), zlib.crc32(split.encode()), int(object_index), int(view_index)])


def set_key(catalog, config, views_per_object, seed, split):
    """Cache key: hash of everything the set depends on."""
    spec = {"catalog": catalog.fingerprint(), "classes": catalog.classes, "config": config.describe(),
            "views": int(views_per_object), "seed": int(seed), "split": split, "version": GENERATOR_VERSION}
    return hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def render_object_views(catalog, object_index, config, views_per_object, seed, split):
    """All views of one object -> dict of arrays (see module doc)."""
    entry = catalog.entries[object_index]
    mesh = entry.load_mesh()
    label = catalog.label_index(entry)
    out = {k: [] for k in ARRAY_KEYS}
    for j in range(views_per_object):
        rng = view_rng(seed, split, object_index, j)
        view = render_view(mesh, config, rng)
        for key, value in (("points", view.points), ("label", label), ("rotation", view.rotation),
                           ("centroid", view.centroid), ("up", view.up), ("object_index", object_index),
                           ("num_visible", view.num_visible)):
            out[key].append(value)
    return {k: np.asarray(v) for k, v in out.items()}


def _save_atomically(path, arrays):
    """`np.savez` under a name unique to this process and thread, then a rename: writers of the same cache entry
    (two trainings asking for the same views at once) never rename or read each other's partial files."""
    tmp = path.with_name(f"{path.name[:-len('.npz')]}.{os.getpid()}-{threading.get_ident()}.tmp.npz")
    path.parent.mkdir(parents=True, exist_ok=True)        # the other writer may have finished and removed it
    np.savez(tmp, **arrays)
    tmp.replace(path)


def _load_arrays(path):
    with np.load(path) as data:
        return {k: data[k] for k in ARRAY_KEYS}


def _render_part(job):
    catalog, i, config, views, seed, split, part = job
    _save_atomically(part, render_object_views(catalog, i, config, views, seed, split))
    return i


def make_view_set(catalog, config, views_per_object, seed=0, split="train", cache_dir=None, workers=0,
                  progress=True):
    """The view set (dict of arrays), generated or read from the cache. `workers > 1` renders objects in
    that many processes. Interrupted generation resumes from the objects already written."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = set_key(catalog, config, views_per_object, seed, split)
    final = cache_dir / f"{split}_{config.protocol}_{key}.npz"
    if final.is_file():
        return _load_arrays(final)
    parts_dir = cache_dir / f"{split}_{config.protocol}_{key}.parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    parts = [parts_dir / f"object_{i:04d}.npz" for i in range(len(catalog))]
    jobs = [(catalog, i, config, views_per_object, seed, split, parts[i])
            for i in range(len(catalog)) if not parts[i].is_file()]
    bar = tqdm(total=len(catalog), initial=len(catalog) - len(jobs), desc=f"rendering {split} views",
               unit="object", disable=not progress)
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(_render_part, jobs):
                bar.update()
    else:
        for job in jobs:
            _render_part(job)
            bar.update()
    bar.close()
    try:
        chunks = [_load_arrays(part) for part in parts]
    except FileNotFoundError:           # another process finished the same set and removed its parts meanwhile
        if final.is_file():
            return _load_arrays(final)
        raise
    arrays = {k: np.concatenate([c[k] for c in chunks]) for k in ARRAY_KEYS}
    _save_atomically(final, arrays)
    for part in parts:
        part.unlink(missing_ok=True)
    try:
        parts_dir.rmdir()
    except OSError:                     # gone already, or another process's temporary file still in it
        pass
    return arrays


def subsample(points, num_points, seed=0):
    """A fixed random subset of `num_points` of the stored points of every view: `[M, P, 3] -> [M, num_points, 3]`
    (seeded; the same point slots for every view)."""
    if num_points >= points.shape[1]:
        return points
    order = np.random.default_rng(seed).permutation(points.shape[1])[:num_points]
    return np.ascontiguousarray(points[:, order])


def rotate_view(points, rotation, Q):
    """Turn a view by `Q`: points `[P, 3]` -> `points Q^T`, label `R` -> `Q R` (both stay consistent)."""
    return points @ Q.T, Q @ rotation


class ViewDataset(torch.utils.data.Dataset):
    """Items `{"points": [P, 3] float32, "label": int64, "rotation": [3, 3] float32}` of a view set.

    Augmentation (training only; reseeded per epoch with `set_epoch`, deterministic for `seed`):
      * `rotate`: None; "so3" (uniform random rotation of points and label); "z" (random turn about the
        view's world up axis: the object stays upright);
      * `jitter_m`: Gaussian noise per coordinate (standard deviation, metres), clipped at 3 sigma;
      * `dropout_max`: drop a random fraction (uniform up to it) of the points and refill the set by
        resampling the kept ones (point count unchanged);
      * `num_points` (fewer than stored): a random subset of that many points per item and epoch.
    """

    def __init__(self, arrays, rotate=None, jitter_m=0.0, dropout_max=0.0, num_points=None, seed=0):
        if rotate not in (None, "z", "so3"):
            raise ValueError(f"unknown rotate augmentation {rotate!r}: expected None, 'z' or 'so3'")
        self.points = arrays["points"]
        self.labels = arrays["label"]
        self.rotations = arrays["rotation"]
        self.up = arrays["up"]
        self.rotate, self.jitter_m, self.dropout_max, self.seed = rotate, jitter_m, dropout_max, seed
        self.num_points = int(num_points or self.points.shape[1])
        if self.num_points > self.points.shape[1]:
            raise ValueError(f"num_points {self.num_points} > {self.points.shape[1]} stored points per view")
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        points = self.points[index].astype(np.float64)
        rotation = self.rotations[index].astype(np.float64)
        subset = self.num_points < len(points)
        if self.rotate or self.jitter_m > 0 or self.dropout_max > 0 or subset:
            rng = np.random.default_rng([self.seed, self.epoch, int(index)])
            if subset:
                points = points[rng.choice(len(points), self.num_points, replace=False)]
            if self.rotate == "so3":
                points, rotation = rotate_view(points, rotation, Rotation.random(random_state=rng).as_matrix())
            elif self.rotate == "z":
                Q = Rotation.from_rotvec(self.up[index] * rng.uniform(0, 2 * np.pi)).as_matrix()
                points, rotation = rotate_view(points, rotation, Q)
            if self.dropout_max > 0:
                keep = rng.random(len(points)) >= rng.uniform(0, self.dropout_max)
                kept = np.flatnonzero(keep) if keep.any() else np.arange(len(points))
                points = points[np.concatenate([kept, rng.choice(kept, len(points) - len(kept))])]
            if self.jitter_m > 0:
                points = points + np.clip(rng.normal(0, self.jitter_m, points.shape), -3 * self.jitter_m,
                                          3 * self.jitter_m)
        return {"points": torch.from_numpy(points.astype(np.float32)),
                "label": torch.tensor(int(self.labels[index])),
                "rotation": torch.from_numpy(rotation.astype(np.float32))}
