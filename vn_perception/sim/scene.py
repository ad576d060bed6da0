"""Tabletop scenes seen by a virtual depth camera: composition, rendering, ground truth, frame sequences.

One scene = a table top (`placement.Table`) with several catalog objects in stable poses; it is seen in
`frames_per_scene` frames from one viewpoint (new sensor noise each frame) or from viewpoints along an arc.
Every frame gives an organized cloud in the camera optical frame (NaN = no return), rendered by
`data.camera.render_depth` with the same `DepthNoise` as the training views, and the ground truth of the objects
that are visible enough: object -> camera rotation and translation, mesh extents.
"""
from dataclasses import dataclass, field

import numpy as np

from vn_perception.bag.messages import NANOSECONDS_PER_SECOND, ObjectPose
from vn_perception.data.camera import DepthNoise, PinholeCamera, posed, render_depth
from vn_perception.sim.placement import PlacementConfig, Table, place_objects
from vn_perception.sim.viewpoint import ViewSampling, sample_viewpoints

#: instance id of the table in `SimulatedFrame.instance` (objects are 1..n, no return is -1)
TABLE_INSTANCE = 0
NO_RETURN = -1
#: first stamp of a simulated bag (fixed so that a seed gives identical bags; 2023-11-14T22:13:20Z)
DEFAULT_START_NS = 1_700_000_000 * NANOSECONDS_PER_SECOND


@dataclass(frozen=True)
class SimulationConfig:
    """Everything a simulated sequence depends on; the same config and models give the same frames."""

    scenes: int = 3
    frames_per_scene: int = 5
    objects_per_scene: tuple = (3, 6)     # inclusive range
    camera: PinholeCamera = field(default_factory=PinholeCamera.d435)
    noise: DepthNoise = field(default_factory=DepthNoise)
    fps: float = 5.0
    start_ns: int = DEFAULT_START_NS
    min_visible_pixels: int = 200         # objects with fewer returns are left out of the ground truth
    table: Table = field(default_factory=Table)
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    view: ViewSampling = field(default_factory=ViewSampling)
    seed: int = 0


@dataclass
class Scene:
    """Objects (`placement.PlacedObject`, world frame) on a table."""

    table: Table
    objects: list

    def target(self):
        """Centre `[3]` of the objects' world bounding box (where the camera looks)."""
        corners = np.concatenate([o.world_mesh().bounds for o in self.objects]) if self.objects else np.zeros((1, 3))
        return (corners.min(axis=0) + corners.max(axis=0)) / 2

    def meshes_in_camera(self, rotation, eye):
        """The table, then every object, moved into the frame of a camera at (`rotation` camera -> world, `eye`)."""
        to_camera_r, to_camera_t = rotation.T, -rotation.T @ eye
        meshes = [posed(self.table.mesh(), to_camera_r, to_camera_t)]
        meshes += [posed(o.model.mesh, to_camera_r @ o.rotation, to_camera_r @ o.translation + to_camera_t)
                   for o in self.objects]
        return meshes


def compose_scene(models, n_objects, rng, table=Table(), placement=PlacementConfig()):
    """A scene of `n_objects` models drawn from `models` (without repeats while there are enough)."""
    picks = rng.choice(len(models), size=n_objects, replace=n_objects > len(models))
    return Scene(table, place_objects([models[i] for i in picks], rng, table, placement))


@dataclass
class SimulatedFrame:
    """One rendered frame: `points [H, W, 3]` float32 (camera optical frame, NaN = no return), `instance [H, W]`
    (-1 no return, 0 table, k + 1 = scene object k), the camera pose (`camera_rotation` camera -> world,
    `camera_eye`), the `ground_truth` ObjectPoses and the `scene`."""

    scene_index: int
    frame_index: int
    stamp_ns: int
    points: np.ndarray
    instance: np.ndarray
    camera_rotation: np.ndarray
    camera_eye: np.ndarray
    ground_truth: list
    scene: Scene


def render_frame(scene, rotation, eye, camera, noise, rng):
    """Noisy organized cloud `[H, W, 3]` and the instance image `[H, W]` of returns that survived the noise."""
    rendered = render_depth(scene.meshes_in_camera(rotation, eye), camera)
    with np.errstate(invalid="ignore"):  # inf - inf between two no-return pixels in the edge test: no jump
        depth = noise.apply(rendered.depth, rendered.incidence, camera.fx, rng)
    instance = np.where(np.isfinite(depth), rendered.instance, NO_RETURN)
    return camera.back_project(depth), instance


def ground_truth(scene, rotation, eye, instance, min_visible_pixels, id_prefix=""):
    """ObjectPoses (object -> camera) of the scene objects with at least `min_visible_pixels` returns."""
    counts = np.bincount(instance[instance > TABLE_INSTANCE].ravel(), minlength=len(scene.objects) + 1)
    out = []
    for k, obj in enumerate(scene.objects):
        if counts[k + 1] >= min_visible_pixels:
            out.append(ObjectPose(obj.model.label, rotation.T @ obj.rotation, rotation.T @ (obj.translation - eye),
                                  obj.model.extents.copy(), 1.0, f"{id_prefix}object{k}:{obj.model.name}"))
    return out


def render_poses(poses, meshes_by_label, camera):
    """Noise-free `data.camera.RenderResult` of ObjectPoses (object -> camera), each drawn with the mesh of its
    label (instance k = poses[k]); checks a ground truth against a cloud."""
    return render_depth([posed(meshes_by_label[p.label], p.rotation, p.position) for p in poses], camera)


def simulate(models, config=SimulationConfig()):
    """Yield the `SimulatedFrame`s of `config.scenes` scenes x `config.frames_per_scene` frames, one frame
    period (1 / fps) apart. Each scene draws from its own child of `config.seed` (scenes do not depend on the
    frame count of the scenes before them)."""
    period_ns = round(NANOSECONDS_PER_SECOND / config.fps)
    low, high = config.objects_per_scene
    for scene_index, seed in enumerate(np.random.SeedSequence(config.seed).spawn(config.scenes)):
        rng = np.random.default_rng(seed)
        scene = compose_scene(models, int(rng.integers(low, high + 1)), rng, config.table, config.placement)
        views = sample_viewpoints(scene.target(), config.frames_per_scene, rng, config.view)
        for frame_index, (rotation, eye) in enumerate(views):
            points, instance = render_frame(scene, rotation, eye, config.camera, config.noise, rng)
            stamp = config.start_ns + (scene_index * config.frames_per_scene + frame_index) * period_ns
            truth = ground_truth(scene, rotation, eye, instance, config.min_visible_pixels, f"scene{scene_index}/")
            yield SimulatedFrame(scene_index, frame_index, stamp, points, instance, rotation, eye, truth, scene)
