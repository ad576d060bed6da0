"""Segmentation quality against ground-truth instance masks: IoU matching, recall, precision."""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MatchCounts:
    """Counts of one or more frames.

    objects: evaluated ground-truth objects; recalled: those with a cluster at IoU >= threshold;
    clusters: predicted clusters; correct: clusters with IoU >= threshold against any ground-truth object
    (evaluated or not: a cluster on a barely visible object is not a false positive).
    """
    objects: int = 0
    recalled: int = 0
    clusters: int = 0
    correct: int = 0

    def __add__(self, other):
        return MatchCounts(*(a + b for a, b in zip(
            (self.objects, self.recalled, self.clusters, self.correct),
            (other.objects, other.recalled, other.clusters, other.correct))))

    @property
    def recall(self):
        return self.recalled / self.objects if self.objects else float("nan")

    @property
    def precision(self):
        return self.correct / self.clusters if self.clusters else float("nan")


def iou_matrix(cluster_indices, gt_labels):
    """IoU of every cluster against every ground-truth object.

    cluster_indices: list of K index arrays into a flat pixel/point array; gt_labels: flat int array of that
    size, 0 = background, 1..G = object ids (relabel to 1..G first). Returns (K, G) float64.
    IoU >= 0.5 is one-to-one: two disjoint clusters cannot both exceed it against one object.
    """
    gt_labels = np.asarray(gt_labels).reshape(-1)
    objects = int(gt_labels.max()) if gt_labels.size else 0
    gt_sizes = np.bincount(gt_labels, minlength=objects + 1)[1:]
    ious = np.zeros((len(cluster_indices), objects))
    for k, indices in enumerate(cluster_indices):
        overlap = np.bincount(gt_labels[indices], minlength=objects + 1)[1:]
        ious[k] = overlap / (len(indices) + gt_sizes - overlap)
    return ious


def match_counts(cluster_indices, gt_labels, evaluated, iou_threshold=0.5):
    """MatchCounts of one frame.

    evaluated: (G,) bool, which ground-truth objects count for recall (e.g. those >= 50 % visible).
    """
    ious = iou_matrix(cluster_indices, gt_labels)
    hit = ious >= iou_threshold
    evaluated = np.asarray(evaluated, dtype=bool)
    return MatchCounts(objects=int(evaluated.sum()), recalled=int((hit.any(axis=0) & evaluated).sum()),
                       clusters=len(cluster_indices), correct=int(hit.any(axis=1).sum()))
