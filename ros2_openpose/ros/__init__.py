"""The ROS 2 side: pose_node, the demo's video_publisher and pose_listener, and their helpers.

pose_node: ``pose_node`` (the executable: --help, start-up errors, signals), ``node`` (PoseNode, a
lifecycle node: configure/activate/serve), ``subscription`` (an input topic and its QoS),
``frames`` (the newest frame per camera, handed to the worker), ``accounting`` (where every frame
went), ``diagnostics`` (/diagnostics), ``startup`` (checks before serving), ``params`` (every
parameter, declared once, on ``param_table``).  Shared: ``image_io`` (Image / CompressedImage <->
numpy BGR, on ``encoded`` for JPEG/PNG), ``message`` (people -> PersonArray / SkeletonInfo /
MarkerArray), ``spin`` (executor that outlives a failing callback), ``exits`` (signals and --help).
Nothing is imported here, so ``import ros2_openpose.ros.image_io`` does not pull in torch.
"""
