"""Scores of a detector against per-frame ground truth: detection, classification, pose, latency.

Per frame the predictions are matched to the ground truth by centre distance (`matching.match_by_distance`):
  * detection: a matched pair is a true positive, an unmatched prediction a false positive, an unmatched
    ground-truth object a false negative -> precision, recall, F1; near misses: false negatives with an
    unmatched prediction within NEAR_MISS_FACTOR x the threshold (what a larger threshold would match);
  * classification accuracy: matched pairs whose predicted label is the ground-truth label / matched pairs;
  * rotation error: on correctly classified pairs only (a rotation is expressed in its class's mesh frame, so
    it has no meaning across classes), the angle of R_pred R_gt^T minimised over the ground-truth class's
    symmetry group (`models.symmetry.rotation_error_deg`); median, mean, accuracy at 5/10/15/30 degrees;
  * position error: centre distance of matched pairs (bounded by the match threshold; see `matching`);
  * latency: seconds per stage per frame as reported by the caller (pipeline timings, or receive - publish
    wall time of a live node), summarised as median / mean / p95 / max in milliseconds.
Frames without ground truth (None) count for detections and latency only.
"""
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from vn_perception.evaluation.matching import DEFAULT_MATCH_THRESHOLD_M, match_by_distance
from vn_perception.models.symmetry import Symmetry, rotation_error_deg

#: accuracy thresholds of the rotation error (degrees)
ROTATION_THRESHOLDS_DEG = (5, 10, 15, 30)
#: a missed object with an unmatched prediction within this many match thresholds is a near miss
NEAR_MISS_FACTOR = 2.0
#: the latency summary's upper percentile
LATENCY_PERCENTILE = 95
_MS_PER_S = 1000.0


@dataclass
class PairRecord:
    """One matched pair: `frame` index, labels, predicted `score`, centre distance (m), rotation error (deg;
    None when the labels differ)."""

    frame: int
    truth_label: str
    predicted_label: str
    score: float
    position_error_m: float
    rotation_error_deg: Optional[float]


@dataclass
class FrameRecord:
    """Counts of one frame (`ground_truth` None: no ground truth) and its stage timings (seconds)."""

    frame: int
    stamp_ns: int
    predictions: int
    ground_truth: Optional[int]
    true_positives: int = 0
    near_misses: int = 0
    timings_s: dict = field(default_factory=dict)


def _ratio(numerator, denominator):
    return numerator / denominator if denominator else None


def _stats(values):
    values = np.asarray(values, dtype=float)
    if not len(values):
        return None
    return {"median": float(np.median(values)), "mean": float(values.mean()),
            f"p{LATENCY_PERCENTILE}": float(np.percentile(values, LATENCY_PERCENTILE)), "max": float(values.max()),
            "count": int(len(values))}


def rotation_summary(errors_deg):
    """Median / mean error and the fraction under each of ROTATION_THRESHOLDS_DEG (None entries when empty)."""
    errors = np.asarray([e for e in errors_deg if e is not None], dtype=float)
    return {"pairs": int(len(errors)),
            "median_deg": float(np.median(errors)) if len(errors) else None,
            "mean_deg": float(errors.mean()) if len(errors) else None,
            "accuracy_at_deg": {str(t): (float((errors <= t).mean()) if len(errors) else None)
                                for t in ROTATION_THRESHOLDS_DEG}}


class Evaluation:
    """Accumulates frames; `summary()` gives the metrics as a JSON-able dict.

    `symmetries`: {class label: `Symmetry` or its string} (labels not listed: no symmetry);
    `threshold_m`: the centre-distance match threshold.
    """

    def __init__(self, symmetries=None, threshold_m=DEFAULT_MATCH_THRESHOLD_M):
        self.symmetries = {k: v if isinstance(v, Symmetry) else Symmetry.parse(v)
                           for k, v in (symmetries or {}).items()}
        self.threshold_m = float(threshold_m)
        self.frames, self.pairs = [], []
        self.missed, self.false_positives, self.predicted_labels = Counter(), Counter(), Counter()
        self.truth_labels = Counter()
        self.segmentation = None

    def symmetry(self, label):
        return self.symmetries.get(label) or Symmetry.parse("none")

    def add_frame(self, stamp_ns, predictions, ground_truth, timings_s=None, segmentation=None):
        """Score one frame. `predictions`, `ground_truth`: lists of `bag.ObjectPose` (ground truth None: not
        known); `timings_s`: {stage: seconds}; `segmentation`: optional `perception.metrics.MatchCounts`."""
        index = len(self.frames)
        self.predicted_labels.update(p.label for p in predictions)
        record = FrameRecord(index, int(stamp_ns), len(predictions),
                             None if ground_truth is None else len(ground_truth), timings_s=dict(timings_s or {}))
        self.frames.append(record)
        if segmentation is not None:
            self.segmentation = segmentation if self.segmentation is None else self.segmentation + segmentation
        if ground_truth is None:
            return record
        self.truth_labels.update(t.label for t in ground_truth)
        match = match_by_distance([p.position for p in predictions], [t.position for t in ground_truth],
                                  self.threshold_m)
        for (i, j), distance in zip(match.pairs, match.distances):
            predicted, truth = predictions[i], ground_truth[j]
            error = None
            if predicted.label == truth.label:
                error = float(rotation_error_deg(predicted.rotation, truth.rotation, self.symmetry(truth.label)))
            self.pairs.append(PairRecord(index, truth.label, predicted.label, float(predicted.score),
                                         float(distance), error))
        self.missed.update(ground_truth[j].label for j in match.unmatched_ground_truth)
        self.false_positives.update(predictions[i].label for i in match.unmatched_predictions)
        record.true_positives = len(match.pairs)
        record.near_misses = self._near_misses(predictions, ground_truth, match)
        return record

    def _near_misses(self, predictions, ground_truth, match):
        """Missed objects with an unmatched prediction within NEAR_MISS_FACTOR x the threshold."""
        if not len(match.unmatched_ground_truth) or not len(match.unmatched_predictions):
            return 0
        missed = np.array([ground_truth[j].position for j in match.unmatched_ground_truth], dtype=float)
        spare = np.array([predictions[i].position for i in match.unmatched_predictions], dtype=float)
        nearest = np.linalg.norm(missed[:, None] - spare[None], axis=-1).min(axis=1)
        return int((nearest <= NEAR_MISS_FACTOR * self.threshold_m).sum())

    # ------------------------------------------------------------------------------------------- summary
    def _per_class(self):
        out = {}
        for label in sorted(set(self.truth_labels) | set(self.predicted_labels)):
            pairs = [p for p in self.pairs if p.truth_label == label]
            correct = [p for p in pairs if p.predicted_label == label]
            rotation = rotation_summary([p.rotation_error_deg for p in correct])
            out[label] = {
                "ground_truth": self.truth_labels[label], "detected": len(pairs),
                "recall": _ratio(len(pairs), self.truth_labels[label]),
                "correct": len(correct), "accuracy": _ratio(len(correct), len(pairs)),
                "predicted": self.predicted_labels[label],
                "false_positives": self.false_positives[label],
                "rotation_median_deg": rotation["median_deg"],
                "rotation_accuracy_at_deg": rotation["accuracy_at_deg"],
            }
        return out

    def confusion(self):
        """{"labels": [...], "matrix": [[count]]}: matched pairs, rows = ground truth, columns = prediction."""
        labels = sorted({p.truth_label for p in self.pairs} | {p.predicted_label for p in self.pairs})
        index = {label: k for k, label in enumerate(labels)}
        matrix = np.zeros((len(labels), len(labels)), dtype=int)
        for p in self.pairs:
            matrix[index[p.truth_label], index[p.predicted_label]] += 1
        return {"labels": labels, "matrix": matrix.tolist()}

    def latency_ms(self):
        """{stage: stats in milliseconds} over frames that reported the stage."""
        stages = list(dict.fromkeys(stage for f in self.frames for stage in f.timings_s))
        return {stage: _stats([f.timings_s[stage] * _MS_PER_S for f in self.frames if stage in f.timings_s])
                for stage in stages}

    def summary(self):
        """The metrics (see the module docstring) as a JSON-able dict; fractions are None when undefined."""
        scored = [f for f in self.frames if f.ground_truth is not None]
        tp = sum(f.true_positives for f in scored)
        n_truth, n_scored_predictions = sum(f.ground_truth for f in scored), sum(f.predictions for f in scored)
        precision, recall = _ratio(tp, n_scored_predictions), _ratio(tp, n_truth)
        correct = sum(p.predicted_label == p.truth_label for p in self.pairs)
        positions = np.array([p.position_error_m for p in self.pairs])
        summary = {
            "frames": len(self.frames),
            "frames_with_ground_truth": len(scored),
            "match_threshold_m": self.threshold_m,
            "detections": {"total": sum(f.predictions for f in self.frames),
                           "per_frame": _ratio(sum(f.predictions for f in self.frames), len(self.frames)),
                           "by_label": dict(sorted(self.predicted_labels.items()))},
            "detection": {"ground_truth": n_truth, "predictions": n_scored_predictions, "true_positives": tp,
                          "false_positives": n_scored_predictions - tp, "false_negatives": n_truth - tp,
                          "near_misses": sum(f.near_misses for f in scored),
                          "precision": precision, "recall": recall,
                          "f1": (2 * precision * recall / (precision + recall)
                                 if precision and recall else (0.0 if scored else None))},
            "classification": {"matched": len(self.pairs), "correct": correct,
                               "accuracy": _ratio(correct, len(self.pairs))},
            "rotation": rotation_summary([p.rotation_error_deg for p in self.pairs]),
            "position": {"median_m": float(np.median(positions)) if len(positions) else None,
                         "mean_m": float(positions.mean()) if len(positions) else None},
            "latency_ms": self.latency_ms(),
            "per_class": self._per_class(),
            "confusion": self.confusion(),
            "pairs": [asdict(p) for p in self.pairs],
            "frame_records": [asdict(f) for f in self.frames],
        }
        if self.segmentation is not None:
            s = self.segmentation
            summary["segmentation"] = {"objects": s.objects, "recalled": s.recalled, "clusters": s.clusters,
                                       "correct": s.correct, "recall": _ratio(s.recalled, s.objects),
                                       "precision": _ratio(s.correct, s.clusters)}
        return summary
