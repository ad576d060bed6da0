"""Synthetic partial views: what a depth camera sees of one object, as a labelled point set.

One view (`render_view`):
  1. orientation `R` (object -> camera frame) by protocol:
     * `so3`: uniform random rotation;
     * `z`: the object stands on its canonical base (mesh +z up, see `data/ycbv.py`), turned by a uniform yaw
       about its up axis, seen by a camera pitched down by `elevation` (uniform in `elevation_deg`):
       `R = Rx(90 deg + elevation) Rz(yaw)`. With elevation 0 this is a pure rotation about the camera-frame
       up axis (-y in the optical frame: x right, y down, z forward);
  2. position: the object's bounding-box centre at a distance uniform in `distance_m` along the ray of a
     uniform pixel of the central part of the image (`image_margin` cut off each side);
  3. ray casting of the object's pixel window only (`PinholeCamera.roi_of`), intrinsics drawn from `cameras`;
     optionally without the hits through the cracks of the non-watertight meshes (`drop_crack_hits`, off);
  4. `DepthNoise` (axial noise growing with distance and incidence, grazing/edge dropout, quantisation),
     optionally with a per-view noise level and disparity step (`view_noise`), optionally contiguous
     no-return blobs (`NoReturnHoles`, off by default), optionally mask bleed onto a touching neighbour
     (`NeighbourBleed`, off by default; before the holes), back-projection to points;
  5. segmentation artefacts: with probability `support_cut_prob` the points within `support_cut_m` (uniform)
     of the object's lowest point along the world up direction are dropped (a plane fit removes the table
     and the bottom rim with it); with probability `occlusion_prob` an occluder hides the part of the object
     beyond a random line of the image (a fraction uniform in [0, `occlusion_max`] of its points: real
     tabletop objects are often 30-50 % hidden, and targets count objects down to 30 % visibility);
  6. centring on the mean of the kept points (metric scale kept: no rescaling), sampling to `num_points`
     (`sample_points`).

The world up direction in the camera frame is `Rx(elevation) @ (0, -1, 0)` for both protocols.
Deterministic for a given `numpy.random.Generator` state.
"""
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from vn_perception.constants import EPS
from vn_perception.data.camera import DepthNoise, PinholeCamera, posed, render_depth

PROTOCOLS = ("z", "so3")

#: intrinsics seen in practice at 640x480: Kinect/Xtion (525 px), RealSense D435 (615 px), the YCB-Video
#: Xtion calibration (~1067 px); each view draws one.
DEFAULT_CAMERAS = (PinholeCamera.kinect(), PinholeCamera.d435(),
                   PinholeCamera(640, 480, 1066.8, 1067.5, 313.0, 241.3))


@dataclass(frozen=True)
class NoReturnHoles:
    """Contiguous no-return blobs in the depth image: specular, dark or grazing patches where a real sensor
    gives no depth over whole regions (DepthNoise only thins pixels one by one).

    Measured on the YCB-Video dev frames (label pixels without depth): 8-11 % of an object's mask (median 8.7 %,
    90th percentile 20 %; marker 38 %, potted meat can 18 %, mustard bottle 13 %), 82 % of it in blobs of
    >= 1 % of the mask and 57 % in blobs of >= 5 %; those blobs are elongated (principal-axis ratio median 4.4,
    quartiles 2.6-7.7), sqrt(area / mask area) median 0.15 (90th percentile 0.37), and lie at steeper incidence
    than the returns (median 62-67 against 46-51 deg) but mostly below the grazing cut-off (70 deg).

    With probability `prob` a view gets a number of blobs uniform in `count` (inclusive). Each blob is an
    ellipse of area log-uniform in `area_fraction` x the object's pixels with depth, axis ratio uniform in
    `aspect`, random orientation, centred on an object pixel drawn with weight `incidence ** incidence_power`
    (0: uniform).

    Off by default (`ViewConfig.holes = None`): fine-tuning the shipped model for 3 epochs on 150 views per
    object with these defaults gave 67.4 % real top-1 (3 seeds) against 68.7 % without them, and 66.8 % with
    count (1, 4), area (0.03, 0.3). The shipped model is already 90.0 % right on simulated depth cut to the
    real pixels that have depth (92.3 % on the whole mask): the missing regions cost little; the real gap is
    in the depth values (bleeding onto touching objects, 16 % of the mustard bottle's pixels > 1 cm in front
    of its model).
    """

    prob: float = 0.8
    count: tuple = (1, 3)
    area_fraction: tuple = (0.01, 0.15)
    aspect: tuple = (1.0, 6.0)
    incidence_power: float = 2.0


def no_return_holes(depth, incidence_rad, holes, rng):
    """Copy of `depth [h, w]` (NaN = no return) with `holes` (`NoReturnHoles`) blobs set to NaN;
    `incidence_rad [h, w]` of each hit."""
    out = np.array(depth, dtype=np.float32)
    if rng.random() >= holes.prob:
        return out
    rows, cols = np.nonzero(np.isfinite(out))
    if len(rows) == 0:
        return out
    weight = np.asarray(incidence_rad)[rows, cols].astype(np.float64) ** holes.incidence_power + EPS
    weight /= weight.sum()
    v, u = np.mgrid[:out.shape[0], :out.shape[1]]
    for _ in range(rng.integers(holes.count[0], holes.count[1] + 1)):
        area_px = len(rows) * np.exp(rng.uniform(*np.log(holes.area_fraction)))
        aspect = rng.uniform(*holes.aspect)
        minor = np.sqrt(area_px / (np.pi * aspect))
        major = minor * aspect
        angle = rng.uniform(0.0, np.pi)
        centre = rng.choice(len(rows), p=weight)
        du, dv = u - cols[centre], v - rows[centre]
        along = du * np.cos(angle) + dv * np.sin(angle)
        across = -du * np.sin(angle) + dv * np.cos(angle)
        out[(along / major) ** 2 + (across / max(minor, EPS)) ** 2 <= 1.0] = np.nan
    return out


@dataclass(frozen=True)
class NeighbourBleed:
    """Mask bleed onto a touching neighbour: the real masks reach a few pixels past the silhouette, onto the
    object or background the target touches, and the segmentation's Euclidean clustering (1.5 cm links) keeps
    those readings because the surfaces touch.

    Measured on the real dev clusters (`real_objects`, points > 1 cm from the GT-posed model): potted meat can
    3-6 % of its points in every one of its 20 objects (median 4.0 %), all BEHIND the object, median 53 mm
    (90th percentile 58 mm); large marker median 1.2 % (90th percentile 6.7 %); all objects median 0 %,
    90th percentile 2.1 %.

    Model (after the sensor noise, so that the edge dropout does not remove the ring): with probability `prob`,
    the pixels within `ring_px` (<= 4, the margin of `PinholeCamera.roi_of`) of the rendered silhouette, on one
    side of a random line through it (a share uniform in `side_fraction` of the ring), read a surface `behind_m`
    (uniform, one value per view) behind their nearest silhouette pixel, with the sensor's axial noise; the
    nearest of them, a number uniform in `fraction` x the silhouette's pixels, are added. With the defaults:
    3.7 % of a potted meat can's points > 1 cm off its model at prob 1 (median 27 mm, real 53 mm).

    Off by default (`ViewConfig.bleed = None`). Fine-tuning the shipped model for 3 epochs on 150 views per
    object (3 seeds, real top-1 / potted meat / mustard): plain 68.7 / 5 / 16 %; defaults 69.7 / 15 / 18 %;
    prob 1, behind (0.03, 0.08) 65.8 / 30 / 1 %; defaults with `drop_crack_hits` 74.2 / 13 / 36 % (crack
    hits dropped alone: 70.9 / 0 / 42 %).
    """

    prob: float = 0.5
    fraction: tuple = (0.02, 0.08)
    ring_px: int = 4
    side_fraction: tuple = (0.25, 1.0)
    behind_m: tuple = (0.02, 0.07)

    def __post_init__(self):
        if not 1 <= self.ring_px <= 4:
            raise ValueError(f"ring_px {self.ring_px} outside [1, 4] (the render window's margin)")


def neighbour_bleed(depth, rendered_depth, incidence_rad, noise, bleed, rng):
    """Copy of the noisy `depth [h, w]` (NaN = no return) with `bleed` (`NeighbourBleed`) ring pixels around the
    silhouette of the noise-free `rendered_depth [h, w]` (`incidence_rad [h, w]` of its hits; `noise` a
    `DepthNoise` for their axial noise)."""
    out = np.array(depth, dtype=np.float32)
    if rng.random() >= bleed.prob:
        return out
    silhouette = np.isfinite(rendered_depth)
    if not silhouette.any():
        return out
    distance_px, (near_row, near_col) = ndimage.distance_transform_edt(~silhouette, return_indices=True)
    rows, cols = np.nonzero((distance_px > 0) & (distance_px <= bleed.ring_px))
    if len(rows) == 0:
        return out
    sil_rows, sil_cols = np.nonzero(silhouette)
    angle = rng.uniform(0.0, 2 * np.pi)
    side = (cols - sil_cols.mean()) * np.cos(angle) + (rows - sil_rows.mean()) * np.sin(angle)
    candidate = np.nonzero(side >= np.quantile(side, 1.0 - rng.uniform(*bleed.side_fraction)))[0]
    count = int(round(rng.uniform(*bleed.fraction) * silhouette.sum()))
    order = np.lexsort((rng.random(len(candidate)), distance_px[rows[candidate], cols[candidate]]))
    chosen_rows, chosen_cols = rows[candidate[order[:count]]], cols[candidate[order[:count]]]
    nearest = near_row[chosen_rows, chosen_cols], near_col[chosen_rows, chosen_cols]
    z = rendered_depth[nearest].astype(np.float64) + rng.uniform(*bleed.behind_m)
    z += rng.standard_normal(len(z)) * noise.sigma(z, incidence_rad[nearest])
    out[chosen_rows, chosen_cols] = z
    return out


def through_crack_hits(mesh, camera, roi, depth, jump_m=0.01, window_px=5):
    """Mask `[h, w]` of the pixels of the window `roi` whose first hit on `mesh` (camera frame) is a back face
    (its normal points away from the camera) lying more than `jump_m` behind the nearest hit of the
    `window_px`-wide neighbourhood of `depth [h, w]` (the rendered depth): rays that went through a crack of a
    non-watertight mesh and hit the inside of its far wall, where a real sensor sees the front surface.

    The YCB-Video meshes are not watertight: 3.6 % of the mustard bottle's rendered pixels are such hits (banana
    6 %, pitcher 6 %, extra large clamp 5 %; most others < 1 %); the model trained on them recognises the
    mustard bottle by those points: simulated at the real ground-truth poses and cut to the real masks it is
    right for 95 % of the mustard bottles, 38 % without the back-face hits (real: 12 %, predicted master chef
    can / bowl in both cases). Only cracks up to ~`window_px` - 1 pixels wide are found. A second ray cast of
    the window (+30-70 % render time). `ViewConfig.drop_crack_hits`, off by default (A/B: `NeighbourBleed`)."""
    u, v = camera.pixel_grid(roi)
    rays = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones_like(u)], -1).reshape(-1, 3)
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    _, ray_index, tri_index = mesh.ray.intersects_location(np.zeros_like(rays), rays, multiple_hits=False)
    back_face = np.zeros(len(rays), dtype=bool)
    back_face[ray_index] = np.einsum("ij,ij->i", mesh.face_normals[tri_index], rays[ray_index]) > 0
    filled = np.where(np.isfinite(depth), depth, np.inf)
    deeper = filled > ndimage.minimum_filter(filled, size=window_px) + jump_m
    return back_face.reshape(u.shape) & deeper & np.isfinite(depth)


@dataclass(frozen=True)
class ViewConfig:
    """Parameters of `render_view` (distances metres, angles degrees, probabilities in [0, 1])."""

    protocol: str = "so3"
    num_points: int = 512
    distance_m: tuple = (0.45, 1.4)
    elevation_deg: tuple = (0.0, 60.0)
    image_margin: float = 0.1
    cameras: tuple = DEFAULT_CAMERAS
    noise: DepthNoise = field(default_factory=DepthNoise)
    noise_scale: tuple = None
    quantisation_subpixel: tuple = None
    holes: NoReturnHoles = None
    bleed: NeighbourBleed = None
    drop_crack_hits: bool = False
    support_cut_prob: float = 0.5
    support_cut_m: tuple = (0.002, 0.012)
    occlusion_prob: float = 0.5
    occlusion_max: float = 0.7
    min_points: int = 48
    farthest_point: bool = False
    max_attempts: int = 20

    def __post_init__(self):
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}: expected one of {PROTOCOLS}")

    def describe(self):
        """JSON-able summary (checkpoint metadata, cache keys)."""
        return {"protocol": self.protocol, "num_points": self.num_points, "distance_m": list(self.distance_m),
                "elevation_deg": list(self.elevation_deg), "image_margin": self.image_margin,
                "cameras": [[c.width, c.height, c.fx, c.fy, c.cx, c.cy] for c in self.cameras],
                "noise": vars(self.noise), "support_cut_prob": self.support_cut_prob,
                "support_cut_m": list(self.support_cut_m), "occlusion_prob": self.occlusion_prob,
                "occlusion_max": self.occlusion_max, "min_points": self.min_points,
                "farthest_point": self.farthest_point,
                **({"noise_scale": list(self.noise_scale)} if self.noise_scale else {}),
                **({"quantisation_subpixel": list(self.quantisation_subpixel)} if self.quantisation_subpixel else {}),
                **({"holes": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self.holes).items()}}
                   if self.holes else {}),
                **({"bleed": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self.bleed).items()}}
                   if self.bleed else {}),
                **({"drop_crack_hits": True} if self.drop_crack_hits else {})}


@dataclass
class View:
    """One labelled partial view: `points [num_points, 3]` float32 metres, camera frame minus `centroid`;
    `centroid [3]` (mean of all kept points, camera frame); `rotation [3, 3]` object -> camera;
    `translation [3]` the mesh origin in the camera frame; `up [3]` the world up direction in the camera
    frame; `num_visible` points before sampling."""

    points: np.ndarray
    centroid: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    up: np.ndarray
    num_visible: int


def rotation_z_protocol(rng, elevation_deg):
    """Upright object, uniform yaw, camera pitched down by an elevation in `elevation_deg`: `(R, up_camera)`."""
    yaw = rng.uniform(0.0, 2 * np.pi)
    elevation = np.deg2rad(rng.uniform(*elevation_deg))
    R = Rotation.from_euler("zx", [yaw, np.pi / 2 + elevation]).as_matrix()  # extrinsic: yaw first
    return R, world_up(elevation)


def world_up(elevation_rad):
    """The world up direction in the optical frame of a camera pitched down by `elevation_rad`."""
    return Rotation.from_euler("x", elevation_rad).apply([0.0, -1.0, 0.0])


def sample_points(points, num_points, rng, farthest_point=False):
    """`num_points` rows of `points [M, 3]`: without replacement when M >= num_points (random, or farthest
    point sampling from a random start), else all points plus random repeats."""
    m = len(points)
    if m < num_points:
        extra = rng.integers(0, m, num_points - m)
        return points[np.concatenate([rng.permutation(m), extra])]
    if not farthest_point:
        return points[rng.choice(m, num_points, replace=False)]
    chosen = np.empty(num_points, dtype=int)
    chosen[0] = rng.integers(m)
    dist = np.full(m, np.inf)
    for i in range(1, num_points):
        dist = np.minimum(dist, np.sum((points - points[chosen[i - 1]]) ** 2, axis=1))
        chosen[i] = int(np.argmax(dist))
    return points[chosen]


def occlude(points, rng, max_fraction):
    """Drop the points beyond a random line of the image (points `[M, 3]`, camera frame, z > 0):
    between 0 and `max_fraction` of them."""
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction)
    s = (points[:, :2] / points[:, 2:3]) @ direction
    threshold = np.quantile(s, 1.0 - rng.uniform(0.0, max_fraction))
    return points[s <= threshold]


def support_cut(points, lowest, up, height_m):
    """Drop points `[M, 3]` less than `height_m` above `lowest` (the support height along unit `up`)."""
    return points[points @ up > lowest + height_m]


def view_noise(config, rng):
    """The sensor of one view: `config.noise`, optionally (when set) with its axial noise scaled by a factor
    drawn in `noise_scale` and its disparity step drawn in `quantisation_subpixel` (pixels at the rendered
    fx with the model's baseline; e.g. ~0.08 for a D435 or a native Kinect, ~0.16 for a 570 px Xtion
    registered to 1067 px). Off by default: on the real dev frames a model trained with
    noise_scale (0.7, 1.6) and quantisation (0.05, 0.25) did worse (61.5 % against 66.5 % top-1)."""
    noise = config.noise
    if config.noise_scale:
        scale = rng.uniform(*config.noise_scale)
        noise = replace(noise, axial_a_m=noise.axial_a_m * scale, axial_b_per_m=noise.axial_b_per_m * scale,
                        angle_c=noise.angle_c * scale)
    if config.quantisation_subpixel:
        noise = replace(noise, subpixel=rng.uniform(*config.quantisation_subpixel))
    return noise


def render_view(mesh, config, rng):
    """One `View` of `mesh` (a `trimesh.Trimesh` in its object frame, metres) drawn with `rng`.

    Retries with fresh draws (same generator) when fewer than `config.min_points` points survive;
    raises RuntimeError after `config.max_attempts`.
    """
    centre = mesh.bounds.mean(axis=0)
    for _ in range(config.max_attempts):
        if config.protocol == "so3":
            R = Rotation.random(random_state=rng).as_matrix()
            up = world_up(np.deg2rad(rng.uniform(*config.elevation_deg)))
        else:
            R, up = rotation_z_protocol(rng, config.elevation_deg)
        camera = config.cameras[rng.integers(len(config.cameras))]
        u = rng.uniform(config.image_margin, 1 - config.image_margin) * camera.width
        v = rng.uniform(config.image_margin, 1 - config.image_margin) * camera.height
        ray = np.array([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, 1.0])
        distance = rng.uniform(*config.distance_m)
        t = ray / np.linalg.norm(ray) * distance - R @ centre
        in_camera = posed(mesh, R, t)
        roi = camera.roi_of(in_camera.vertices)
        rendered = render_depth([in_camera], camera, roi)
        if config.drop_crack_hits:
            crack = through_crack_hits(in_camera, camera, roi, rendered.depth)
            rendered = replace(rendered, depth=np.where(crack, np.nan, rendered.depth).astype(np.float32))
        noise = view_noise(config, rng)
        with np.errstate(invalid="ignore"):  # inf - inf next to pixels without return: handled by DepthNoise
            depth = noise.apply(rendered.depth, rendered.incidence, camera.fx, rng)
        if config.bleed is not None:
            depth = neighbour_bleed(depth, rendered.depth, rendered.incidence, noise, config.bleed, rng)
        if config.holes is not None:
            depth = no_return_holes(depth, rendered.incidence, config.holes, rng)
        points = camera.back_project(depth, roi).reshape(-1, 3)
        points = points[np.isfinite(points[:, 2])].astype(np.float64)
        if rng.random() < config.support_cut_prob and len(points):
            lowest = float(np.min(in_camera.vertices @ up))
            points = support_cut(points, lowest, up, rng.uniform(*config.support_cut_m))
        if rng.random() < config.occlusion_prob and len(points) > config.min_points:
            points = occlude(points, rng, config.occlusion_max)
        if len(points) < config.min_points:
            continue
        centroid = points.mean(axis=0)
        sampled = sample_points(points - centroid, config.num_points, rng, config.farthest_point)
        return View(sampled.astype(np.float32), centroid.astype(np.float32), R.astype(np.float32),
                    t.astype(np.float32), up.astype(np.float32), len(points))
    raise RuntimeError(f"no view with >= {config.min_points} points after {config.max_attempts} attempts")
