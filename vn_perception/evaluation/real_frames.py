"""Real depth frames with ground truth in the YCB-Video layout (`shared/data/real_dev/ycbv_real_dev.npz`).

The file is read by `vn_perception.data.ycbv_frames`.

Per frame: the depth back-projected with K to an organized cloud `[H, W, 3]` (NaN = no reading), and the
ground truth of the objects with at least `min_visible_pixels` mask pixels that have a depth reading:
label, rotation (pose), position, and their pixel masks (instance image). Two conventions for the ground-truth
position (`centre`):
  * "pose" (default): the translation of the pose, i.e. the origin of the mesh frame, as in simulated bags.
    A prediction's position is the centre of the box around the object's visible points, aligned with the
    predicted rotation. With the true rotation that centre lies close to the origin, since the visible faces of
    a box span its full extents: on 12 of the dev frames (every 5th) 1.3 cm from it in the median, 4.1 cm at
    the 90th percentile, 5.4 cm at most (a mustard bottle seen from one side);
  * "mask": the median of the object's masked points (the centre of the visible surface; it ignores the mask
    pixels that bleed onto the background at silhouettes). Farther from the box centre: 3.3 cm from the
    origin in the median, 6.5 cm at most on the same frames.
"""
from dataclasses import dataclass

import numpy as np

from vn_perception.bag.messages import ObjectPose
from vn_perception.data.ycbv_frames import read_ycbv_frames

CENTRES = ("pose", "mask")
#: objects with fewer mask pixels with depth are not in the ground truth (as in simulated bags)
DEFAULT_MIN_VISIBLE_PIXELS = 200


@dataclass
class RealFrame:
    """One frame: `name` ("video/frame"), organized `points [H, W, 3]` float32, `instance [H, W]` int
    (0 = none, k + 1 = ground_truth[k], only pixels with depth), `ground_truth` (ObjectPoses)."""

    name: str
    points: np.ndarray
    instance: np.ndarray
    ground_truth: list


def load_real_frames(path, frames=None, centre="pose", min_visible_pixels=DEFAULT_MIN_VISIBLE_PIXELS):
    """Yield the `RealFrame`s of `path` (`frames`: indices, None = all) with ground-truth positions by
    `centre` ("mask" or "pose", see the module docstring)."""
    if centre not in CENTRES:
        raise ValueError(f"centre must be one of {CENTRES}, got {centre!r}")
    for frame in read_ycbv_frames(path, frames):
        instance = np.zeros(frame.depth.shape, dtype=np.int64)
        truth = []
        for obj in frame.objects:
            if obj.mask.sum() < min_visible_pixels:
                continue
            position = (np.median(frame.points[obj.mask], axis=0).astype(np.float64) if centre == "mask"
                        else obj.translation)
            truth.append(ObjectPose(obj.name, obj.rotation, position, id=f"slot{obj.slot}"))
            instance[obj.mask] = len(truth)
        yield RealFrame(frame.name, frame.points, instance, truth)
