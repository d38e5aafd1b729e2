"""Checkpoint io shared by every shipped model: one file = weights + the config that builds the module.

A checkpoint is a plain dict saved with ``torch.save`` and read back with
``torch.load(weights_only=True)`` (no pickled code runs on load)::

    {"format": "toponav-checkpoint", "version": 1, "kind": "avoidance_policy",
     "config": {...plain values that rebuild the module...},
     "meta": {...command, steps, seed, results...},
     "state_dict": {...tensors...}}

Every failure (missing file, truncated/corrupt file, another kind of model, tensors whose shapes do
not fit the module) raises :class:`CheckpointError` with the path and the reason, so callers such as
ROS nodes can log one clear line and fall back instead of crashing with a torch traceback.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT = "toponav-checkpoint"
VERSION = 1

#: where the shipped checkpoints live: ``models/checkpoints`` in a source checkout, ``toponav/models/checkpoints``
#: once installed (this module is ``toponav.models.checkpoint`` in both)
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


def default_checkpoint(kind: str) -> Path:
    """The shipped checkpoint of one model ``kind`` (``avoidance_policy``, ``meta_controller``, ...).

    One lookup for every loader, so an installed package and a source checkout find the same files.
    """
    return CHECKPOINT_DIR / f"{kind}.pt"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, of the wrong kind or does not fit the module."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"checkpoint {path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class Checkpoint:
    """What a checkpoint file holds, after validation."""

    kind: str
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)
    path: str = ""


def _plain(value: Any, where: str) -> Any:
    """Keep only values ``weights_only`` loading accepts (and that JSON could show)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[]") for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return value.item()
    raise TypeError(f"{where}: {type(value).__name__} cannot be stored in a checkpoint (plain values only)")


def save_checkpoint(path: str | Path, kind: str, state_dict: Mapping[str, torch.Tensor],
                    config: Mapping[str, Any] | None = None, meta: Mapping[str, Any] | None = None) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves a half-written checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "kind": str(kind),
        "config": _plain(dict(config or {}), "config"),
        "meta": _plain(dict(meta or {}), "meta"),
        "state_dict": {k: v.detach().cpu().clone() for k, v in state_dict.items()},
    }
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(path: str | Path, kind: str | None = None) -> Checkpoint:
    """Read and validate a checkpoint file; ``kind`` (when given) must match what was saved."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt/unsafe files
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(path, f"cannot be read ({type(exc).__name__}: {first})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(path, f"not a toponav checkpoint (expected format '{FORMAT}')")
    if payload.get("version") != VERSION:
        raise CheckpointError(path, f"unsupported version {payload.get('version')!r} (this build reads {VERSION})")
    saved_kind = payload.get("kind")
    if kind is not None and saved_kind != kind:
        raise CheckpointError(path, f"holds a '{saved_kind}' model, expected '{kind}'")
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(path, "state_dict is missing or holds non-tensor values")
    config = payload.get("config") or {}
    meta = payload.get("meta") or {}
    if not isinstance(config, dict) or not isinstance(meta, dict):
        raise CheckpointError(path, "config/meta must be mappings")
    return Checkpoint(kind=str(saved_kind), config=config, state_dict=state, meta=meta, path=str(path))


def load_state(module: nn.Module, ckpt: Checkpoint) -> nn.Module:
    """Load ``ckpt.state_dict`` into ``module`` strictly; missing/extra keys or shape mismatches -> CheckpointError."""
    own = module.state_dict()
    missing = sorted(set(own) - set(ckpt.state_dict))
    unexpected = sorted(set(ckpt.state_dict) - set(own))
    if missing or unexpected:
        raise CheckpointError(ckpt.path,
                              f"keys do not match the module (missing {missing[:5]}, unexpected {unexpected[:5]})")
    bad = [f"{k}: file {tuple(v.shape)} vs module {tuple(own[k].shape)}"
           for k, v in ckpt.state_dict.items() if tuple(v.shape) != tuple(own[k].shape)]
    if bad:
        raise CheckpointError(ckpt.path, "shape mismatch: " + "; ".join(bad[:5]))
    nonfinite = [k for k, v in ckpt.state_dict.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if nonfinite:
        raise CheckpointError(ckpt.path, f"non-finite weights in {nonfinite[:5]}")
    module.load_state_dict(ckpt.state_dict, strict=True)
    return module
