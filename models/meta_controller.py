"""h-DQN style meta-controller (Kulkarni et al. 2016): a Q-network that picks the next sub-goal.

The "action" of the meta-controller is the choice of one candidate sub-goal (a frontier or a graph
node). The candidate set changes size and meaning at every decision, so the network scores each
candidate from its own feature vector (shared weights, like a pointer/ranking network):
``Q(s, c) = MLP([candidate features c, context features of s])``. A mask removes padding and
blacklisted candidates. Feature definitions live in :mod:`toponav.planning.features` so the ROS node,
the training environment and the benchmark compute them identically.

Checkpoints use the shared :mod:`toponav.models.checkpoint` format (kind ``meta_controller``);
a missing, corrupt or incompatible file raises :class:`CheckpointError` with the reason, and callers
(the planner) fall back to the heuristic scorer and say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from toponav.models.checkpoint import CheckpointError, load_checkpoint, load_state, save_checkpoint

__all__ = ["CheckpointError", "MetaController", "load_meta_controller", "save_meta_controller"]

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


KIND = "meta_controller"


def save_meta_controller(model: MetaController, path: str | Path, feature_names: list[str],
                         meta: dict[str, Any] | None = None) -> Path:
    """Write weights + the feature names they were trained on (checked again at load)."""
    config = {"feature_dim": model.feature_dim, "hidden": model.hidden, "feature_names": list(feature_names)}
    return save_checkpoint(path, KIND, model.state_dict(), config, meta)


def load_meta_controller(path: str | Path, feature_names: list[str] | None = None) -> tuple[MetaController, dict]:
    """Load a checkpoint written by :func:`save_meta_controller`; raise :class:`CheckpointError` on any fault."""
    ckpt = load_checkpoint(path, KIND)
    names = list(ckpt.config.get("feature_names", []))
    if feature_names is not None and names != list(feature_names):
        raise CheckpointError(path, f"trained on features {names}, this planner computes {list(feature_names)}")
    try:
        model = MetaController(int(ckpt.config["feature_dim"]), int(ckpt.config["hidden"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(path, f"config does not describe a meta-controller: {exc}") from None
    load_state(model, ckpt)
    model.eval()
    return model, dict(ckpt.meta)
