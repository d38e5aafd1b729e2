"""Sub-goal planning over the topological graph: candidates, scoring (heuristic or learned), state machine.

Pure Python core (numpy; torch only for RND and the learned meta-controller). See docs/planning.md.
"""

from toponav.planning.candidates import FEATURE_DIM, FEATURE_NAMES, ScoringWeights
from toponav.planning.graph import GraphError, Place, PlaceGraph
from toponav.planning.planner import PlannerConfig, State, SubgoalDecision, SubgoalPlanner

__all__ = ["FEATURE_DIM", "FEATURE_NAMES", "GraphError", "Place", "PlaceGraph", "PlannerConfig", "ScoringWeights",
           "State", "SubgoalDecision", "SubgoalPlanner"]
