"""The ROS 2 side: pose_node, the demo's video_publisher and pose_listener, and their helpers.

``params`` (every node parameter, declared once), ``message`` (people -> PersonArray / SkeletonInfo /
MarkerArray), ``image_io`` (Image / CompressedImage <-> numpy BGR) and ``pose_node``.  Nothing is
imported here, so ``import ros2_openpose.ros.image_io`` does not pull in torch.
"""
