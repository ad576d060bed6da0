"""sensor_msgs/PointCloud2 <-> numpy, vectorised and ROS-free at import time.

Reading is duck-typed on the message's attribute names (`height, width, fields, is_bigendian, point_step,
row_step, data`; each field: `name, offset, datatype, count`), so it accepts rclpy messages (`data` an
`array.array('B')`), raw messages deserialised by `rosbags` (`data` a numpy uint8 array) and
`PackedCloud` (this module's own layout, for tests and tools). Only `make_cloud` / `to_msg` import
`sensor_msgs` / `builtin_interfaces`, lazily.

    xyz = read_xyz(msg)          # float32 (H, W, 3) organized (height > 1) else (N, 3); NaN kept
    msg = make_cloud(xyz, frame_id="camera", stamp=None)

Every inconsistent header raises `PointCloudError` (a ValueError) naming the problem; nothing is read
past the end of `data`. Rows are addressed with `row_step` (rows may carry padding), points with
`point_step` (points may carry padding), fields at any offset and order.
"""
import array
import math
import sys
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

__all__ = [
    "PointCloudError", "FieldSpec", "PackedCloud", "DATATYPES", "XYZ",
    "read_xyz", "read_fields", "read_rgb", "pack_cloud", "to_msg", "make_cloud", "stamp_to_time",
]

#: sensor_msgs/PointField datatype constant -> numpy scalar type (byte order applied per message).
DATATYPES = {
    1: np.int8, 2: np.uint8, 3: np.int16, 4: np.uint16,
    5: np.int32, 6: np.uint32, 7: np.float32, 8: np.float64,
}
_DATATYPE_OF = {np.dtype(t): code for code, t in DATATYPES.items()}
_FLOAT32 = 7
#: the coordinate fields, in output column order
XYZ = ("x", "y", "z")
#: field names that PCL/ROS drivers use for a packed 8-bit colour (0x00RRGGBB or 0xAARRGGBB)
RGB_FIELD_NAMES = ("rgb", "rgba")
_NANOSECONDS_PER_SECOND = 1_000_000_000


class PointCloudError(ValueError):
    """A PointCloud2 whose header is inconsistent with its data (or that lacks what was asked)."""


@dataclass(frozen=True)
class FieldSpec:
    """One sensor_msgs/PointField: `name`, byte `offset` in a point, `datatype` code (DATATYPES), `count`."""
    name: str
    offset: int
    datatype: int
    count: int = 1


@dataclass
class PackedCloud:
    """A PointCloud2 layout with its bytes, duck-compatible with the message (read_xyz accepts it).

    `data` is a flat uint8 array of `row_step * height` bytes.
    """
    height: int
    width: int
    fields: list
    point_step: int
    row_step: int
    data: np.ndarray
    is_bigendian: bool = False
    is_dense: bool = False
    header: Optional[object] = field(default=None, repr=False)


# ---------------------------------------------------------------------------------------------- reading
def _as_bytes(data):
    """The message's `data` as a flat uint8 numpy view (zero-copy for array.array, bytes, ndarray)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise PointCloudError(f"PointCloud2.data must hold uint8 bytes, got an array of {data.dtype}")
        return np.ascontiguousarray(data).reshape(-1)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:
        try:
            return np.asarray(data, dtype=np.uint8).reshape(-1)
        except (TypeError, ValueError, OverflowError) as e:     # OverflowError: a value outside 0..255
            raise PointCloudError(f"PointCloud2.data is not a byte buffer ({type(data).__name__}): {e}") from e


def _header_int(msg, name):
    value = getattr(msg, name, None)
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise PointCloudError(f"PointCloud2.{name} must be an integer, got {value!r}") from None
    if value < 0:
        raise PointCloudError(f"PointCloud2.{name} must be >= 0, got {value}")
    return value


def _check_layout(msg):
    """Validate the header against the data; returns (height, width, point_step, row_step, bytes, order)."""
    for attr in ("height", "width", "fields", "point_step", "row_step", "data"):
        if not hasattr(msg, attr):
            raise PointCloudError(f"not a PointCloud2: no attribute {attr!r}")
    height, width = _header_int(msg, "height"), _header_int(msg, "width")
    point_step, row_step = _header_int(msg, "point_step"), _header_int(msg, "row_step")
    raw = _as_bytes(msg.data)
    for f in msg.fields:
        if int(f.datatype) not in DATATYPES:
            raise PointCloudError(f"field {f.name!r} has unknown datatype {f.datatype} (expected 1..8)")
        if int(f.count) < 0 or int(f.offset) < 0:
            raise PointCloudError(f"field {f.name!r} has a negative offset or count")
        end = int(f.offset) + np.dtype(DATATYPES[int(f.datatype)]).itemsize * int(f.count)
        if height * width and end > point_step:
            raise PointCloudError(
                f"field {f.name!r} ends at byte {end} but point_step is {point_step}: point_step smaller "
                "than the fields")
    if height * width:
        if row_step < width * point_step:
            raise PointCloudError(f"row_step {row_step} < width {width} x point_step {point_step}")
        if raw.size < row_step * height:
            raise PointCloudError(
                f"data has {raw.size} bytes, fewer than row_step {row_step} x height {height} = "
                f"{row_step * height}")
    order = ">" if bool(getattr(msg, "is_bigendian", False)) else "<"
    return height, width, point_step, row_step, raw, order


def _find_field(msg, name):
    for f in msg.fields:
        if f.name == name:
            return f
    raise PointCloudError(
        f"PointCloud2 has no field {name!r} (fields: {', '.join(f.name for f in msg.fields) or 'none'})")


def _strided(raw, height, width, point_step, row_step, offset, dtype, trailing=()):
    """A (height, width, *trailing) view of `dtype` values at byte `offset` in every point (no copy)."""
    shape = (height, width) + tuple(n for n, _ in trailing)
    strides = (row_step, point_step) + tuple(s for _, s in trailing)
    return np.ndarray(shape, dtype=dtype, buffer=raw, offset=offset, strides=strides)


def _output_shape(height, width, *trailing):
    return ((height, width) if height > 1 else (height * width,)) + trailing


def read_xyz(msg):
    """x, y, z of every point as float32 (H, W, 3) when organized (height > 1), else (N, 3); NaN kept.

    Equals `sensor_msgs_py.point_cloud2.read_points_numpy(msg, ("x", "y", "z"), skip_nans=False)` cast to
    float32 (reshaped H x W when organized), for any field order, padding, byte order and datatype.
    Raises PointCloudError for an inconsistent header, missing x/y/z or x/y/z with count != 1.
    """
    height, width, point_step, row_step, raw, order = _check_layout(msg)
    specs = []
    for name in XYZ:
        f = _find_field(msg, name)
        if int(f.count) != 1:
            raise PointCloudError(f"field {name!r} has count {f.count}; x, y and z must have count 1")
        specs.append((int(f.offset), np.dtype(DATATYPES[int(f.datatype)]).newbyteorder(order)))
    if height * width == 0:
        return np.empty(_output_shape(height, width, 3), dtype=np.float32)
    (ox, dx), (oy, dy), (oz, dz) = specs
    if dx == dy == dz and oy - ox == dx.itemsize and oz - oy == dx.itemsize:
        # common case (x, y, z consecutive, one type): one strided view, one cast
        view = _strided(raw, height, width, point_step, row_step, ox, dx, trailing=((3, dx.itemsize),))
        out = view.astype(np.float32)
    else:
        out = np.empty((height, width, 3), dtype=np.float32)
        for column, (offset, dtype) in enumerate(specs):
            out[..., column] = _strided(raw, height, width, point_step, row_step, offset, dtype)
    return out.reshape(_output_shape(height, width, 3))


def read_fields(msg, names=None):
    """Named fields as native-byte-order numpy arrays (no float cast): {name: (H, W[, count]) or (N[, count])}.

    `names` None reads every field. Raises PointCloudError as read_xyz does.
    """
    height, width, point_step, row_step, raw, order = _check_layout(msg)
    names = [f.name for f in msg.fields] if names is None else list(names)
    out = {}
    for name in names:
        f = _find_field(msg, name)
        dtype = np.dtype(DATATYPES[int(f.datatype)]).newbyteorder(order)
        count = int(f.count)
        trailing = ((count, dtype.itemsize),) if count != 1 else ()
        if height * width == 0:
            values = np.empty((height, width) + tuple(n for n, _ in trailing), dtype=dtype)
        else:
            values = _strided(raw, height, width, point_step, row_step, int(f.offset), dtype, trailing)
        out[name] = values.astype(dtype.newbyteorder("="), copy=True).reshape(
            _output_shape(height, width, *tuple(n for n, _ in trailing)))
    return out


def read_rgb(msg):
    """Packed 8-bit colour of every point as uint8 (..., 3) [r, g, b], shaped as read_xyz's output.

    Reads the 4 bytes of the `rgb` (or `rgba`) field, whatever its declared type (PCL declares FLOAT32),
    as an unsigned 32-bit 0x00RRGGBB / 0xAARRGGBB in the message's byte order.
    """
    names = {f.name: f for f in msg.fields}
    name = next((n for n in RGB_FIELD_NAMES if n in names), None)
    if name is None:
        raise PointCloudError(f"PointCloud2 has no packed colour field ({' or '.join(RGB_FIELD_NAMES)})")
    height, width, point_step, row_step, raw, order = _check_layout(msg)
    f = names[name]
    if np.dtype(DATATYPES[int(f.datatype)]).itemsize != 4 or int(f.count) != 1:
        raise PointCloudError(f"field {name!r} is not a single 4-byte packed colour")
    if height * width == 0:
        return np.empty(_output_shape(height, width, 3), dtype=np.uint8)
    packed = _strided(raw, height, width, point_step, row_step, int(f.offset),
                      np.dtype(np.uint32).newbyteorder(order)).astype(np.uint32)
    shifts = np.array([16, 8, 0], dtype=np.uint32)
    rgb = ((packed[..., None] >> shifts) & 0xFF).astype(np.uint8)
    return rgb.reshape(_output_shape(height, width, 3))


# ---------------------------------------------------------------------------------------------- writing
def _datatype_of(values):
    try:
        return _DATATYPE_OF[np.dtype(values.dtype)]
    except KeyError:
        raise PointCloudError(f"no PointField datatype for numpy {values.dtype}") from None


def pack_cloud(columns: Mapping[str, np.ndarray], fields: Optional[Sequence[FieldSpec]] = None, *,
               point_step=None, row_padding=0, is_bigendian=False):
    """Pack named columns into a PackedCloud with any layout (field order, padding, types, byte order).

    columns: name -> values (H, W[, count]) organized or (N[, count]) unorganized, all with the same
        leading shape. fields: the layout; None packs the columns back to back in their own dtypes
        (offsets in iteration order, count 1, or the trailing size for 2-D/3-D columns).
    point_step: bytes per point (default: the end of the last field); row_padding: extra bytes per row.
    Columns are cast to each field's datatype (values out of range wrap as numpy casting does).
    """
    if not columns:
        raise PointCloudError("pack_cloud needs at least one column")
    arrays = {name: np.asarray(v) for name, v in columns.items()}
    if fields is None:
        fields, offset = [], 0
        for name, values in arrays.items():
            code = _datatype_of(values)
            fields.append(FieldSpec(name, offset, code))
            offset += np.dtype(DATATYPES[code]).itemsize
    fields = [FieldSpec(f.name, int(f.offset), int(f.datatype), int(f.count)) for f in fields]
    lead = None
    for f in fields:
        values = arrays[f.name]
        shape = values.shape[:-1] if f.count != 1 else values.shape
        lead = shape if lead is None else lead
        if shape != lead or len(shape) not in (1, 2):
            raise PointCloudError(f"column {f.name!r} has shape {values.shape}; columns must share (H, W) or (N,)")
    height, width = (lead if len(lead) == 2 else (1, lead[0]))
    end = max(f.offset + np.dtype(DATATYPES[f.datatype]).itemsize * f.count for f in fields)
    point_step = end if point_step is None else int(point_step)
    if point_step < end:
        raise PointCloudError(f"point_step {point_step} smaller than the fields (they end at byte {end})")
    row_step = width * point_step + int(row_padding)
    raw = np.zeros(row_step * height, dtype=np.uint8)
    order = ">" if is_bigendian else "<"
    for f in fields:
        dtype = np.dtype(DATATYPES[f.datatype]).newbyteorder(order)
        trailing = ((f.count, dtype.itemsize),) if f.count != 1 else ()
        if height * width:
            view = _strided(raw, height, width, point_step, row_step, f.offset, dtype, trailing)
            view[...] = arrays[f.name].reshape(view.shape)
    xyz_present = all(any(f.name == n for f in fields) for n in XYZ)
    is_dense = bool(xyz_present and all(np.isfinite(arrays[n]).all() for n in XYZ))
    return PackedCloud(height, width, fields, point_step, row_step, raw, bool(is_bigendian), is_dense)


def stamp_to_time(stamp):
    """builtin_interfaces/Time from a Time (returned as is), float seconds (>= 0) or None (zero)."""
    from builtin_interfaces.msg import Time
    if stamp is None:
        return Time()
    if hasattr(stamp, "sec") and hasattr(stamp, "nanosec"):
        return stamp
    seconds = float(stamp)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"stamp must be finite seconds >= 0, got {stamp!r}")
    total_ns = round(seconds * _NANOSECONDS_PER_SECOND)
    return Time(sec=total_ns // _NANOSECONDS_PER_SECOND, nanosec=total_ns % _NANOSECONDS_PER_SECOND)


def to_msg(cloud: PackedCloud, frame_id="camera", stamp=None):
    """A sensor_msgs/msg/PointCloud2 carrying `cloud` (imports sensor_msgs lazily)."""
    from sensor_msgs.msg import PointCloud2, PointField

    msg = PointCloud2()
    msg.header.frame_id = str(frame_id)
    msg.header.stamp = stamp_to_time(stamp)
    msg.height, msg.width = cloud.height, cloud.width
    msg.fields = [PointField(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count)
                  for f in cloud.fields]
    msg.is_bigendian = cloud.is_bigendian
    msg.point_step, msg.row_step = cloud.point_step, cloud.row_step
    msg.data = array.array("B", np.ascontiguousarray(cloud.data).tobytes())
    msg.is_dense = cloud.is_dense
    return msg


def make_cloud(xyz, frame_id="camera", stamp=None):
    """sensor_msgs/PointCloud2 with float32 x, y, z: organized (height H) for (H, W, 3), else height 1.

    xyz: (H, W, 3) or (N, 3) metres (NaN allowed). stamp: builtin_interfaces/Time, float seconds or None.
    """
    xyz = np.asarray(xyz)
    if xyz.ndim not in (2, 3) or xyz.shape[-1] != 3:
        raise ValueError(f"xyz must be (H, W, 3) or (N, 3), got shape {xyz.shape}")
    xyz = xyz.astype(np.float32, copy=False)
    cloud = pack_cloud({name: xyz[..., i] for i, name in enumerate(XYZ)},
                       is_bigendian=sys.byteorder == "big")
    return to_msg(cloud, frame_id, stamp)
