"""A launch file in the ros2/launch_ros style: it imports only ``launch`` and ``launch_ros``.

A parameter server (arguments become its parameters) starts first; once it prints
``ready``, an included launch file starts a talker and this file a listener (both under the
pushed namespace, remapped to ``chatter``). The listener exits after 5 messages, and its
``OnProcessExit`` shuts the launch down.
"""

from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    IncludeLaunchDescription,
    LogInfo,
    RegisterEventHandler,
)
from launch.event_handlers import OnProcessExit, OnProcessIO
from launch.events import Shutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, ThisLaunchFileDir
from launch_ros.actions import Node, PushRosNamespace, SetParameter

from launch import LaunchDescription


def generate_launch_description():
    programs = LaunchConfiguration("programs")
    param_server = Node(
        executable=PathJoinSubstitution([programs, "parameter_server.py"]),
        name="param_server",
        parameters=[{"name": LaunchConfiguration("robot_name"), "speed": LaunchConfiguration("speed")}],
        output="screen",
    )
    talker = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution([ThisLaunchFileDir(), "talker.launch.py"])),
        launch_arguments={"programs": programs, "topic": "chatter"}.items(),
    )
    listener = Node(
        executable=PathJoinSubstitution([programs, "minimal_subscriber.py"]),
        name="listener",
        remappings=[("topic", "chatter")],
        output="screen",
    )

    def when_ready(event):
        if event.text.strip() == b"ready":
            return [LogInfo(msg="parameter server ready"), talker, listener]
        return None

    return LaunchDescription(
        [
            DeclareLaunchArgument("programs", description="folder of the rclpy test programs"),
            DeclareLaunchArgument("robot_name", default_value="robot"),
            DeclareLaunchArgument("speed", default_value="1.5"),
            DeclareLaunchArgument("ns", default_value="demo"),
            PushRosNamespace(LaunchConfiguration("ns")),
            SetParameter(name="enabled", value=False),
            param_server,
            RegisterEventHandler(OnProcessIO(target_action=param_server, on_stdout=when_ready)),
            RegisterEventHandler(
                OnProcessExit(
                    target_action=listener,
                    on_exit=[
                        LogInfo(msg="listener done"),
                        EmitEvent(event=Shutdown(reason="listener exited")),
                    ],
                )
            ),
        ]
    )
