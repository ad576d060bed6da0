"""Connected components of object points: image-grid components for organized clouds, Euclidean
(radius-graph) components for unorganized ones."""
import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from vn_perception.constants import EPS


#: Cell grids are kept channel-first, `[3, Hc, Wc]` (x, y, z planes): every operation then runs over long
#: contiguous rows instead of 3-element pixel vectors, which numpy handles several times faster. Dot products,
#: norms and cross products are written out per component in the order numpy's einsum / linalg.norm /
#: cross sum them, so the results are the same bits as the pixel-vector formulation.


def _block_sum(values, cell_px):
    """Sum of every cell_px x cell_px block over the last two axes of (..., H, W) values (H, W multiples of
    cell_px): the columns of a block first, then its rows."""
    rows = values[..., 0::cell_px].copy()
    for k in range(1, cell_px):
        rows += values[..., k::cell_px]
    cells = rows[..., 0::cell_px, :].copy()
    for k in range(1, cell_px):
        cells += rows[..., k::cell_px, :]
    return cells


def _depth_close(depth_a, depth_b, depth_jump_ratio):
    """(...) bool: depths a and b (...) that differ by <= ratio x the nearer (False for NaN)."""
    with np.errstate(invalid="ignore"):
        return np.abs(depth_a - depth_b) <= depth_jump_ratio * np.fmin(depth_a, depth_b)


def _dot(a, b):
    """(...) dot products of channel-first vectors a, b [3, ...]."""
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _unit(vectors):
    """Channel-first vectors [3, ...] scaled to unit length (norms clamped at EPS)."""
    return vectors / np.maximum(np.sqrt(_dot(vectors, vectors)), EPS)


def _cross(a, b):
    """[3, ...] cross products of channel-first vectors a, b [3, ...]."""
    return np.stack((a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]))


def _window(size, reach, shift):
    """Slice of an axis of `size` cells seen from the cells at least `reach` from either end, moved by `shift`."""
    return slice(reach + shift, size - reach + shift)


def _box_sum(values, radius):
    """Sum of (..., H, W) values over the (2 radius + 1)^2 window around every cell (zeros outside)."""
    if radius == 0:
        return values
    padded = np.pad(values, ((0, 0),) * (values.ndim - 2) + ((radius + 1, radius), (radius + 1, radius)))
    table = padded.cumsum(axis=-2).cumsum(axis=-1)                   # summed-area table
    size = 2 * radius + 1
    return (table[..., size:, size:] - table[..., :-size, size:] - table[..., size:, :-size]
            + table[..., :-size, :-size])


def cell_normals(centroids, depth_jump_ratio, smoothing_cells=1):
    """Unit normals [3, Hc, Wc] of a grid of cell centroids [3, Hc, Wc] (NaN = empty), turned towards the camera.

    The two tangents of a cell are the differences to its right and lower neighbours (where within the
    depth-jump ratio), summed over the (2 smoothing_cells + 1)^2 window around it, which averages the
    sensor noise out of the normals (a plane fit over the window, in effect) without crossing occlusion
    edges. NaN for empty cells and where the window holds no tangent pair.
    """
    tangents = []
    for axis in (2, 1):                                              # right, then down
        here = (slice(None),) * axis + (slice(None, -1),)
        ahead = (slice(None),) * axis + (slice(1, None),)
        step = np.zeros_like(centroids)
        step[here] = np.where(_depth_close(centroids[here][2], centroids[ahead][2], depth_jump_ratio),
                              centroids[ahead] - centroids[here], 0)
        tangents.append(_box_sum(step, smoothing_cells))
    normal = _cross(tangents[0], tangents[1])
    length = np.sqrt(_dot(normal, normal))
    with np.errstate(invalid="ignore", divide="ignore"):
        normals = np.where((length > EPS) & np.isfinite(centroids[2]), normal / length, np.nan)
        away = _dot(normals, centroids) > 0
    normals[:, away] *= -1
    return normals


#: grid directions (rows, cols) along which creases are looked for: both axes and both diagonals, so that
#: a crease at any image orientation is crossed by a direction within 22.5 degrees of its normal
_CREASE_DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))


def concavity(centroids, normals, reach):
    """(Hc, Wc) most concave bend at every cell: min over `_CREASE_DIRECTIONS` of
    (n_a - n_b) . (p_a - p_b) / |p_a - p_b| for the cells a, b `reach` cells away on either side
    (centroids p and normals n: [3, Hc, Wc]).

    Negative where the surface folds inwards (the crease where two objects touch, about -1.4 for a right
    angle), positive on convex bends, ~0 on flat or gently curved surfaces; +inf where no pair has data.
    """
    height, width = centroids.shape[1:]
    bend = np.full((height, width), np.inf, dtype=np.float32)
    for rows, cols in _CREASE_DIRECTIONS:
        reach_r, reach_c = abs(reach * rows), abs(reach * cols)
        centre = (_window(height, reach_r, 0), _window(width, reach_c, 0))
        side_a = (slice(None), _window(height, reach_r, -reach * rows), _window(width, reach_c, -reach * cols))
        side_b = (slice(None), _window(height, reach_r, reach * rows), _window(width, reach_c, reach * cols))
        with np.errstate(invalid="ignore"):
            bend[centre] = np.fmin(bend[centre], _dot(normals[side_a] - normals[side_b],
                                                      _unit(centroids[side_a] - centroids[side_b])))
    return bend


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


_NEIGHBOURS = ((0, 1), (1, 0), (0, -1), (-1, 0))


def _regrow(labels, depth, depth_jump_ratio):
    """Unlabelled occupied cells (crease cells) take, round after round, the label of the 4-neighbour
    nearest in depth (the first in `_NEIGHBOURS` order on a tie) among the labelled ones within the
    depth-jump ratio. depth (Hc, Wc), NaN = empty cell. Returns the new labels (Hc, Wc); only the unlabelled
    cells are visited."""
    height, width = labels.shape
    labels = labels.copy()
    flat_labels, flat_depth = labels.reshape(-1), depth.reshape(-1)
    missing = np.flatnonzero(np.isfinite(flat_depth) & (flat_labels == 0))
    while len(missing):
        rows, cols = np.divmod(missing, width)
        here = flat_depth[missing]
        best_label = np.zeros(len(missing), dtype=labels.dtype)
        best_gap = np.full(len(missing), np.inf, dtype=np.float32)
        for d_row, d_col in _NEIGHBOURS:
            inside = (rows + d_row >= 0) & (rows + d_row < height) & (cols + d_col >= 0) & (cols + d_col < width)
            neighbour = np.where(inside, missing + d_row * width + d_col, 0)
            label = flat_labels[neighbour]
            with np.errstate(invalid="ignore"):
                gap = np.abs(flat_depth[neighbour] - here)
                better = inside & (label > 0) & (gap <= depth_jump_ratio * here) & (gap < best_gap)
            best_label[better], best_gap[better] = label[better], gap[better]
        found = best_label > 0
        if not found.any():
            break
        flat_labels[missing[found]] = best_label[found]
        missing = missing[~found]
    return labels


def organized_components(points, mask, cell_px, depth_jump_ratio, concavity_cut=0.0, concavity_reach_cells=1,
                         normal_smoothing_cells=1):
    """Connected object regions of an organized cloud (crease-aware region growing on the cell grid).

    points (H, W, 3) metres; mask (H, W) bool: candidate pixels (finite). Pixels are pooled into
    cell_px x cell_px cells (centroid of their candidates; a cell needs a quarter of its pixels). Neighbour
    cells connect unless their depths differ by more than `depth_jump_ratio` x depth (an occlusion edge).
    With `concavity_cut` > 0, cells on a concave crease (`concavity` < -concavity_cut, normals smoothed over
    `normal_smoothing_cells`, compared `concavity_reach_cells` away) are left out while the components are
    labelled -- the crease line separates the objects that touch along it, as LCCP's concave edges do -- and
    then rejoin the adjacent component nearest in depth. Every candidate pixel takes its cell's component
    when its depth is within the jump ratio of the cell's. Returns (labels (H, W) int32, 0 = none, count).
    """
    height, width = mask.shape
    labels = np.zeros((height, width), dtype=np.int32)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return labels, 0
    r0, c0 = rows[0] - rows[0] % cell_px, cols[0] - cols[0] % cell_px
    r1 = min(r0 + -(-(rows[-1] + 1 - r0) // cell_px) * cell_px, height)
    c1 = min(c0 + -(-(cols[-1] + 1 - c0) // cell_px) * cell_px, width)
    box_mask = mask[r0:r1, c0:c1]
    box_points = np.ascontiguousarray(np.moveaxis(points[r0:r1, c0:c1], -1, 0))      # [3, h, w]
    pad = ((0, -(r1 - r0) % cell_px), (0, -(c1 - c0) % cell_px))
    if pad[0][1] or pad[1][1]:                          # image size not a multiple of the cell: pad the box
        box_mask, box_points = np.pad(box_mask, pad), np.pad(box_points, ((0, 0),) + pad)
    counts = _block_sum(box_mask.astype(np.float32), cell_px)
    sums = _block_sum(np.where(box_mask, box_points, np.float32(0)), cell_px)
    occupied = counts >= cell_px * cell_px / 4
    centroids = np.where(occupied, sums / np.maximum(counts, 1), np.nan)              # [3, Hc, Wc]
    depth = centroids[2]
    nodes = occupied
    if concavity_cut > 0:
        normals = cell_normals(centroids, depth_jump_ratio, normal_smoothing_cells)
        nodes = occupied & ~(concavity(centroids, normals, concavity_reach_cells) < -concavity_cut)
    cell_labels, count = label_grid_graph(nodes, _depth_close(depth[:, :-1], depth[:, 1:], depth_jump_ratio),
                                          _depth_close(depth[:-1], depth[1:], depth_jump_ratio))
    if concavity_cut > 0:
        cell_labels = _regrow(cell_labels, depth, depth_jump_ratio)

    def per_pixel(cell_values):
        """(Hc, Wc) cell values -> (Hc * cell_px, Wc * cell_px) pixel values."""
        return cell_values.repeat(cell_px, axis=0).repeat(cell_px, axis=1)

    cell_depth = per_pixel(depth)
    with np.errstate(invalid="ignore"):
        consistent = box_mask & (np.abs(box_points[2] - cell_depth) <= depth_jump_ratio * cell_depth)
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
