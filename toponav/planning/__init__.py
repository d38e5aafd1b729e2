"""Sub-goal planning over the topological graph: candidates, scoring (heuristic or learned), state machine.

Pure Python core (numpy; torch only for RND and the learned meta-controller). See docs/planning.md.
"""

from toponav.planning.graph import GraphError, Place, PlaceGraph
from toponav.planning.planner import Decision, PlannerConfig, State, SubgoalPlanner
from toponav.planning.scoring import FEATURE_DIM, FEATURE_NAMES, ScoringWeights

__all__ = ["FEATURE_DIM", "FEATURE_NAMES", "Decision", "GraphError", "Place", "PlaceGraph", "PlannerConfig",
           "ScoringWeights", "State", "SubgoalPlanner"]
