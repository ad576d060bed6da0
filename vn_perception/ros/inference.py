"""The scene pipeline as the node runs it: loaded once, re-configured in place, retried on the CPU (ROS-free).

    inference = Inference(model_path="", device="auto", segmentation=SegmentationConfig(), cpu_threads=0,
                          compile_model=False, mesh_catalog="", mesh_source="")
    detections, retried_on_cpu = inference.run(points)     # points (H, W, 3) or (N, 3), sensor frame, metres

A frame whose inference fails with a RuntimeError on an accelerator (CUDA out of memory, a driver error) is
run again on the CPU with the same weights; the next frame tries the accelerator again.
"""
import torch

from vn_perception.utils.device import resolve_device

__all__ = ["ModelLoadError", "load_pipeline", "Inference"]


class ModelLoadError(RuntimeError):
    """The classifier could not be loaded: the message names the path and the reason."""


def load_pipeline(model_path, device, segmentation, classifier=None):
    """ScenePipeline with `segmentation` (SegmentationConfig) and the classifier at `model_path` ('' = the
    shipped default) on `device`; `classifier` given: reuse it (no reload)."""
    from vn_perception.pipeline import ScenePipeline
    if classifier is None:
        from vn_perception.classifier import ObjectClassifier
        classifier = ObjectClassifier.load(model_path or None, device=device)
    # min_score 0: the node applies its own min_score parameter (so that it can change at run time)
    return ScenePipeline.from_config({"segmentation": segmentation.to_dict(), "min_score": 0.0},
                                     classifier=classifier)


def _on_cpu(pipeline):
    """True when the pipeline's classifier runs on the CPU."""
    return torch.device(getattr(pipeline.classifier, "device", "cpu")).type == "cpu"


class Inference:
    """A ScenePipeline on the resolved device, with a lazily built CPU twin for failed frames.

    factory(model_path, device, segmentation, classifier=None) -> pipeline (default: load_pipeline); a
    pipeline has `.process(points) -> list[Detection]` and `.classifier` (`.classes`, `.symmetries`).
    cpu_threads > 0 sets torch's (process-wide) intra-op threads. compile_model: `torch.compile` the
    classifier (`ObjectClassifier.compile`); `compile_error` then holds the reason when it ran uncompiled.
    mesh_catalog: a folder of the class meshes ('' = off): every pipeline's classifier is then wrapped in a
    `perception.mesh_pose.MeshRefinedClassifier` (mesh poses by ICP; `mesh_source`: the catalog.csv source).
    Raises ModelLoadError (path and reason) when the model or the meshes cannot be loaded.
    """

    def __init__(self, model_path, device, segmentation, factory=load_pipeline, cpu_threads=0, compile_model=False,
                 mesh_catalog="", mesh_source=""):
        if cpu_threads > 0:
            torch.set_num_threads(int(cpu_threads))
        self.model_path = model_path
        self.requested_device = device
        self.device = str(resolve_device(device))
        self._factory = factory
        self._segmentation = segmentation
        self._mesh_refiner = None
        try:
            self.pipeline = factory(model_path, self.device, segmentation)
        except Exception as e:  # noqa: BLE001 - any loading failure stops the node with its reason
            where = model_path or "the shipped default model"
            raise ModelLoadError(f"cannot load the classifier from {where}: {type(e).__name__}: {e}") from e
        if mesh_catalog:
            from vn_perception.perception.mesh_pose import MeshPoseRefiner
            try:
                self._mesh_refiner = MeshPoseRefiner.from_catalog(mesh_catalog, source=mesh_source or None,
                                                                  classes=self.pipeline.classifier.classes)
            except Exception as e:  # noqa: BLE001 - a bad catalog stops the node with its reason
                raise ModelLoadError(f"cannot load the meshes from {mesh_catalog}: {type(e).__name__}: {e}") from e
            self.pipeline = self._with_meshes(self.pipeline)
        self._cpu_pipeline = None
        self.compiled = False
        self.compile_error = None
        if compile_model:
            self.compile_error = self.pipeline.classifier.compile()
            self.compiled = self.compile_error is None

    def _with_meshes(self, pipeline):
        """`pipeline` with its classifier wrapped for mesh refinement (when a mesh catalog is set)."""
        if self._mesh_refiner is not None and not hasattr(pipeline.classifier, "refiner"):
            from vn_perception.perception.mesh_pose import MeshRefinedClassifier
            pipeline.classifier = MeshRefinedClassifier(pipeline.classifier, self._mesh_refiner)
        return pipeline

    @property
    def mesh_classes(self):
        """Classes with a mesh for pose refinement ([] when it is off)."""
        return self._mesh_refiner.classes if self._mesh_refiner is not None else []

    @property
    def classifier(self):
        return self.pipeline.classifier

    @property
    def cuda_fell_back(self):
        """True when CUDA was requested but is not available (running on the CPU instead)."""
        return self.requested_device.startswith("cuda") and self.device == "cpu"

    def reconfigure(self, segmentation):
        """Use new segmentation settings from the next frame on (same classifier, no reload)."""
        pipeline = self._factory(self.model_path, self.device, segmentation, classifier=self.pipeline.classifier)
        cpu_pipeline = None
        if self._cpu_pipeline is not None:
            cpu_pipeline = self._factory(self.model_path, "cpu", segmentation,
                                         classifier=self._cpu_pipeline.classifier)
        self._segmentation, self.pipeline, self._cpu_pipeline = segmentation, self._with_meshes(pipeline), cpu_pipeline

    def run(self, points):
        """(detections, retried_on_cpu) for one cloud; a RuntimeError on an accelerator is retried on the CPU."""
        pipeline = self.pipeline
        try:
            return pipeline.process(points), False
        except RuntimeError:
            if _on_cpu(pipeline):
                raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if self._cpu_pipeline is None:
            self._cpu_pipeline = self._with_meshes(self._factory(self.model_path, "cpu", self._segmentation))
        return self._cpu_pipeline.process(points), True
