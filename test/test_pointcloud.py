"""vn_perception.pointcloud: PointCloud2 <-> numpy against a per-point struct.unpack reference decoder."""
import struct
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vn_perception.pointcloud import DATATYPES, FieldSpec, PointCloudError, pack_cloud, read_fields, read_rgb, read_xyz

#: PointField datatype -> struct format character
STRUCT_CODES = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "f", 8: "d"}


def reference_xyz(msg):
    """What sensor_msgs_py's read_points_numpy(msg, ('x','y','z'), skip_nans=False) gives, cast to float32
    and shaped (H, W, 3) when organized: one struct.unpack per value, rows addressed by row_step."""
    order = ">" if msg.is_bigendian else "<"
    fields = {f.name: f for f in msg.fields}
    data = bytes(np.asarray(msg.data, dtype=np.uint8))
    out = np.empty((msg.height, msg.width, 3), dtype=np.float32)
    for row in range(msg.height):
        for col in range(msg.width):
            base = row * msg.row_step + col * msg.point_step
            for k, name in enumerate("xyz"):
                f = fields[name]
                (out[row, col, k],) = struct.unpack_from(order + STRUCT_CODES[f.datatype], data, base + f.offset)
    return out if msg.height > 1 else out.reshape(-1, 3)


def random_values(rng, datatype, shape):
    dtype = np.dtype(DATATYPES[datatype])
    if dtype.kind == "f":
        values = rng.normal(0, 2, shape).astype(dtype)
        values[rng.random(shape) < 0.1] = np.nan
        return values
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def rosbags_cloud(packed):
    """The same cloud as a message deserialised by rosbags (data: numpy uint8, datatype: ints)."""
    from rosbags.typesys import Stores, get_typestore
    types = get_typestore(Stores.ROS2_HUMBLE).types
    Header, Time = types["std_msgs/msg/Header"], types["builtin_interfaces/msg/Time"]
    PointField, PointCloud2 = types["sensor_msgs/msg/PointField"], types["sensor_msgs/msg/PointCloud2"]
    return PointCloud2(
        header=Header(stamp=Time(sec=0, nanosec=0), frame_id="camera"), height=packed.height,
        width=packed.width,
        fields=[PointField(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count) for f in packed.fields],
        is_bigendian=packed.is_bigendian, point_step=packed.point_step, row_step=packed.row_step,
        data=packed.data.copy(), is_dense=packed.is_dense)


@st.composite
def layouts(draw):
    """A random cloud layout: x/y/z (any datatype, any order) plus padding and an extra field."""
    height = draw(st.sampled_from([1, 1, 2, 3]))
    width = draw(st.integers(0, 7))
    names = draw(st.permutations(["x", "y", "z", "intensity"]))
    fields, offset = [], 0
    for name in names:
        datatype = draw(st.sampled_from(sorted(DATATYPES)))
        offset += draw(st.integers(0, 3))                                    # padding before the field
        fields.append(FieldSpec(name, offset, datatype))
        offset += np.dtype(DATATYPES[datatype]).itemsize
    point_step = offset + draw(st.integers(0, 5))
    return dict(height=height, width=width, fields=fields, point_step=point_step,
                row_padding=draw(st.integers(0, 6)), is_bigendian=draw(st.booleans()), seed=draw(st.integers(0, 99)))


@settings(max_examples=200, deadline=None)
@given(layouts())
def test_read_xyz_matches_reference_decoder_on_random_layouts(layout):
    rng = np.random.default_rng(layout["seed"])
    shape = (layout["height"], layout["width"])
    columns = {f.name: random_values(rng, f.datatype, shape) for f in layout["fields"]}
    cloud = pack_cloud(columns, layout["fields"], point_step=layout["point_step"],
                       row_padding=layout["row_padding"], is_bigendian=layout["is_bigendian"])
    expected = reference_xyz(cloud)
    for msg in (cloud, rosbags_cloud(cloud)):
        got = read_xyz(msg)
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)                        # NaN positions equal too


@pytest.mark.parametrize("datatype", sorted(DATATYPES))
@pytest.mark.parametrize("is_bigendian", [False, True])
def test_every_datatype_round_trips(datatype, is_bigendian):
    rng = np.random.default_rng(datatype)
    xyz = {n: random_values(rng, datatype, (4, 5)) for n in "xyz"}
    cloud = pack_cloud(xyz, is_bigendian=is_bigendian)
    np.testing.assert_array_equal(read_xyz(cloud), np.stack([xyz[n] for n in "xyz"], -1).astype(np.float32))
    np.testing.assert_array_equal(read_fields(cloud, ["y"])["y"], xyz["y"])


def test_padded_pcl_layout_with_rgb_and_row_padding():
    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(3, 4, 3)).astype(np.float32)
    xyz[0, 1] = np.nan
    rgb = np.full((3, 4), 0x00FF8040, dtype=np.uint32)
    fields = [FieldSpec("rgb", 16, 7), FieldSpec("z", 8, 7), FieldSpec("x", 0, 7), FieldSpec("y", 4, 7)]
    columns = {"x": xyz[..., 0], "y": xyz[..., 1], "z": xyz[..., 2], "rgb": rgb.view(np.float32)}
    cloud = pack_cloud(columns, fields, point_step=32, row_padding=8)
    assert cloud.row_step == 4 * 32 + 8
    np.testing.assert_array_equal(read_xyz(cloud), xyz)
    np.testing.assert_array_equal(read_rgb(cloud), np.broadcast_to([255, 128, 64], (3, 4, 3)))
    assert not cloud.is_dense


def test_unorganized_and_empty_shapes():
    xyz = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert read_xyz(pack_cloud({n: xyz[:, i] for i, n in enumerate("xyz")})).shape == (4, 3)
    empty = pack_cloud({n: np.empty(0, np.float32) for n in "xyz"})
    assert read_xyz(empty).shape == (0, 3)


def _valid_cloud():
    xyz = np.ones((2, 3, 3), dtype=np.float32)
    return pack_cloud({n: xyz[..., i] for i, n in enumerate("xyz")})


def _broken(**changes):
    cloud = _valid_cloud()
    for name, value in changes.items():
        setattr(cloud, name, value)
    return cloud


@pytest.mark.parametrize("cloud, message", [
    (_broken(data=np.zeros(10, np.uint8)), "fewer than row_step"),
    (_broken(point_step=8, row_step=24), "point_step smaller than the fields"),
    (_broken(row_step=20), "row_step 20 < width"),
    (_broken(fields=[FieldSpec("x", 0, 7), FieldSpec("y", 4, 7)]), "no field 'z'"),
    (_broken(fields=[FieldSpec("x", 0, 7), FieldSpec("y", 4, 7), FieldSpec("z", 8, 9)]), "unknown datatype 9"),
    (_broken(fields=[FieldSpec("x", 0, 7, 2), FieldSpec("y", 4, 7), FieldSpec("z", 8, 7)]), "count"),
    (_broken(height=-1), "height must be >= 0"),
    (_broken(width="three"), "width must be an integer"),
    (_broken(data=np.zeros(72, np.float32)), "uint8"),
    (object(), "not a PointCloud2"),
])
def test_malformed_headers_raise_pointcloud_error(cloud, message):
    with pytest.raises(PointCloudError, match=message):
        read_xyz(cloud)
    assert issubclass(PointCloudError, ValueError)


def test_read_rgb_needs_a_colour_field():
    with pytest.raises(PointCloudError, match="colour"):
        read_rgb(_valid_cloud())


def test_decoding_a_vga_cloud_is_fast():
    xyz = np.random.default_rng(0).random((480, 640, 3), dtype=np.float32)
    contiguous = pack_cloud({n: xyz[..., i] for i, n in enumerate("xyz")})
    padded = pack_cloud({n: xyz[..., i] for i, n in enumerate("xyz")}, point_step=32)
    for cloud in (contiguous, padded):
        seconds = []
        for _ in range(7):
            start = time.perf_counter()
            read_xyz(cloud)
            seconds.append(time.perf_counter() - start)
        # contract: <= 2 ms on the dev machine (0.3 ms contiguous, 1.4 ms padded measured); 5 ms here for
        # headroom on a loaded 2-core CI runner
        assert min(seconds) < 5e-3


@pytest.mark.ros
def test_make_cloud_round_trips_through_a_sensor_msgs_message():
    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import PointCloud2

    from vn_perception.pointcloud import make_cloud
    rng = np.random.default_rng(1)
    organized = rng.normal(size=(4, 6, 3)).astype(np.float32)
    organized[1, 2] = np.nan
    msg = make_cloud(organized, frame_id="depth_optical", stamp=12.25)
    assert isinstance(msg, PointCloud2)
    assert (msg.height, msg.width, msg.point_step, msg.row_step) == (4, 6, 12, 72)
    assert msg.header.frame_id == "depth_optical" and not msg.is_dense
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (12, 250_000_000)
    np.testing.assert_array_equal(read_xyz(msg), organized)

    unorganized = organized.reshape(-1, 3)[:5]
    msg = make_cloud(unorganized, stamp=Time(sec=3, nanosec=4))
    assert msg.height == 1 and msg.width == 5 and msg.header.stamp.sec == 3
    np.testing.assert_array_equal(read_xyz(msg), unorganized)
    assert make_cloud(np.zeros((0, 3))).width == 0
    with pytest.raises(ValueError, match="shape"):
        make_cloud(np.zeros((4, 2)))


@pytest.mark.ros
def test_to_msg_keeps_arbitrary_layouts():
    from vn_perception.pointcloud import to_msg
    rng = np.random.default_rng(2)
    columns = {n: rng.normal(size=(3, 5)) for n in "zyx"}                    # float64, reversed order
    packed = pack_cloud(columns, is_bigendian=True, point_step=30, row_padding=3)
    msg = to_msg(packed, stamp=None)
    assert msg.header.stamp.sec == 0 and msg.is_bigendian
    np.testing.assert_array_equal(read_xyz(msg), read_xyz(packed))
    np.testing.assert_array_equal(read_xyz(msg), reference_xyz(msg))

