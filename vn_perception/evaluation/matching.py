"""One-to-one matching of predicted objects to ground-truth objects of a frame by centre distance.

Optimal assignment (scipy `linear_sum_assignment`) among pairs closer than a threshold: the largest number of
such pairs, and among those the set of minimum total distance.

What is compared: a prediction's `position` is the centre of the box around the object's visible points, aligned
with the predicted rotation; a ground-truth position is the origin of the object's frame (the pose translation;
for the YCB-Video meshes the middle of the object, within 2.5 cm of its bounding-box centre). The two are not the
same point. With the true rotation the box spans the object's full extents along the axes whose both faces are
seen, so its centre stays near the origin: on the real dev frames 1.3 cm away in the median, 4.1 cm at the 90th
percentile, 5.4 cm at most (`evaluation.real_frames`). With a wrong rotation it drifts towards the centre of the
visible surface (3.3 cm from the origin in the median, 6.5 cm at most). The default threshold, 5 cm, tolerates
nearly all of that and stays below the centre spacing of distinct neighbouring objects; `Evaluation` also
counts near misses (a missed object with an unmatched prediction within twice the threshold) so that the effect
of the threshold shows in every report.
"""
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

#: default largest centre distance of a match (metres; see the module docstring)
DEFAULT_MATCH_THRESHOLD_M = 0.05


@dataclass
class FrameMatch:
    """Result of matching one frame: `pairs [M, 2]` (prediction index, ground-truth index), their centre
    `distances [M]` (metres), and the indices left unmatched on each side."""

    pairs: np.ndarray
    distances: np.ndarray
    unmatched_predictions: np.ndarray
    unmatched_ground_truth: np.ndarray


def match_by_distance(predicted, truth, threshold_m=DEFAULT_MATCH_THRESHOLD_M):
    """Match predicted centres `[P, 3]` to ground-truth centres `[G, 3]`: as many pairs with distance <=
    `threshold_m` as possible, of minimum total distance among those (no pair beyond it is ever made)."""
    predicted = np.asarray(predicted, dtype=float).reshape(-1, 3)
    truth = np.asarray(truth, dtype=float).reshape(-1, 3)
    pairs = np.empty((0, 2), dtype=int)
    if len(predicted) and len(truth):
        distances = cdist(predicted, truth)
        # a pair beyond the threshold costs more than any set of feasible pairs, so the assignment first uses
        # as few of them as possible (most feasible pairs), then minimises distance; they are dropped after
        infeasible_cost = threshold_m * (min(distances.shape) + 1) + 1.0
        rows, cols = linear_sum_assignment(np.where(distances <= threshold_m, distances, infeasible_cost))
        keep = distances[rows, cols] <= threshold_m
        pairs = np.stack([rows[keep], cols[keep]], axis=1)
    distances = np.linalg.norm(predicted[pairs[:, 0]] - truth[pairs[:, 1]], axis=1) if len(pairs) else np.empty(0)
    return FrameMatch(pairs, distances, np.setdiff1d(np.arange(len(predicted)), pairs[:, 0]),
                      np.setdiff1d(np.arange(len(truth)), pairs[:, 1]))
