import numpy as np
import pytest

from vn_perception.evaluation import match_by_distance


def test_known_true_false_positives_and_misses():
    truth = np.array([[0.0, 0.0, 1.0], [0.2, 0.0, 1.0], [0.4, 0.0, 1.0]])
    predicted = np.array([[0.41, 0.0, 1.0], [0.0, 0.02, 1.0], [0.0, 0.3, 1.0]])     # 2 near truths, 1 far away
    match = match_by_distance(predicted, truth, 0.05)
    assert sorted(map(tuple, match.pairs)) == [(0, 2), (1, 0)]
    np.testing.assert_allclose(sorted(match.distances), [0.01, 0.02])
    assert match.unmatched_predictions.tolist() == [2] and match.unmatched_ground_truth.tolist() == [1]


def test_assignment_is_optimal_not_greedy():
    # prediction 0 is nearest to truth 0, but only truth 0 is within reach of prediction 1:
    # the greedy choice (0 -> 0) would leave prediction 1 unmatched
    truth = np.array([[0.0, 0.0, 1.0], [0.03, 0.0, 1.0]])
    predicted = np.array([[0.01, 0.0, 1.0], [-0.04, 0.0, 1.0]])
    match = match_by_distance(predicted, truth, 0.05)
    assert sorted(map(tuple, match.pairs)) == [(0, 1), (1, 0)]
    assert len(match.unmatched_predictions) == 0 and len(match.unmatched_ground_truth) == 0


@pytest.mark.parametrize("n_predicted, n_truth", [(0, 0), (0, 3), (2, 0)])
def test_empty_sides(n_predicted, n_truth):
    match = match_by_distance(np.zeros((n_predicted, 3)), np.ones((n_truth, 3)), 0.05)
    assert match.pairs.shape == (0, 2) and len(match.distances) == 0
    assert len(match.unmatched_predictions) == n_predicted and len(match.unmatched_ground_truth) == n_truth


def test_threshold_is_inclusive_and_never_exceeded():
    truth = np.array([[0.0, 0.0, 0.0]])
    assert len(match_by_distance([[0.05, 0.0, 0.0]], truth, 0.05).pairs) == 1
    assert len(match_by_distance([[0.0501, 0.0, 0.0]], truth, 0.05).pairs) == 0
    rng = np.random.default_rng(0)
    for _ in range(20):
        match = match_by_distance(rng.uniform(0, 0.3, (6, 3)), rng.uniform(0, 0.3, (5, 3)), 0.08)
        assert np.all(match.distances <= 0.08)


def _brute_force(distances, threshold):
    """(most pairs within threshold, least total distance) over all one-to-one assignments."""
    from itertools import permutations
    n_pred, n_truth = distances.shape
    best = (0, 0.0)
    for perm in permutations(range(max(n_pred, n_truth)), n_pred):
        pairs = [(i, j) for i, j in enumerate(perm) if j < n_truth and distances[i, j] <= threshold]
        key = (len(pairs), -sum(distances[i, j] for i, j in pairs))
        best = max(best, key)
    return best


def test_matches_brute_force_on_small_frames():
    rng = np.random.default_rng(1)
    for _ in range(30):
        predicted, truth = rng.uniform(0, 0.15, (4, 3)), rng.uniform(0, 0.15, (3, 3))
        distances = np.linalg.norm(predicted[:, None] - truth[None], axis=-1)
        match = match_by_distance(predicted, truth, 0.06)
        count, negative_total = _brute_force(distances, 0.06)
        assert len(match.pairs) == count
        assert match.distances.sum() == pytest.approx(-negative_total)
