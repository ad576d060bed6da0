"""The pipeline as the node runs it: CPU retry of a failed accelerator frame, re-configuration, load errors."""
import dataclasses

import numpy as np
import pytest
import torch

from ros_harness import ycbv_points
from vn_perception.ros.inference import Inference, ModelLoadError
from vn_perception.ros.params import shipped_segmentation


@pytest.fixture(scope="module")
def points(ycbv_dev):
    return ycbv_points(ycbv_dev, 0)


@pytest.fixture
def inference(model_path):
    return Inference(model_path, "cpu", shipped_segmentation())


def test_a_frame_failing_off_the_cpu_is_retried_on_the_cpu(inference, points):
    expected, retried = inference.run(points)
    assert expected and not retried
    classifier = inference.pipeline.classifier          # put the classifier on a device that cannot compute:
    classifier.model.to("meta")                          # its outputs cannot be copied back (a RuntimeError)
    classifier.device = torch.device("meta")
    detections, retried = inference.run(points)
    assert retried
    assert [d.label for d in detections] == [d.label for d in expected]
    assert np.allclose([d.position for d in detections], [d.position for d in expected])
    _, retried_again = inference.run(points)
    assert retried_again, "the next frame tries the primary device again"


def test_a_failure_on_the_cpu_is_raised(inference, points):
    with pytest.raises(ValueError):
        inference.run(np.where(np.isnan(points), np.inf, points))      # infinite values: the input is wrong


def test_reconfigure_keeps_the_classifier_and_applies_the_segmentation(inference, points):
    classifier = inference.classifier
    near = dataclasses.replace(shipped_segmentation(), max_depth_m=0.75)
    inference.reconfigure(near)
    assert inference.classifier is classifier
    detections, _ = inference.run(points)
    assert all(d.position[2] < 0.75 + 0.3 for d in detections)
    assert inference.pipeline.segmentation == near


def test_a_model_that_does_not_load_names_the_path(tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError, match=str(broken)):
        Inference(str(broken), "cpu", shipped_segmentation())


@pytest.mark.slow
def test_compile_model_compiles_the_classifier_and_keeps_the_detections(model_path, points):
    eager = Inference(model_path, "cpu", shipped_segmentation())
    compiled = Inference(model_path, "cpu", shipped_segmentation(), compile_model=True)
    assert compiled.compiled and compiled.compile_error is None
    assert not eager.compiled
    expected, _ = eager.run(points)
    detections, retried = compiled.run(points)
    assert not retried
    assert [d.label for d in detections] == [d.label for d in expected]
    assert np.allclose([d.score for d in detections], [d.score for d in expected], atol=1e-4)
