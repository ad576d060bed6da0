"""ObjectClassifier: the public inference API (point clusters in, class + orientation out).

    from vn_perception.classifier import ObjectClassifier
    clf = ObjectClassifier.load()                       # the shipped model (assets/default_model.pt)
    preds = clf.predict([points_1, points_2])           # each (N_i, 3), metres, sensor frame
    preds[0].label, preds[0].score, preds[0].rotation   # class name, its probability, object -> sensor

Preprocessing (the same as in training, `data/views.py`): each cloud is centred on its mean (`centroid`)
and resampled to the model's `num_points` (without replacement when it has more points, all points plus
random repeats when fewer), with a fixed seed per cloud, so a cloud's prediction does not depend on the
call or on the other clouds of the call. All clouds go through the network in one batched forward pass.

`rotation` maps the object's frame (the frame of that class's mesh in the training catalog) to the sensor
frame. The network sees centred points, so it predicts orientation only: `centroid` is the mean of the
given points, which for a partial view is generally NOT the origin of the mesh frame (it lies towards the
visible side). For a symmetric class, `rotation` is one member of the set of equivalent rotations
(`clf.symmetries[i]`).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from vn_perception.data.views import sample_points
from vn_perception.models.checkpoint import load_checkpoint
from vn_perception.models.symmetry import Symmetry
from vn_perception.utils.device import resolve_device

#: Fewest points accepted per cloud: a partial view with fewer carries too little shape to recognise an
#: object (training views have >= 48 points; the network resamples every cloud to `num_points`).
MIN_POINTS = 32
#: The shipped model.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "assets" / "default_model.pt"
#: Seed of the per-cloud resampling.
RESAMPLING_SEED = 0


@dataclass
class Prediction:
    """One cloud's result: `label` (class name), `index` (class index), `score` (probability of `label`),
    `probabilities [K]`, `rotation [3, 3]` (object -> sensor frame), `centroid [3]` (mean of the points, m).

    Models with a multi-hypothesis orientation head (`orientation: multi_frame`) also fill
    `rotation_hypotheses [H, 3, 3]` (candidate rotations, object -> sensor) and `rotation_confidences [H]`
    (their softmax probabilities; `rotation` is the most confident); None for the other models.
    With mesh refinement (`perception.mesh_pose.MeshRefinedClassifier`) `rotation` is the fitted one and
    `translation [3]` (m) is the mesh origin in the sensor frame, `fit_rms_m` the fit's RMS distance; None
    otherwise.
    """

    label: str
    index: int
    score: float
    probabilities: np.ndarray
    rotation: np.ndarray
    centroid: np.ndarray
    rotation_hypotheses: Optional[np.ndarray] = None
    rotation_confidences: Optional[np.ndarray] = None
    translation: Optional[np.ndarray] = None
    fit_rms_m: Optional[float] = None


class ObjectClassifier:
    """A trained network plus its class names, symmetries and preprocessing.

    `model`: a `models.build_model` network (`points [B, N, 3] -> {"logits", "rotation"}`); `classes`:
    class names; `symmetries`: one `Symmetry` (or its string) per class; `num_points`: points per cloud fed
    to the network; `device`: auto | cpu | cuda; `metadata`: the checkpoint's metadata (dict).
    """

    MIN_POINTS = MIN_POINTS

    def __init__(self, model, classes, symmetries=None, num_points=512, device="auto", metadata=None):
        self.classes = [str(c) for c in classes]
        symmetries = symmetries if symmetries is not None else ["none"] * len(self.classes)
        if len(symmetries) != len(self.classes):
            raise ValueError(f"{len(symmetries)} symmetries for {len(self.classes)} classes")
        self.symmetries = [s if isinstance(s, Symmetry) else Symmetry.parse(s) for s in symmetries]
        self.num_points = int(num_points)
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.metadata = dict(metadata or {})
        self._network = self.model            # what predict calls: the model, or its compiled form
        self.compiled = False

    @classmethod
    def load(cls, path=None, device="auto", compile=False):
        """A classifier from a checkpoint (`None`: the shipped default model). Raises `CheckpointError`.

        compile: `torch.compile` the network (see `compile`); when that fails the classifier runs uncompiled.
        """
        checkpoint = load_checkpoint(DEFAULT_MODEL_PATH if path is None else path)
        meta = checkpoint.metadata
        classifier = cls(checkpoint.build_model(), meta["classes"], meta["symmetries"],
                         meta["preprocessing"]["num_points"], device, meta)
        if compile:
            classifier.compile()
        return classifier

    def compile(self):
        """`torch.compile` the network for inference (`models.compile.compile_for_inference`: fused kernels,
        a dynamic batch size, warmed up here, ~45 s the first time in a process without inductor's disk cache).
        Returns None, or the reason it failed (then predictions run uncompiled). `compiled` tells which."""
        from vn_perception.models.compile import compile_for_inference
        self._network, error = compile_for_inference(self.model, self.num_points, self.device)
        self.compiled = error is None
        return error

    def preprocess(self, clouds):
        """Clouds -> (network input `[B, num_points, 3]` float32, centroids `[B, 3]` float64); validates."""
        batch, centroids = [], []
        for i, cloud in enumerate(clouds):
            points = np.asarray(cloud.detach().cpu() if torch.is_tensor(cloud) else cloud, dtype=np.float64)
            if points.ndim != 2 or points.shape[1] != 3:
                raise ValueError(f"cloud {i}: expected an (N, 3) array, got shape {points.shape}")
            if len(points) < MIN_POINTS:
                raise ValueError(f"cloud {i}: {len(points)} points, fewer than MIN_POINTS = {MIN_POINTS}")
            if not np.isfinite(points).all():
                raise ValueError(f"cloud {i}: NaN or infinite coordinates")
            centroid = points.mean(axis=0)
            rng = np.random.default_rng(RESAMPLING_SEED)
            batch.append(sample_points(points - centroid, self.num_points, rng))
            centroids.append(centroid)
        return np.stack(batch).astype(np.float32), np.stack(centroids)

    def predict(self, clouds):
        """List of `(N_i, 3)` clouds (metres, sensor frame; N_i >= MIN_POINTS) -> list of `Prediction`.

        One batched forward pass (eval mode, no autograd). Raises ValueError for a cloud with the wrong
        shape, fewer than MIN_POINTS points or non-finite values.
        """
        clouds = list(clouds)
        if not clouds:
            return []
        points, centroids = self.preprocess(clouds)
        with torch.inference_mode():
            out = self._network(torch.from_numpy(points).to(self.device))
            probabilities = torch.softmax(out["logits"].double(), dim=1).cpu().numpy()
            rotations = out["rotation"].double().cpu().numpy()
            hypotheses = out["hypotheses"].double().cpu().numpy() if "hypotheses" in out else [None] * len(points)
            confidences = (torch.softmax(out["confidence"].double(), dim=1).cpu().numpy() if "confidence" in out
                           else [None] * len(points))
        predictions = []
        for p, R, c, h, w in zip(probabilities, rotations, centroids, hypotheses, confidences):
            k = int(np.argmax(p))
            predictions.append(Prediction(self.classes[k], k, float(p[k]), p, R, c, h, w))
        return predictions
