"""Device selection shared by every entry point (`device` parameter: auto | cpu | cuda)."""
import logging

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")
_log = logging.getLogger(__name__)


def resolve_device(name="auto"):
    """Return a `torch.device` for `name` in DEVICE_CHOICES (or 'cuda:N').

    `auto` picks CUDA when it is available. CUDA asked for but absent falls back to the CPU with a warning.
    """
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if torch.cuda.is_available():
            return torch.device(name)
        _log.warning("device %r requested but CUDA is not available: falling back to the CPU", name)
        return torch.device("cpu")
    raise ValueError(f"unknown device {name!r}: expected one of {', '.join(DEVICE_CHOICES)} or 'cuda:N'")
