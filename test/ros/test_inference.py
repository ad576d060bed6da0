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


def test_mesh_catalog_gives_mesh_frame_poses_close_to_the_ground_truth(model_path, points):
    """mesh_catalog = the shared catalog (ycbv): every detection of a class with a mesh carries the mesh
    origin; on the first real frame the correctly labelled objects sit where the annotation puts them."""
    from vn_perception.data.paths import real_dev_file, shared_catalog_dir
    from vn_perception.data.ycbv_frames import read_ycbv_frames
    from vn_perception.models.symmetry import rotation_error_deg
    if not shared_catalog_dir().exists() or model_path:
        pytest.skip("needs the shared catalog and the shipped model")
    inference = Inference(model_path, "cpu", shipped_segmentation(), mesh_catalog=str(shared_catalog_dir()),
                          mesh_source="ycbv")
    assert len(inference.mesh_classes) == 21
    detections, _ = inference.run(points)
    (frame,) = read_ycbv_frames(real_dev_file(), [0])
    matched = []
    for d in detections:
        assert d.translation.shape == (3,) and d.fit_rms_m >= 0
        truth = min(frame.objects, key=lambda o: np.linalg.norm(o.translation - d.translation))
        if truth.name == d.label:
            symmetry = inference.classifier.symmetries[inference.classifier.classes.index(d.label)]
            matched.append((rotation_error_deg(d.rotation, truth.rotation, symmetry),
                            np.linalg.norm(truth.translation - d.translation)))
    assert len(matched) >= 3
    errors = np.array(matched)
    assert np.median(errors[:, 0]) < 15.0 and np.median(errors[:, 1]) < 0.02
    with pytest.raises(ModelLoadError, match="cannot load the meshes"):
        Inference(model_path, "cpu", shipped_segmentation(), mesh_catalog=str(shared_catalog_dir() / "nowhere"))
