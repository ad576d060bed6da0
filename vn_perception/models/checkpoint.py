"""Checkpoints: one file holding a model's weights and plain-JSON metadata; loading never executes code.

File layout (a `torch.save` dict, read back with `torch.load(weights_only=True)`, which only rebuilds
tensors and plain containers):

    {"format": "vn_perception.checkpoint", "version": 1,
     "state_dict": {name: tensor},            # model weights
     "metadata": {...},                        # JSON-able: see below
     "training_state": {...} | None}           # optimiser / scheduler state, epoch (resume only)

Metadata keys written by training (`training/train.py`): `classes` (list[str]), `symmetries` (one string per
class, `models.symmetry.Symmetry.parse`), `model_config` (`models.build_model` config), `preprocessing`
(`num_points`, `centering`: "mean"), `data` (catalog source, licence, objects, view parameters, views, seed),
`training` (command, epochs, optimiser), `metrics`.
"""
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from vn_perception.models.factory import build_model

FORMAT = "vn_perception.checkpoint"
VERSION = 1
REQUIRED_METADATA = ("classes", "symmetries", "model_config", "preprocessing")


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or incomplete; the message names the path."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: `state_dict`, `metadata` (plain JSON types), optional `training_state`, `path`."""

    state_dict: dict
    metadata: dict
    training_state: dict = None
    path: Path = None

    def build_model(self, device="cpu"):
        """The network of `metadata["model_config"]` with these weights, in eval mode on `device`."""
        try:
            model = build_model(self.metadata["model_config"])
            model.load_state_dict(self.state_dict)
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"checkpoint {self.path}: weights do not fit the model config: {e}") from e
        return model.to(device).eval()


def unwrap(model):
    """The bare module of a DistributedDataParallel / DataParallel wrapper (or `model` itself)."""
    return getattr(model, "module", model)


def save_checkpoint(path, model, metadata, training_state=None):
    """Write `model`'s weights (moved to the CPU) and `metadata` to `path` atomically (tmp file + rename).

    `metadata` must be JSON-serialisable (checked here: it is what `weights_only` loading can rebuild);
    `training_state` may hold tensors and plain containers (optimiser state dicts).
    """
    path = Path(path)
    try:
        metadata = json.loads(json.dumps(metadata))
    except TypeError as e:
        raise CheckpointError(f"checkpoint {path}: metadata is not plain JSON: {e}") from e
    state = {k: v.detach().cpu() for k, v in unwrap(model).state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, "state_dict": state, "metadata": metadata,
               "training_state": training_state}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path, map_location="cpu"):
    """Read a checkpoint with `torch.load(weights_only=True)` -> `Checkpoint`.

    Raises `CheckpointError` naming `path` when the file is missing, is not a readable checkpoint, or lacks
    a required metadata key (`REQUIRED_METADATA`).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # unpickling, zip and I/O errors all mean: not a usable checkpoint
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a vn_perception checkpoint")
    metadata = payload.get("metadata") or {}
    missing = [k for k in REQUIRED_METADATA if k not in metadata]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks metadata: {', '.join(missing)}")
    return Checkpoint(payload["state_dict"], metadata, payload.get("training_state"), path)
