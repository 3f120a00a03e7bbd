"""What the package declares it needs matches what it imports; the CPU-only PyTorch switch of the set-up.

package.xml (rosdep) and setup.py (pip) are compared with the imports the code really makes (read with
``ast``: declarations have no other ground truth); tools/torch_index.py runs against an unreachable
index, a local one standing in for PyTorch's (no internet here), and through tools/setup.sh.
"""
from __future__ import annotations

import ast
import functools
import http.server
import os
import re
import socket
import subprocess
import sys
import sysconfig
import threading
import warnings
from pathlib import Path
from xml.etree import ElementTree

import pytest

REPO = Path(__file__).resolve().parents[1]
TORCH_INDEX = REPO / "tools" / "torch_index.py"
STDLIB = set(sys.stdlib_module_names)
#: Import name -> the pip distribution that provides it, where the two differ.
DISTRIBUTIONS = {"cv2": "opencv-python-headless", "yaml": "pyyaml",
                 # google.protobuf comes with tensorflow-cpu (the [teacher] extra)
                 "tensorflow": "tensorflow-cpu", "google": "tensorflow-cpu"}
#: Import name -> rosdep key, for the non-ROS Python modules the node imports.
ROSDEP_KEYS = {"numpy": "python3-numpy", "cv2": "python3-opencv", "scipy": "python3-scipy"}
#: Imported by run-time code only inside a function, as an optional alternative that says so when missing:
#: munkres (the reference matcher the tests compare with), rosbags (image conversion where cv_bridge is not
#: installed: the PyPI wheels), onnxruntime (the [onnx] extra), numba (the [fast] extra: limbs.KERNEL says
#: which limb scoring runs; without numba the numpy passes give the same scores).
OPTIONAL = {"munkres", "rosbags", "onnxruntime", "numba"}
#: Imported only by training/teacher.py, an optional data-preparation tool whose docstring says to
#: ``pip install tensorflow-cpu`` (tensorflow brings google.protobuf): never a dependency of the package.
TEACHER_ONLY = {"tensorflow", "google"}
#: The node's run time: the core it calls and ros/ (the CLI, ONNX export and training are other entry points).
NOT_NODE = {"cli.py", "console.py", "sources.py", "onnx_export.py", "__main__.py"}


def imports(files) -> dict[str, set[str]]:
    """Top-level third-party module name -> the files importing it (relative imports and stdlib left out)."""
    found: dict[str, set[str]] = {}
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                top = name.split(".")[0]
                if top not in STDLIB and top != "ros2_openpose":
                    found.setdefault(top, set()).add(str(file.relative_to(REPO)))
    return found


@functools.lru_cache
def package_xml(**env: str):
    parse = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg (colcon's, rosdep's) reads package.xml")
    with warnings.catch_warnings():  # catkin_pkg calls pyparsing's deprecated camelCase names
        warnings.simplefilter("ignore", DeprecationWarning)
        package = parse.parse_package(str(REPO / "package.xml"))
        package.evaluate_conditions(env)
    return package


def exec_depends(**env: str) -> set[str]:
    package = package_xml(**env)
    return {d.name for d in package.exec_depends + package.build_export_depends if d.evaluated_condition}


def setup_kwargs() -> dict:
    call = next(n for n in ast.walk(ast.parse((REPO / "setup.py").read_text()))
                if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    return {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg in ("install_requires", "extras_require")}


# ----------------------------------------------------------------------------------- package.xml

def test_rviz_is_pulled_in_only_on_request():
    assert "rviz2" not in exec_depends()  # a headless robot's `rosdep install`
    assert "rviz2" in exec_depends(ROS2_OPENPOSE_RVIZ="1")


def test_package_xml_lists_what_the_node_imports_and_nothing_it_does_not():
    node_files = [f for f in (REPO / "ros2_openpose").rglob("*.py") if f.name not in NOT_NODE]
    node_files += [REPO / "launch" / "pose.launch.py"]
    used = imports(node_files)
    declared = exec_depends()
    python = {"torch"} | OPTIONAL  # from pip: torch (README), the optional ones say so when missing
    missing = {m: sorted(files) for m, files in used.items()
               if m not in python and ROSDEP_KEYS.get(m, m) not in declared}
    assert not missing, f"imported at run time but not in package.xml: {missing}"
    assert not {"torchvision", "pycocotools", "python3-yaml"} & (set(used) | declared)
    # Every ROS package declared is imported by something (the messages' runtime aside).
    ros = {d for d in declared if not d.startswith("python3-")} - {"rosidl_default_runtime", "rviz2"}
    assert ros <= set(used) | {"std_msgs"}, ros - set(used)


# ----------------------------------------------------------------------------------- setup.py

def test_setup_py_covers_every_import_and_the_onnx_extra():
    kwargs = setup_kwargs()
    base = set(kwargs["install_requires"])
    extras = kwargs["extras_require"]
    assert set(extras["onnx"]) == {"onnx", "onnxscript", "onnxruntime"}
    assert "torchvision" not in base and "munkres" not in base  # nothing the package runs imports them
    code = list((REPO / "ros2_openpose").glob("*.py")) + list((REPO / "ros2_openpose" / "models").glob("*.py"))
    code += list((REPO / "training").glob("*.py"))
    available = base | {d for names in extras.values() for d in names}
    used = imports(code)
    missing = {m: sorted(f) for m, f in used.items() if DISTRIBUTIONS.get(m, m) not in available
               and not (m in TEACHER_ONLY and f == {"training/teacher.py"})}
    assert not missing, f"imported but not installed by `pip install .[...]`: {missing}"


# ----------------------------------------------------------------------------------- version

def test_one_version():
    """ros2_openpose/__init__.py holds the version; setup.py reads it, package.xml repeats it (colcon and
    rosdep need a literal) and the changelog's newest release names it."""
    import ros2_openpose

    xml = ElementTree.parse(REPO / "package.xml").getroot().findtext("version")
    setup = subprocess.run([sys.executable, "setup.py", "--version"], cwd=REPO, capture_output=True, text=True,
                           timeout=120, check=True).stdout.split()[-1]
    release = re.search(r"^## \[(\d[^\]]*)\]", (REPO / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert release, "CHANGELOG.md names no release"
    assert (xml, setup, release.group(1)) == (ros2_openpose.__version__,) * 3


# ----------------------------------------------------------------------------------- TORCH_CPU

def torch_index(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TORCH_CPU")}
    return subprocess.run([sys.executable, str(TORCH_INDEX)], env={**clean, **env}, capture_output=True,
                          text=True, timeout=60, check=True)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: nothing listens there


def test_without_torch_cpu_nothing_is_probed():
    result = torch_index()
    assert result.stdout == "" and result.stderr == ""


def test_an_unreachable_cpu_index_falls_back_to_the_default_wheels():
    result = torch_index(TORCH_CPU="1", TORCH_CPU_INDEX=f"http://127.0.0.1:{closed_port()}/whl/cpu")
    assert result.stdout == ""
    assert "cannot be reached" in result.stderr and "default wheels" in result.stderr


@pytest.fixture()
def local_index(tmp_path):
    """A PEP 503 page for torch served on 127.0.0.1: stands in for download.pytorch.org (no internet here)."""
    sys.path.insert(0, str(TORCH_INDEX.parent))
    try:
        from torch_index import pinned
    finally:
        sys.path.pop(0)
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    wheel = f"torch-{pinned('torch')}%2Bcpu-{tag}-{tag}-{sysconfig.get_platform().replace('-', '_')}.whl"
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "index.html").write_text(f'<html><body><a href="{wheel}">{wheel}</a></body></html>')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path / "torch" / "index.html"
    server.shutdown()
    server.server_close()


def test_a_reachable_cpu_index_with_the_pinned_torch_is_used(local_index):
    url, page = local_index
    result = torch_index(TORCH_CPU="1", TORCH_CPU_INDEX=url)
    assert result.stdout.strip() == url and "CPU-only wheels" in result.stderr
    page.write_text("<html><body><a href='torch-1.0.0%2Bcpu-cp311-cp311-linux_x86_64.whl'>old</a></body></html>")
    assert torch_index(TORCH_CPU="1", TORCH_CPU_INDEX=url).stdout == ""  # lacks the pinned version


@pytest.mark.slow
def test_setup_sh_with_torch_cpu_where_the_index_is_unreachable_keeps_the_default_path():
    # Here the CPU index cannot be reached: the set-up must go on exactly as without TORCH_CPU.
    env = {**os.environ, "TORCH_CPU": "1", "TORCH_CPU_INDEX": f"http://127.0.0.1:{closed_port()}/whl/cpu"}
    env.pop("ROS_DISTRO", None)
    result = subprocess.run(["bash", str(REPO / "tools" / "setup.sh")], env=env, capture_output=True, text=True,
                            timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "installing the default wheels" in result.stderr and "ready in" in result.stdout
