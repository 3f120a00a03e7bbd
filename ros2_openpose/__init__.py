"""ros2_openpose: multi-person 2D pose estimation with Part Affinity Fields, for ROS 2.

The core (skeletons, models, decoding, estimator) imports no ROS; the node lives in ``ros2_openpose.ros``
and the messages generated from ``msg/`` in ``ros2_openpose.msg``.  Nothing heavy is imported here, so
``import ros2_openpose.msg`` stays cheap for message-only consumers.
"""
#: The version, here only: setup.py reads it, package.xml repeats it (checked by test/test_packaging.py).
__version__ = "0.1.0"

# Two copies of this package can be importable: the source tree (``python -m`` from the repo root,
# pytest) and the colcon install, which alone holds the generated ``ros2_openpose.msg``.  Extending
# ``__path__`` lets submodules resolve across both, so the source tree never hides the messages.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
