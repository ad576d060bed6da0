"""The launch file, the parameter file and the parameter table agree with each other and with setup.py.

`launch` / `launch_ros` are not installable from PyPI, so the launch file is checked statically (ast): its
executable is a console script of setup.py, its config is installed by setup.py, every parameter it sets is
declared by the node, every LaunchConfiguration it reads is a declared launch argument. ROS-free.
"""
import ast
import dataclasses
import glob
import os

import pytest
import yaml

from ros_harness import ROOT
from vn_perception.perception.segmentation import SegmentationConfig
from vn_perception.ros.params import (PARAMETERS, SEGMENTATION_PREFIX, parameter_names, settings_from,
                                      shipped_segmentation)

LAUNCH_FILE = ROOT / "launch" / "vn_perception.launch.py"
CONFIG_FILE = ROOT / "config" / "vn_perception.yaml"
#: parameters every rclpy node declares by itself
BUILTIN_PARAMETERS = {"use_sim_time"}


def _calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]


def _keyword(call, name):
    return next(k.value for k in call.keywords if k.arg == name)


def _setup_keywords():
    """setup()'s keyword expressions of setup.py, evaluated where they are plain data (cwd = the repo)."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    package = next(ast.literal_eval(n.value) for n in tree.body
                   if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "PACKAGE")
    call = _calls(tree, "setup")[0]
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        names = {"PACKAGE": package, "glob": glob.glob}
        return {k.arg: eval(compile(ast.Expression(k.value), "setup.py", "eval"), names)
                for k in call.keywords if k.arg in ("entry_points", "data_files")}
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def launch_node():
    tree = ast.parse(LAUNCH_FILE.read_text())
    nodes = _calls(tree, "Node")
    assert len(nodes) == 1, "the launch file starts one node"
    return tree, nodes[0]


def test_launch_runs_a_console_script_of_setup_py(launch_node):
    _, node = launch_node
    scripts = {entry.split("=")[0].strip() for entry in _setup_keywords()["entry_points"]["console_scripts"]}
    assert ast.literal_eval(_keyword(node, "package")) == "vn_perception"
    assert ast.literal_eval(_keyword(node, "executable")) in scripts
    node_module = ast.parse((ROOT / "vn_perception" / "ros" / "node.py").read_text())
    node_name = next(ast.literal_eval(n.value) for n in node_module.body
                     if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "NODE_NAME")
    assert ast.literal_eval(_keyword(node, "name")) == node_name, "the YAML's node key must match the node name"


def test_setup_py_installs_the_launch_file_and_the_config():
    installed = {destination: files for destination, files in _setup_keywords()["data_files"]}
    assert "launch/vn_perception.launch.py" in installed["share/vn_perception/launch"]
    assert "config/vn_perception.yaml" in installed["share/vn_perception/config"]
    assert "config/fastdds_large_messages.xml" in installed["share/vn_perception/config"]


def test_launch_default_config_is_the_installed_parameter_file(launch_node):
    tree, _ = launch_node
    config_argument = next(c for c in _calls(tree, "DeclareLaunchArgument")
                           if ast.literal_eval(c.args[0]) == "config")
    path_join = _keyword(config_argument, "default_value")
    share, *parts = path_join.args[0].elts
    assert ast.unparse(share) == "FindPackageShare('vn_perception')"
    assert [ast.literal_eval(p) for p in parts] == ["config", CONFIG_FILE.name] and CONFIG_FILE.exists()


def test_every_parameter_the_launch_sets_is_declared_by_the_node(launch_node):
    _, node = launch_node
    dictionaries = [e for e in _keyword(node, "parameters").elts if isinstance(e, ast.Dict)]
    set_names = {ast.literal_eval(key) for d in dictionaries for key in d.keys}
    assert set_names, "the launch file sets parameters from its arguments"
    assert set_names <= set(parameter_names()) | BUILTIN_PARAMETERS


def test_every_launch_configuration_is_a_declared_argument(launch_node):
    tree, node = launch_node
    declared = {ast.literal_eval(c.args[0]) for c in _calls(tree, "DeclareLaunchArgument")}
    used = {ast.literal_eval(c.args[0]) for c in _calls(tree, "LaunchConfiguration")}
    assert used <= declared
    remapped = [ast.literal_eval(pair.elts[0]) for pair in _keyword(node, "remappings").elts]
    assert remapped == ["points"]
    assert dict((s.name, s.default) for s in PARAMETERS)["input_topics"] == ["points"]


def _flatten(mapping, prefix=""):
    for key, value in mapping.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_parameter_file_lists_the_node_parameters_with_their_defaults():
    document = yaml.safe_load(CONFIG_FILE.read_text())
    values = dict(_flatten(document["vn_perception"]["ros__parameters"]))
    defaults = {spec.name: spec.default for spec in PARAMETERS}
    assert set(values) <= set(defaults)
    node_parameters = {name for name in defaults if not name.startswith(SEGMENTATION_PREFIX)}
    assert node_parameters <= set(values)
    assert values == {name: defaults[name] for name in values}, "config/vn_perception.yaml lists the defaults"
    settings_from(values)


def test_segmentation_parameters_mirror_segmentation_config():
    mirrored = {name[len(SEGMENTATION_PREFIX):] for name in parameter_names() if name.startswith(SEGMENTATION_PREFIX)}
    assert mirrored == {f.name for f in dataclasses.fields(SegmentationConfig)}
    assert settings_from({}).segmentation == shipped_segmentation()
    for spec in PARAMETERS:                   # the node's defaults are the shipped pipeline's settings
        if spec.name.startswith(SEGMENTATION_PREFIX):
            shipped = getattr(shipped_segmentation(), spec.name[len(SEGMENTATION_PREFIX):])
            assert spec.default == ([] if shipped is None else shipped)


@pytest.mark.parametrize("values, complaint", [
    ({"top_k": 0}, "top_k"),
    ({"min_score": 1.5}, "min_score"),
    ({"min_score": float("nan")}, "min_score"),
    ({"device": "tpu"}, "device"),
    ({"qos_reliability": "sometimes"}, "qos_reliability"),
    ({"input_topics": []}, "input_topics"),
    ({"input_topics": ["a", "a"]}, "input_topics"),
    ({"tf_timeout_s": -1.0}, "tf_timeout_s"),
    ({"publish_markers": 1}, "publish_markers"),
    ({"segmentation.min_depth_m": 3.0}, "min_depth_m"),
    ({"segmentation.voxel_size_m": 0.0}, "voxel_size_m"),
    ({"segmentation.crop_box_min_m": [0.0, 0.0, 0.0]}, "crop_box"),
    ({"segmentation.crop_box_min_m": [0.0], "segmentation.crop_box_max_m": [1.0]}, "crop_box"),
    ({"no_such_parameter": 1}, "no_such_parameter"),
])
def test_invalid_values_are_rejected_with_the_parameter_named(values, complaint):
    with pytest.raises(ValueError, match=complaint):
        settings_from(values)


def test_valid_values_become_settings():
    settings = settings_from({"input_topics": ["cam0/points", "cam1/points"], "device": "CUDA:1", "top_k": 3,
                              "segmentation.crop_box_min_m": [-1, -1, 0], "segmentation.crop_box_max_m": [1, 1, 2]})
    assert settings.input_topics == ("cam0/points", "cam1/points")
    assert settings.device == "cuda:1" and settings.top_k == 3
    assert settings.segmentation.crop_box_min_m == (-1.0, -1.0, 0.0)
    assert settings.segmentation.crop_box_max_m == (1.0, 1.0, 2.0)
