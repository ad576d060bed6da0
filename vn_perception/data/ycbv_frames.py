"""Real depth frames with ground truth in the YCB-Video layout (`shared/data/real_dev/ycbv_real_dev.npz`).

The one reader of that file layout; the segmentation benchmark, the classifier's real-frame evaluation and
`vn-perception real-eval` build on it. File arrays: `depth [F, H, W]` uint16 (x `depth_scale_m` -> metres,
0 = no reading), `label [F, H, W]` uint8 (0 background, else the 1-based index into `class_names`),
`K [F, 3, 3]`, `poses [F, S, 3, 4]` object -> camera [R|t] (metres), `cls_indexes [F, S]` (1-based, 0 = unused
slot), `class_names`, `video`, `frame`. Frames come from 3 videos of 20 consecutive frames: count 3 scenes,
not 60 independent samples.
"""
from dataclasses import dataclass

import numpy as np

from vn_perception.data.camera import PinholeCamera, posed, render_depth

#: the arrays read from the file
_KEYS = ("depth", "label", "K", "poses", "cls_indexes", "class_names", "video", "frame", "depth_scale_m")


@dataclass
class YcbvObject:
    """One annotated object of a frame: its pose slot, class `name`, `rotation [3, 3]` and `translation [3]`
    (object -> camera, metres) and `mask [H, W]` (its label pixels that have a depth reading)."""

    slot: int
    name: str
    rotation: np.ndarray
    translation: np.ndarray
    mask: np.ndarray


@dataclass
class YcbvFrame:
    """One frame: `index` in the file, `name` ("video/frame"), `video`, the `camera` (from K), `depth [H, W]`
    metres (0 = no reading), the organized cloud `points [H, W, 3]` float32 (NaN = no reading), `label [H, W]`
    and the annotated `objects`."""

    index: int
    name: str
    video: str
    camera: PinholeCamera
    depth: np.ndarray
    points: np.ndarray
    label: np.ndarray
    objects: list


def count_frames(path):
    with np.load(path) as data:
        return len(data["depth"])


def read_ycbv_frames(path, frames=None):
    """Yield the `YcbvFrame`s of `path` (`frames`: indices, None = all). The arrays are read once (each
    access to an array of an npz file decompresses it whole)."""
    with np.load(path) as stored:
        data = {key: stored[key] for key in _KEYS}
    names = [str(n) for n in data["class_names"]]
    scale = float(data["depth_scale_m"])
    for f in range(len(data["depth"])) if frames is None else frames:
        depth = data["depth"][f].astype(np.float32) * scale
        height, width = depth.shape
        camera = PinholeCamera.from_K(data["K"][f], width, height)
        label, has_depth = data["label"][f], depth > 0
        objects = []
        for slot, cls in enumerate(data["cls_indexes"][f]):
            if cls <= 0:
                continue
            pose = data["poses"][f, slot].astype(np.float64)
            objects.append(YcbvObject(slot, names[cls - 1], pose[:, :3], pose[:, 3], (label == cls) & has_depth))
        yield YcbvFrame(f, f"{data['video'][f]}/{int(data['frame'][f])}", str(data["video"][f]), camera, depth,
                        camera.back_project(depth), label, objects)


def visibility(obj, camera, mesh):
    """Mask pixels with depth / pixels of the object's unoccluded silhouette (its `mesh` ray cast at the
    ground-truth pose with `camera`): 1 = fully seen, with depth."""
    placed = posed(mesh, obj.rotation, obj.translation)
    rendered = render_depth([placed], camera, roi=camera.roi_of(np.asarray(placed.vertices)))
    return int(np.count_nonzero(obj.mask)) / max(int(np.count_nonzero(rendered.instance >= 0)), 1)
