"""`ObjectClassifier.compile`: opt-in torch.compile of the shipped classifier; the predictions keep their
meaning (same labels, probabilities and rotations up to float32 reordering), any number of clouds per call
runs without recompiling."""
import numpy as np
import pytest
import torch

from vn_perception.classifier import ObjectClassifier


def _clouds(count, seed=0):
    """Anisotropic blobs of object size (well-conditioned equivariant frames), 40-700 points each."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(40, 700)), 3)) * rng.uniform(0.01, 0.08, size=3) + [0.1, 0.0, 0.8]
            for _ in range(count)]


@pytest.mark.slow
def test_compiled_classifier_predicts_like_the_eager_one():
    ycbv_clouds = _clouds(9)
    eager = ObjectClassifier.load(device="cpu")
    compiled = ObjectClassifier.load(device="cpu", compile=True)
    assert compiled.compiled and not eager.compiled
    for count in (1, 3, len(ycbv_clouds)):
        clouds = ycbv_clouds[:count]
        with torch._dynamo.config.patch(error_on_recompile=True):          # warmed up for every batch size
            got = compiled.predict(clouds)
        expected = eager.predict(clouds)
        assert [p.label for p in got] == [p.label for p in expected]
        for a, b in zip(got, expected):
            assert np.abs(a.probabilities - b.probabilities).max() < 1e-4
            assert np.allclose(a.centroid, b.centroid)
            # rotation: same matrix up to float32 reordering, except where the equivariant frame is
            # ill-conditioned (then both are valid rotations, compared loosely)
            assert np.allclose(a.rotation @ a.rotation.T, np.eye(3), atol=1e-5)
            assert np.abs(a.rotation - b.rotation).max() < 1e-2
