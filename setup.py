"""``pip install .`` of the core and the training module, for use without ROS.

On a ROS 2 system the package is built with colcon instead (CMakeLists.txt: ament_cmake, because it
generates messages); colcon reads package.xml and ignores this file.  Both installs can coexist:
``ros2_openpose/__init__.py`` extends its ``__path__`` so ``ros2_openpose.msg`` from the colcon install
stays importable when this copy comes first on ``sys.path``.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

# The version's one home is ros2_openpose/__init__.py (package.xml repeats it for colcon and rosdep, which
# need a literal; test_packaging.py keeps the two equal).  Read, not imported: setup needs no torch.
INIT = Path(__file__).resolve().parent / "ros2_openpose" / "__init__.py"
VERSION = re.search(r'^__version__ = "([^"]+)"', INIT.read_text(encoding="utf-8"), re.MULTILINE).group(1)

setup(
    name="ros2_openpose",
    version=VERSION,
    description="Multi-person 2D pose estimation with OpenPose Part Affinity Fields (core, CLI, training)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["ros2_openpose", "ros2_openpose.*", "training", "training.*"]),
    package_data={"ros2_openpose": ["data/*.pt", "data/*.onnx", "data/*.mp4"], "training": ["configs/*.yaml"]},
    # Core, CLI and training. CPU-only machines: install torch from PyTorch's CPU index first (README).
    install_requires=["torch", "numpy", "opencv-python-headless", "scipy", "tqdm", "pycocotools", "pyyaml"],
    extras_require={
        "onnx": ["onnx", "onnxscript", "onnxruntime"],  # export (onnx + onnxscript) and inference (onnxruntime)
        "fast": ["numba"],                               # the decode's compiled limb scoring (limbs_kernel.py)
        "train": ["tensorboard"],                        # optional training curves
        "test": ["pytest", "munkres", "numba"],          # munkres: the reference matcher the tests compare with;
                                                         # numba: so the compiled kernel's equality tests run
        "teacher": ["tensorflow-cpu"],                   # training.teacher only (offline data preparation)
    },
    entry_points={"console_scripts": [
        "ros2-openpose = ros2_openpose.cli:main",
        "ros2-openpose-onnx = ros2_openpose.onnx_export:main",
    ]},
)
