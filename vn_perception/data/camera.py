"""A virtual depth camera: pinhole intrinsics, ray casting of meshes, a depth-sensor noise model.

Shared by the synthetic training views (`data/views.py`) and the scene simulator, so that training data and
simulated scenes see the same sensor. Frames: the camera's optical frame (x right, y down, z forward), metres.
"""
from dataclasses import dataclass, field

import numpy as np
import trimesh


@dataclass(frozen=True)
class PinholeCamera:
    """Pinhole intrinsics of a depth camera (pixels); `K` is the 3x3 matrix."""

    width: int = 640
    height: int = 480
    fx: float = 615.0
    fy: float = 615.0
    cx: float = 319.5
    cy: float = 239.5

    @classmethod
    def d435(cls):
        """RealSense D435-like depth stream at 640x480 (fx ~ 615 px)."""
        return cls(640, 480, 615.0, 615.0, 319.5, 239.5)

    @classmethod
    def kinect(cls):
        """Kinect / Xtion-like depth stream at 640x480 (fx ~ 525 px)."""
        return cls(640, 480, 525.0, 525.0, 319.5, 239.5)

    @classmethod
    def from_K(cls, K, width=640, height=480):
        K = np.asarray(K, dtype=float)
        return cls(int(width), int(height), float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))

    @property
    def K(self):
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def pixel_grid(self, roi=None):
        """Pixel coordinates (u, v) of a window `roi=(u0, v0, u1, v1)` (exclusive ends), each `[h, w]`."""
        u0, v0, u1, v1 = roi if roi is not None else (0, 0, self.width, self.height)
        return np.meshgrid(np.arange(u0, u1, dtype=float), np.arange(v0, v1, dtype=float))

    def project(self, points):
        """Camera-frame points `[N, 3]` -> pixel coordinates `[N, 2]` (u, v); points need z > 0."""
        points = np.asarray(points, dtype=float)
        return np.stack([self.fx * points[:, 0] / points[:, 2] + self.cx,
                         self.fy * points[:, 1] / points[:, 2] + self.cy], axis=1)

    def roi_of(self, points, margin_px=4):
        """The pixel window `(u0, v0, u1, v1)` that holds the projection of `points` (clipped to the image)."""
        uv = self.project(points)
        u0, v0 = np.floor(uv.min(axis=0)).astype(int) - margin_px
        u1, v1 = np.ceil(uv.max(axis=0)).astype(int) + margin_px + 1
        return (max(u0, 0), max(v0, 0), min(u1, self.width), min(v1, self.height))

    def back_project(self, depth, roi=None):
        """Depth image `[h, w]` (metres along z; NaN or 0 = no return) -> organized points `[h, w, 3]`, NaN kept."""
        depth = np.asarray(depth, dtype=np.float32)
        depth = np.where(depth > 0, depth, np.nan)
        u, v = self.pixel_grid(roi)
        x = (u - self.cx) / self.fx * depth
        y = (v - self.cy) / self.fy * depth
        return np.stack([x, y, depth], axis=-1).astype(np.float32)


@dataclass(frozen=True)
class DepthNoise:
    """Depth-sensor noise: axial noise growing with distance and incidence angle, missing returns, quantisation.

    Axial standard deviation (Nguyen, Izadi, Lovell 2012, structured-light Kinect; close to RealSense D4xx figures):
        sigma(z, theta) = a + b (z - z0)^2 + c / sqrt(z) * theta^2 / (pi/2 - theta)^2        [m]
    Missing returns: grazing incidence beyond `max_incidence_deg` never returns, and between
    `dropout_start_deg` and that the return probability falls linearly; pixels next to depth discontinuities
    larger than `edge_jump_m` are lost with probability `edge_dropout`; every pixel with `random_dropout`.
    Quantisation: stereo disparity steps, depth step = z^2 * subpixel / (fx * baseline).
    """

    axial_a_m: float = 0.0012
    axial_b_per_m: float = 0.0019
    axial_z0_m: float = 0.4
    angle_c: float = 0.0001
    max_incidence_deg: float = 85.0
    dropout_start_deg: float = 70.0
    edge_jump_m: float = 0.02
    edge_dropout: float = 0.5
    random_dropout: float = 0.01
    baseline_m: float = 0.05
    subpixel: float = 0.08

    @classmethod
    def none(cls):
        """A perfect sensor (no noise, no dropout, no quantisation)."""
        return cls(0.0, 0.0, 0.4, 0.0, 90.0, 90.0, np.inf, 0.0, 0.0, 0.05, 0.0)

    def sigma(self, z, incidence_rad):
        theta = np.minimum(incidence_rad, np.deg2rad(89.0))
        return (self.axial_a_m + self.axial_b_per_m * (z - self.axial_z0_m) ** 2
                + self.angle_c / np.sqrt(np.maximum(z, 1e-3)) * theta ** 2 / (np.pi / 2 - theta) ** 2)

    def apply(self, depth, incidence_rad, fx, rng):
        """Noisy copy of `depth [h, w]` (NaN = no return) given the incidence angle of each hit (radians)."""
        depth = np.array(depth, dtype=np.float64)
        hit = np.isfinite(depth)
        z = np.where(hit, depth, 1.0)
        theta = np.where(hit, incidence_rad, 0.0)
        keep = hit.copy()
        # grazing incidence
        start, stop = np.deg2rad(self.dropout_start_deg), np.deg2rad(self.max_incidence_deg)
        p_return = np.clip((stop - theta) / max(stop - start, 1e-9), 0.0, 1.0)
        keep &= rng.random(depth.shape) < p_return
        # depth discontinuities (both sides of a jump, and silhouette pixels next to no return)
        if self.edge_dropout > 0:
            filled = np.where(hit, depth, np.inf)
            edge = np.zeros_like(hit)
            for axis in (0, 1):
                with np.errstate(invalid="ignore"):   # inf - inf between two no-return pixels: no jump
                    jump = np.abs(np.diff(filled, axis=axis))
                jump = np.where(np.isnan(jump), np.inf, jump) > self.edge_jump_m
                lead = [slice(None)] * 2
                lead[axis] = slice(1, None)
                trail = [slice(None)] * 2
                trail[axis] = slice(None, -1)
                edge[tuple(trail)] |= jump
                edge[tuple(lead)] |= jump
            keep &= ~(edge & (rng.random(depth.shape) < self.edge_dropout))
        keep &= rng.random(depth.shape) >= self.random_dropout
        noisy = z + rng.standard_normal(depth.shape) * self.sigma(z, theta)
        if self.subpixel > 0:
            step = noisy ** 2 * self.subpixel / (fx * self.baseline_m)
            noisy = np.round(noisy / step) * step
        return np.where(keep, noisy, np.nan).astype(np.float32)


@dataclass
class RenderResult:
    """Output of `render_depth` for a pixel window: depth `[h, w]` (NaN = no return), the index of the mesh
    hit at each pixel `[h, w]` (-1 = none), the incidence angle of each hit (radians), and the window."""

    depth: np.ndarray
    instance: np.ndarray
    incidence: np.ndarray
    roi: tuple = field(default=(0, 0, 0, 0))


def render_depth(meshes, camera, roi=None):
    """Ray-cast meshes given in the camera frame (one ray per pixel of `roi`, nearest hit).

    `meshes`: list of `trimesh.Trimesh` already posed in the camera frame. Uses Embree through trimesh when
    `embreex` is installed (~0.1 s for a full 640x480 view), trimesh's pure-numpy intersector otherwise.
    """
    roi = roi if roi is not None else (0, 0, camera.width, camera.height)
    u, v = camera.pixel_grid(roi)
    h, w = u.shape
    dirs = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones_like(u)], -1).reshape(-1, 3)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    scene = trimesh.util.concatenate(list(meshes)) if len(meshes) > 1 else meshes[0]
    face_owner = np.repeat(np.arange(len(meshes)), [len(m.faces) for m in meshes])
    origins = np.zeros_like(dirs)
    locations, ray_index, tri_index = scene.ray.intersects_location(origins, dirs, multiple_hits=False)
    depth = np.full(h * w, np.nan, dtype=np.float32)
    instance = np.full(h * w, -1, dtype=np.int32)
    incidence = np.zeros(h * w, dtype=np.float32)
    if len(ray_index):
        depth[ray_index] = locations[:, 2]
        instance[ray_index] = face_owner[tri_index]
        cos = np.abs(np.einsum("ij,ij->i", scene.face_normals[tri_index], dirs[ray_index]))
        incidence[ray_index] = np.arccos(np.clip(cos, 0.0, 1.0))
    return RenderResult(depth.reshape(h, w), instance.reshape(h, w), incidence.reshape(h, w), tuple(roi))


def posed(mesh, rotation, translation):
    """A copy of `mesh` moved by `p -> rotation @ p + translation` (object frame -> camera frame)."""
    T = np.eye(4)
    T[:3, :3] = rotation
    T[:3, 3] = translation
    out = mesh.copy()
    out.apply_transform(T)
    return out
