"""Evaluation of the detector: matching predictions to ground truth, metrics, report folders."""
from vn_perception.evaluation.matching import DEFAULT_MATCH_THRESHOLD_M, FrameMatch, match_by_distance

__all__ = ["DEFAULT_MATCH_THRESHOLD_M", "FrameMatch", "match_by_distance"]
