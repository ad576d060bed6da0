"""Scores of labelled views: top-1 accuracy, confusion matrix, symmetry-aware rotation errors."""
import numpy as np

from vn_perception.models.symmetry import rotation_error_deg


def rotation_errors_deg(predicted, truth, labels, symmetries):
    """Angles (degrees) between predicted and true rotations `[M, 3, 3]`, each minimised over the symmetry
    of its true class (`symmetries[labels[i]]`) -> `[M]`."""
    predicted, truth, labels = np.asarray(predicted), np.asarray(truth), np.asarray(labels)
    errors = np.empty(len(labels))
    for k in np.unique(labels):
        rows = np.flatnonzero(labels == k)
        errors[rows] = np.asarray(rotation_error_deg(predicted[rows], truth[rows], symmetries[k]), dtype=float)
    return errors


def confusion_matrix(truth, predicted, num_classes):
    """Counts `[K, K]` (rows: true class, columns: predicted class)."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth), np.asarray(predicted)), 1)
    return matrix


def per_class_accuracy(matrix):
    """Recall of every class from a confusion matrix (None for a class without samples)."""
    rows = matrix.sum(axis=1)
    return [float(matrix[k, k] / rows[k]) if rows[k] else None for k in range(len(matrix))]
