"""Launch pose_node (and optionally RViz) on a camera topic.

    ros2 launch ros2_openpose pose.launch.py image:=/camera/image_raw weights:=/path/body_pose_model.pth rviz:=true

``image`` remaps pose_node's ``image`` (and ``image/compressed`` to ``<image>/compressed`` for
``input_transport: compressed``).  ``weights`` overrides the params file's only when it is given.
``namespace`` moves every output topic, and RViz follows it.  Everything is resolved before any process
starts: ``rviz:=true`` where rviz2 is not installed stops the launch with that message and starts nothing.
"""
from ament_index_python.packages import PackageNotFoundError, get_package_prefix, get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from ros2_openpose.ros.rviz_config import write_namespaced

RVIZ_MISSING = ("rviz:=true but rviz2 is not installed (apt install ros-$ROS_DISTRO-rviz2, or "
                "ROS2_OPENPOSE_RVIZ=1 rosdep install ...): nothing was started")


def launch_setup(context, *args, **kwargs):
    # Checks first, then both nodes: an error here leaves no process behind.
    rviz = IfCondition(LaunchConfiguration("rviz")).evaluate(context)
    if rviz:
        try:
            get_package_prefix("rviz2")
        except PackageNotFoundError:
            raise RuntimeError(RVIZ_MISSING) from None
    # Resolved here because an empty `weights` argument must not wipe the params file's value.
    weights = LaunchConfiguration("weights").perform(context)
    namespace = LaunchConfiguration("namespace").perform(context)
    parameters = [LaunchConfiguration("params_file")] + ([{"weights": weights}] if weights else [])
    image = LaunchConfiguration("image")
    actions = [Node(
        package="ros2_openpose",
        executable="pose_node",
        name="pose_node",
        namespace=namespace,
        parameters=parameters,
        remappings=[("image", image), ("image/compressed", [image, "/compressed"])],
        output="screen",
    )]
    if rviz:
        # The node's full namespace: ours under any PushRosNamespace of a launch file that includes this one.
        pushed = context.launch_configurations.get("ros_namespace") or ""
        full = namespace if namespace.startswith("/") else f"{pushed}/{namespace}"
        config = write_namespaced(f"{get_package_share_directory('ros2_openpose')}/rviz/pose.rviz", full)
        actions.append(Node(package="rviz2", executable="rviz2", name="rviz2", arguments=["-d", str(config)]))
    return actions


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=PathJoinSubstitution(
                                  [FindPackageShare("ros2_openpose"), "params", "pose.yaml"]),
                              description="pose_node parameters"),
        DeclareLaunchArgument("image", default_value="/camera/image_raw", description="input image topic"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of pose_node's topics"),
        DeclareLaunchArgument("weights", default_value="",
                              description="weights file or shipped name ('default' = real people, "
                                          "'demo' = synthetic only); '' keeps params_file's"),
        DeclareLaunchArgument("rviz", default_value="false",
                              description="start RViz with rviz/pose.rviz (needs rviz2, see README)"),
        OpaqueFunction(function=launch_setup),
    ])
