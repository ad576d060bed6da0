"""Fuzzing the PointCloud2 decoder (pointcloud.read_xyz / read_fields / read_rgb) with hypothesis.

Every generated message either decodes to exactly what a plain per-point `struct` reader finds at the
addresses the header gives, or raises PointCloudError (a ValueError) with a message; nothing else (no
IndexError, no numpy buffer error, no read past the end of `data`). Layouts: random fields (names, order,
offsets, datatypes 1..8 and invalid ones, counts 0..3), both byte orders, padding in points and rows,
inconsistent width / height / point_step / row_step, truncated or oversized data, several buffer types.
"""
import array
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliability_helpers import fuzz_settings
from vn_perception.pointcloud import (DATATYPES, XYZ, FieldSpec, PackedCloud, PointCloudError, pack_cloud,
                                      read_fields, read_rgb, read_xyz)

#: settings (generated cases in CI) of each fuzzer below; VN_FUZZ_EXAMPLES overrides the count
LAYOUT_CASES = fuzz_settings(900)
WELL_FORMED_CASES = fuzz_settings(300)

_STRUCT = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "f", 8: "d"}
_NAMES = ("x", "y", "z", "rgb", "intensity", "ring")


@st.composite
def layouts(draw):
    """A PackedCloud-like header + data: mostly plausible, often inconsistent in one or more ways."""
    height = draw(st.integers(0, 4))
    width = draw(st.integers(0, 6))
    names = draw(st.lists(st.sampled_from(_NAMES), min_size=0, max_size=6))
    fields, offset = [], 0
    for name in names:
        datatype = draw(st.one_of(st.integers(1, 8), st.sampled_from([0, 9, 255, -1])))
        count = draw(st.sampled_from([1, 1, 1, 1, 0, 2, 3, -1]))
        offset = draw(st.one_of(st.just(offset), st.integers(-2, 40)))
        fields.append(FieldSpec(name, offset, datatype, count))
        size = np.dtype(DATATYPES[datatype]).itemsize if datatype in DATATYPES else 4
        offset = max(offset, 0) + size * max(count, 1)
    end = max([f.offset + (np.dtype(DATATYPES[f.datatype]).itemsize if f.datatype in DATATYPES else 4)
               * max(f.count, 1) for f in fields], default=0)
    point_step = draw(st.one_of(st.just(end), st.integers(-1, end + 8)))
    row_step = draw(st.one_of(st.just(width * max(point_step, 0)),
                              st.just(width * max(point_step, 0) + draw(st.integers(1, 9))),
                              st.integers(-1, 80)))
    size = max(row_step, 0) * height
    size = draw(st.one_of(st.just(size), st.integers(0, size + 16)))
    data = np.frombuffer(draw(st.binary(min_size=size, max_size=size)), dtype=np.uint8)
    kind = draw(st.sampled_from(["ndarray", "bytes", "array", "list", "int16-array"]))
    data = {"ndarray": data, "bytes": data.tobytes(), "array": array.array("B", data.tobytes()),
            "list": data.tolist(), "int16-array": data.astype(np.int16)}[kind]
    return PackedCloud(height, width, fields, point_step, row_step, data,
                       is_bigendian=draw(st.booleans()))


def _reference(msg, names):
    """{name: float64 (height, width, count) array} read point by point with struct, or None when the
    header does not describe readable values (the decoder must then raise)."""
    raw = bytes(np.asarray(msg.data, dtype=np.uint8)) if not isinstance(msg.data, (bytes, array.array)) \
        else bytes(msg.data)
    order = ">" if msg.is_bigendian else "<"
    out = {}
    for name in names:
        field = next(f for f in msg.fields if f.name == name)
        code = _STRUCT[field.datatype]
        size = struct.calcsize(code)
        values = np.empty((msg.height, msg.width, field.count))
        for r in range(msg.height):
            for c in range(msg.width):
                for k in range(field.count):
                    at = r * msg.row_step + c * msg.point_step + field.offset + k * size
                    if at < 0 or at + size > len(raw):
                        return None
                    values[r, c, k] = struct.unpack_from(order + code, raw, at)[0]
        out[name] = values
    return out


def _equal(a, b):
    return np.array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), equal_nan=True)


@LAYOUT_CASES
@given(layouts())
def test_any_layout_decodes_exactly_or_raises_point_cloud_error(msg):
    try:
        xyz = read_xyz(msg)
    except PointCloudError as e:
        assert str(e), "the error says what is wrong"
        xyz = None
    if xyz is not None:
        organized = msg.height > 1
        assert xyz.dtype == np.float32
        assert xyz.shape == ((msg.height, msg.width, 3) if organized else (msg.height * msg.width, 3))
        if msg.height * msg.width:
            # a successful read used only in-bounds bytes, and they are the bytes the header points to
            assert all(next(f for f in msg.fields if f.name == n).count == 1 for n in XYZ)
            assert msg.row_step * msg.height <= len(msg.data)
            reference = _reference(msg, XYZ)
            assert reference is not None, "decoded values the header places outside the data"
            expected = np.stack([reference[n][..., 0] for n in XYZ], axis=-1).astype(np.float32)
            assert _equal(xyz.reshape(msg.height, msg.width, 3), expected)

    names = sorted({f.name for f in msg.fields})
    try:
        fields = read_fields(msg, names)
    except PointCloudError as e:
        assert str(e)
        fields = None
    if fields is not None and msg.height * msg.width:
        reference = _reference(msg, names)
        assert reference is not None, "read_fields decoded values outside the data"
        for name in names:
            assert _equal(fields[name].reshape(reference[name].shape), reference[name])

    try:
        rgb = read_rgb(msg)
    except PointCloudError as e:
        assert str(e)
    else:
        assert rgb.dtype == np.uint8 and rgb.shape[-1] == 3


@st.composite
def well_formed(draw):
    """A consistent cloud of any field order, datatypes, padding and byte order, with x, y, z count 1."""
    height, width = draw(st.integers(1, 5)), draw(st.integers(0, 7))
    shape = (height, width) if height > 1 else (width,)
    order = draw(st.permutations(list(XYZ) + ["intensity"]))
    codes = {n: draw(st.integers(1, 8)) for n in order}
    fields, offset = [], 0
    for name in order:
        offset += draw(st.integers(0, 3))
        fields.append(FieldSpec(name, offset, codes[name]))
        offset += np.dtype(DATATYPES[codes[name]]).itemsize
    finite = st.floats(-1e4, 1e4, allow_nan=False, width=32)
    columns = {}
    for name in order:
        dtype = np.dtype(DATATYPES[codes[name]])
        if dtype.kind == "f":
            values = draw(st.lists(st.one_of(finite, st.just(float("nan")), st.just(float("inf"))),
                                   min_size=height * width, max_size=height * width))
        else:
            info = np.iinfo(dtype)
            values = draw(st.lists(st.integers(int(info.min), int(info.max)),
                                   min_size=height * width, max_size=height * width))
        columns[name] = np.array(values, dtype=dtype).reshape(shape)
    cloud = pack_cloud(columns, fields, point_step=offset + draw(st.integers(0, 5)),
                       row_padding=draw(st.integers(0, 7)), is_bigendian=draw(st.booleans()))
    return cloud, columns


@WELL_FORMED_CASES
@given(well_formed())
def test_well_formed_clouds_round_trip(case):
    cloud, columns = case
    xyz = read_xyz(cloud)
    expected = np.stack([columns[n].astype(np.float32) for n in XYZ], axis=-1)
    assert xyz.shape == expected.shape and _equal(xyz, expected)


def test_data_of_values_out_of_byte_range_is_a_point_cloud_error():
    """A duck-typed message whose data is a list holding a value > 255 (found by the fuzzer: numpy raised
    OverflowError)."""
    cloud = pack_cloud({n: np.zeros(2, np.float32) for n in XYZ})
    bad = PackedCloud(cloud.height, cloud.width, cloud.fields, cloud.point_step, cloud.row_step,
                      [300] * cloud.data.size)
    with pytest.raises(PointCloudError, match="byte"):
        read_xyz(bad)
