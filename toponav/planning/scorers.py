"""Sub-goal scorers: the heuristic weighted sum and the learned meta-controller, behind one interface.

``make_scorer`` builds the one the config asks for. When ``mode == "learned"`` and the checkpoint is
missing, corrupt or was trained on other features, it logs the reason as an error and falls back to the
heuristic scorer (mode reported as ``heuristic (fallback)``), so a robot never stops for a bad file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from toponav.planning.candidates import FEATURE_NAMES, Candidates, ScoringWeights, heuristic_scores

if TYPE_CHECKING:
    from toponav.planning.planner import PlannerConfig

class Scorer(Protocol):
    name: str

    def score(self, cands: Candidates) -> np.ndarray: ...


class HeuristicScorer:
    name = "heuristic"

    def __init__(self, weights: ScoringWeights) -> None:
        self.weights = weights

    def score(self, cands: Candidates) -> np.ndarray:
        return heuristic_scores(cands.features, self.weights)


class LearnedScorer:
    """Q-values of the h-DQN meta-controller over the candidate features."""

    name = "learned"

    def __init__(self, model) -> None:
        self.model = model

    def score(self, cands: Candidates) -> np.ndarray:
        import torch

        with torch.no_grad():
            q = self.model(torch.as_tensor(cands.features, dtype=torch.float32))
        return q.numpy().astype(np.float64)

    @classmethod
    def load(cls, path: str | Path) -> LearnedScorer:
        from toponav.models.meta_controller import load_meta_controller

        model, _ = load_meta_controller(path, FEATURE_NAMES)
        return cls(model)


def make_scorer(cfg: PlannerConfig, log: Callable[[str, str], None]) -> tuple[Scorer, str]:
    """(scorer, mode label) for ``cfg.mode``; learned with a bad checkpoint -> heuristic + error log."""
    if cfg.mode == "explore_lite":
        from toponav.planning.explore_lite import ExploreLiteScorer

        return ExploreLiteScorer(cfg.explore_lite), "explore_lite"
    if cfg.mode != "learned":
        return HeuristicScorer(cfg.weights), "heuristic"
    from toponav.models.checkpoint import default_checkpoint
    from toponav.models.meta_controller import KIND, CheckpointError

    path = Path(cfg.checkpoint) if cfg.checkpoint else default_checkpoint(KIND)
    try:
        scorer = LearnedScorer.load(path)
    except CheckpointError as exc:
        log("error", f"cannot use the learned meta-controller: {exc}; falling back to the heuristic scorer")
        return HeuristicScorer(cfg.weights), "heuristic (fallback)"
    log("info", f"learned meta-controller loaded from {path}")
    return scorer, "learned"
