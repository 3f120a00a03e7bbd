"""ros2_openpose: multi-person 2D pose estimation with Part Affinity Fields, for ROS 2.

The core (skeletons, models, decoding, estimator) imports no ROS; the node lives in ``ros2_openpose.ros``
and the messages generated from ``msg/`` in ``ros2_openpose.msg``.  Nothing heavy is imported here, so
``import ros2_openpose.msg`` stays cheap for message-only consumers.
"""
__version__ = "0.1.0"
