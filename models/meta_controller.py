"""h-DQN style meta-controller (Kulkarni et al. 2016): a Q-network that picks the next sub-goal.

The "action" of the meta-controller is the choice of one candidate sub-goal (a frontier or a graph
node). The candidate set changes size and meaning at every decision, so the network scores each
candidate from its own feature vector (shared weights, like a pointer/ranking network):
``Q(s, c) = MLP([candidate features c, context features of s])``. A mask removes padding and
blacklisted candidates. Feature definitions live in :mod:`toponav.planning.features` so the ROS node,
the training environment and the benchmark compute them identically.

Checkpoints are plain ``state_dict`` + metadata dicts loaded with ``torch.load(weights_only=True)``;
a missing, corrupt or incompatible file raises :class:`CheckpointError` with the reason, and callers
(the planner) fall back to the heuristic scorer and say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT = "toponav.meta_controller/1"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable, corrupt or does not fit the model."""


class MetaController(nn.Module):
    """Per-candidate Q-values ``(B, K)`` from features ``(B, K, F)`` and a validity mask ``(B, K)``."""

    def __init__(self, feature_dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.feature_dim = int(feature_dim)
        self.hidden = int(hidden)
        self.net = nn.Sequential(
            nn.Linear(self.feature_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 1),
        )
        # Set-level context: each candidate also sees the mean of all valid candidates' features.
        self.context = nn.Linear(self.feature_dim, hidden, bias=False)

    def forward(self, feats: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if feats.dim() == 2:
            feats = feats.unsqueeze(0)
            mask = None if mask is None else mask.unsqueeze(0)
            return self.forward(feats, mask).squeeze(0)
        if mask is None:
            mask = torch.ones(feats.shape[:2], dtype=torch.bool)
        m = mask.to(feats.dtype).unsqueeze(-1)
        mean = (feats * m).sum(1) / m.sum(1).clamp(min=1.0)
        h = self.net[0](feats) + self.context(mean).unsqueeze(1)
        for layer in list(self.net)[1:]:
            h = layer(h)
        q = h.squeeze(-1)
        return q.masked_fill(~mask.bool(), float("-inf"))


def save_meta_controller(model: MetaController, path: str | Path, feature_names: list[str],
                         meta: dict[str, Any] | None = None) -> None:
    """Write weights + the feature names they were trained on (checked again at load)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({
        "format": FORMAT,
        "feature_dim": model.feature_dim,
        "hidden": model.hidden,
        "feature_names": list(feature_names),
        "state_dict": model.state_dict(),
        "meta": dict(meta or {}),
    }, path)


def load_meta_controller(path: str | Path, feature_names: list[str] | None = None) -> tuple[MetaController, dict]:
    """Load a checkpoint written by :func:`save_meta_controller`; raise :class:`CheckpointError` on any fault."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"meta-controller checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/garbage files
        raise CheckpointError(f"meta-controller checkpoint {path} is corrupt or unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a meta-controller checkpoint (format {FORMAT!r} expected)")
    names = list(data.get("feature_names", []))
    if feature_names is not None and names != list(feature_names):
        raise CheckpointError(f"{path} was trained on features {names}, this planner computes {list(feature_names)}")
    try:
        model = MetaController(int(data["feature_dim"]), int(data["hidden"]))
        model.load_state_dict(data["state_dict"])
    except Exception as exc:
        raise CheckpointError(f"{path} does not fit the meta-controller network: {exc}") from None
    model.eval()
    return model, dict(data.get("meta", {}))
