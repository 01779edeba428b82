"""Included by main.launch.py: ROS 2's minimal publisher, remapped to ``topic``."""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node

from launch import LaunchDescription


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument("programs"),
            DeclareLaunchArgument("topic", default_value="topic"),
            Node(
                executable=PathJoinSubstitution([LaunchConfiguration("programs"), "minimal_publisher.py"]),
                name="talker",
                remappings=[("topic", LaunchConfiguration("topic"))],
            ),
        ]
    )
