"""Connected components of object points: image-grid components for organized clouds, Euclidean
(radius-graph) components for unorganized ones."""
import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from vn_perception.constants import EPS


def _shifted(values, rows, cols):
    """`values[i + rows, j + cols]` for every (i, j) of a float array (H, W, ...), NaN where outside."""
    out = np.full_like(values, np.nan)
    height, width = values.shape[:2]
    out[max(-rows, 0):height - max(rows, 0), max(-cols, 0):width - max(cols, 0)] = \
        values[max(rows, 0):height + min(rows, 0), max(cols, 0):width + min(cols, 0)]
    return out


def _block_sum(values, cell_px):
    """Sum of every cell_px x cell_px block of (H, W, ...) values (H, W multiples of cell_px)."""
    rows = values[:, 0::cell_px].copy()
    for k in range(1, cell_px):
        rows += values[:, k::cell_px]
    cells = rows[0::cell_px].copy()
    for k in range(1, cell_px):
        cells += rows[k::cell_px]
    return cells


def _depth_close(a, b, depth_jump_ratio):
    """(...) bool: cells/points a and b (..., 3) whose depths differ by <= ratio x the nearer (False for NaN)."""
    with np.errstate(invalid="ignore"):
        return np.abs(a[..., 2] - b[..., 2]) <= depth_jump_ratio * np.fmin(a[..., 2], b[..., 2])


def _unit(vectors):
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), EPS)


def cell_normals(centroids, depth_jump_ratio):
    """Unit normals (Hc, Wc, 3) of a grid of cell centroids (NaN = empty), turned towards the camera.

    Tangents are central differences of the neighbouring centroids, one-sided where a neighbour is empty
    or beyond a depth jump; NaN where neither side exists.
    """
    tangents = []
    for rows, cols in ((0, 1), (1, 0)):
        ahead, behind = _shifted(centroids, rows, cols), _shifted(centroids, -rows, -cols)
        ok_ahead = _depth_close(ahead, centroids, depth_jump_ratio)[..., None]
        ok_behind = _depth_close(behind, centroids, depth_jump_ratio)[..., None]
        tangents.append(np.where(ok_ahead & ok_behind, ahead - behind,
                                 np.where(ok_ahead, ahead - centroids,
                                          np.where(ok_behind, centroids - behind, np.nan))))
    normals = _unit(np.cross(tangents[0], tangents[1]))
    with np.errstate(invalid="ignore"):
        away = np.einsum("hwc,hwc->hw", normals, centroids) > 0
    normals[away] *= -1
    return normals


def _cell_links(centroids, normals, rows, cols, depth_jump_ratio, concavity_cut, reach):
    """Links (Hc, Wc) bool from every cell to its neighbour at (+rows, +cols).

    Linked: both cells occupied, depths within the jump ratio, and no concave crease: with the cells
    `reach - 1` further out on either side (a, b), (n_a - n_b) . (p_a - p_b) / |p_a - p_b| >= -concavity_cut.
    """
    links = _depth_close(centroids, _shifted(centroids, rows, cols), depth_jump_ratio)
    if concavity_cut > 0:
        back, ahead = reach - 1, reach
        p_a, n_a = _shifted(centroids, -back * rows, -back * cols), _shifted(normals, -back * rows, -back * cols)
        p_b, n_b = _shifted(centroids, ahead * rows, ahead * cols), _shifted(normals, ahead * rows, ahead * cols)
        chord = p_a - p_b
        with np.errstate(invalid="ignore"):
            convexity = np.einsum("hwc,hwc->hw", n_a - n_b, _unit(chord))
            links &= ~(convexity < -concavity_cut)                      # NaN (no data) keeps the link
    return links


def label_grid_graph(nodes, link_right, link_down):
    """Connected components of a 4-neighbour grid graph.

    nodes (H, W) bool; link_right (H, W - 1), link_down (H - 1, W) bool edges (used where both ends are
    nodes). Returns (labels (H, W) int32, 0 = not a node, count). Labelled exactly with
    `scipy.ndimage.label` on a grid of twice the resolution holding nodes at even and edges at odd positions.
    """
    height, width = nodes.shape
    grid = np.zeros((2 * height - 1, 2 * width - 1), dtype=bool)
    grid[0::2, 0::2] = nodes
    grid[0::2, 1::2] = link_right & nodes[:, 1:] & nodes[:, :-1]
    grid[1::2, 0::2] = link_down & nodes[1:] & nodes[:-1]
    grid_labels, count = ndimage.label(grid)
    return grid_labels[0::2, 0::2], int(count)


def organized_components(points, mask, cell_px, depth_jump_ratio, concavity_cut=0.0, concavity_reach_cells=2):
    """Connected object regions of an organized cloud.

    points (H, W, 3) metres; mask (H, W) bool: candidate pixels (finite). Pixels are pooled into
    cell_px x cell_px cells (centroid of their candidates; a cell needs a quarter of its pixels). Neighbour
    cells connect unless their depths differ by more than `depth_jump_ratio` x depth (an occlusion edge)
    or they sit across a concave crease (see `_cell_links`; `concavity_cut` 0 disables: depth jumps only).
    Every candidate pixel then takes its cell's component when its depth is within the jump ratio of the
    cell's. Returns (labels (H, W) int32, 0 = none, component count).
    """
    height, width = mask.shape
    labels = np.zeros((height, width), dtype=np.int32)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return labels, 0
    r0, c0 = rows[0] - rows[0] % cell_px, cols[0] - cols[0] % cell_px
    r1 = min(r0 + -(-(rows[-1] + 1 - r0) // cell_px) * cell_px, height)
    c1 = min(c0 + -(-(cols[-1] + 1 - c0) // cell_px) * cell_px, width)
    box_mask, box_points = mask[r0:r1, c0:c1], points[r0:r1, c0:c1]
    pad = ((0, -(r1 - r0) % cell_px), (0, -(c1 - c0) % cell_px))
    if pad[0][1] or pad[1][1]:                          # image size not a multiple of the cell: pad the box
        box_mask, box_points = np.pad(box_mask, pad), np.pad(box_points, pad + ((0, 0),))
    counts = _block_sum(box_mask.astype(np.float32), cell_px)
    sums = _block_sum(np.where(box_mask[..., None], box_points, np.float32(0)), cell_px)
    occupied = counts >= cell_px * cell_px / 4
    centroids = np.where(occupied[..., None], sums / np.maximum(counts, 1)[..., None], np.nan)
    normals = cell_normals(centroids, depth_jump_ratio) if concavity_cut > 0 else centroids
    link_right, link_down = (
        _cell_links(centroids, normals, r, c, depth_jump_ratio, concavity_cut, concavity_reach_cells)
        for r, c in ((0, 1), (1, 0)))
    cell_labels, count = label_grid_graph(occupied, link_right[:, :-1], link_down[:-1])
    cells_h, cells_w = occupied.shape

    def per_pixel(cell_values):
        """(Hc, Wc) cell values -> (Hc * cell_px, Wc * cell_px) pixel values (a broadcast, no copy)."""
        return np.broadcast_to(cell_values[:, None, :, None],
                               (cells_h, cell_px, cells_w, cell_px)).reshape(box_mask.shape)

    cell_depth = per_pixel(centroids[..., 2])
    with np.errstate(invalid="ignore"):
        consistent = box_mask & (np.abs(box_points[..., 2] - cell_depth) <= depth_jump_ratio * cell_depth)
    box_labels = np.where(consistent, per_pixel(cell_labels), 0)
    labels[r0:r1, c0:c1] = box_labels[:r1 - r0, :c1 - c0]
    return labels, count


def euclidean_components(points, tolerance_m):
    """Connected components of (M, 3) points linked when closer than `tolerance_m`.

    Returns (labels (M,) int64 in [0, count), count). Uses a k-d tree radius query and
    scipy.sparse.csgraph.connected_components.
    """
    count = len(points)
    if count == 0:
        return np.empty(0, dtype=np.int64), 0
    pairs = cKDTree(points).query_pairs(tolerance_m, output_type="ndarray")
    graph = sparse.coo_matrix((np.ones(len(pairs), dtype=bool), (pairs[:, 0], pairs[:, 1])),
                              shape=(count, count))
    n, labels = csgraph.connected_components(graph, directed=False)
    return labels.astype(np.int64), int(n)


def statistical_inliers(points, neighbors, std_ratio):
    """Statistical outlier removal: (M, 3) points -> (M,) bool, True for inliers.

    A point is an outlier when its mean distance to its `neighbors` nearest neighbours exceeds the mean of
    that quantity over all points by more than `std_ratio` standard deviations. Sets of at most
    `neighbors` points are kept whole.
    """
    count = len(points)
    if count <= neighbors:
        return np.ones(count, dtype=bool)
    distances, _ = cKDTree(points).query(points, k=neighbors + 1)
    mean_distance = distances[:, 1:].mean(axis=1)
    return mean_distance <= mean_distance.mean() + std_ratio * mean_distance.std()
