"""Launch pose_node (and optionally RViz) on a camera topic.

    ros2 launch ros2_openpose pose.launch.py image:=/camera/image_raw weights:=/path/body_pose_model.pth rviz:=true

``image`` remaps pose_node's ``image`` (and ``image/compressed`` to ``<image>/compressed`` for
``input_transport: compressed``).  ``weights`` overrides the params file's only when it is given.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def pose_node(context, *args, **kwargs):
    # Resolved here because an empty `weights` argument must not wipe the params file's value.
    weights = LaunchConfiguration("weights").perform(context)
    parameters = [LaunchConfiguration("params_file")] + ([{"weights": weights}] if weights else [])
    image = LaunchConfiguration("image")
    return [Node(
        package="ros2_openpose",
        executable="pose_node",
        name="pose_node",
        namespace=LaunchConfiguration("namespace"),
        parameters=parameters,
        remappings=[("image", image), ("image/compressed", [image, "/compressed"])],
        output="screen",
    )]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=PathJoinSubstitution(
                                  [FindPackageShare("ros2_openpose"), "params", "pose.yaml"]),
                              description="pose_node parameters"),
        DeclareLaunchArgument("image", default_value="/camera/image_raw", description="input image topic"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of pose_node's topics"),
        DeclareLaunchArgument("weights", default_value="",
                              description="weights file ('demo' = shipped synthetic-only model); "
                                          "'' keeps params_file's"),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz with rviz/pose.rviz"),
        OpaqueFunction(function=pose_node),
        Node(
            package="rviz2",
            executable="rviz2",
            name="rviz2",
            arguments=["-d", PathJoinSubstitution([FindPackageShare("ros2_openpose"), "rviz", "pose.rviz"])],
            condition=IfCondition(LaunchConfiguration("rviz")),
        ),
    ])
