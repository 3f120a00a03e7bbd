"""launch/pose.launch.py, params/pose.yaml and rviz/pose.rviz, checked without the launch package.

The ROS 2 wheels here have no ``launch``/``launch_ros``, so the launch file is read with ``ast``:
it must start the package's ``pose_node`` with the shipped params file and remap ``image``.  The
params file must hold exactly the parameters ``ros2_openpose.ros.params`` declares, with defaults
of the same type.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
LAUNCH = REPO / "launch" / "pose.launch.py"


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and
            getattr(n.func, "id", getattr(n.func, "attr", None)) == name]


def _kw(call: ast.Call, key: str):
    return next((k.value for k in call.keywords if k.arg == key), None)


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_launch_file_starts_pose_node():
    tree = ast.parse(LAUNCH.read_text(), str(LAUNCH))
    nodes = [c for c in _calls(tree, "Node")
             if isinstance(_kw(c, "executable"), ast.Constant) and _kw(c, "executable").value == "pose_node"]
    assert len(nodes) == 1
    node = nodes[0]
    assert _kw(node, "package").value == "ros2_openpose" and _kw(node, "name").value == "pose_node"
    remaps = _kw(node, "remappings")
    assert isinstance(remaps, ast.List)
    sources = [t.elts[0].value for t in remaps.elts if isinstance(t, ast.Tuple)]
    assert "image" in sources
    assert _kw(node, "parameters") is not None and _kw(node, "namespace") is not None

    args = {c.args[0].value: c for c in _calls(tree, "DeclareLaunchArgument")}
    assert {"params_file", "image", "namespace", "weights", "rviz"} <= set(args)
    default = _kw(args["params_file"], "default_value")
    assert _calls(default, "PathJoinSubstitution") and _calls(default, "FindPackageShare")
    assert sorted(_strings(default)) == ["params", "pose.yaml", "ros2_openpose"]
    assert _kw(args["image"], "default_value").value == "/camera/image_raw"

    rviz = [c for c in _calls(tree, "Node") if _kw(c, "package") is not None and _kw(c, "package").value == "rviz2"]
    assert len(rviz) == 1 and _calls(_kw(rviz[0], "condition"), "IfCondition")
    assert {"rviz", "pose.rviz"} <= set(_strings(_kw(rviz[0], "arguments")))


def test_params_yaml_mirrors_the_declarations():
    params = pytest.importorskip("ros2_openpose.ros.params")
    data = yaml.safe_load((REPO / "params" / "pose.yaml").read_text())
    assert list(data) in (["/**"], ["pose_node"])
    values = next(iter(data.values()))["ros__parameters"]
    declared = {p.name: p for p in params.PARAMS}
    assert set(values) == set(declared)
    for name, value in values.items():
        default = declared[name].default
        # ROS parameters are typed: the yaml must give the declared type (an int for a double fails).
        assert type(value) is type(default), f"{name}: yaml {value!r} vs declared {default!r}"
        if name != "weights":
            assert value == default, f"{name}: yaml {value!r} differs from the declared default {default!r}"


def test_rviz_config():
    config = yaml.safe_load((REPO / "rviz" / "pose.rviz").read_text())
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "camera"
    displays = {d["Class"]: d for d in manager["Displays"]}
    assert displays["rviz_default_plugins/Image"]["Topic"]["Value"] == "/poses/annotated"
    assert displays["rviz_default_plugins/MarkerArray"]["Topic"]["Value"] == "/poses/markers"


def test_installed_share_files():
    """CMakeLists installs launch/ params/ rviz/ to share: the files must be in those folders."""
    for rel in ("launch/pose.launch.py", "params/pose.yaml", "rviz/pose.rviz"):
        assert (REPO / rel).is_file(), rel
