"""Launch actions, one per module."""

from robotfleet_nodes.launch.actions.composable_node import ComposableNode
from robotfleet_nodes.launch.actions.composable_node_container import ComposableNodeContainer
from robotfleet_nodes.launch.actions.composable_node_loop import ComposableNodeLoop
from robotfleet_nodes.launch.actions.declare_launch_argument import DeclareLaunchArgument
from robotfleet_nodes.launch.actions.execute_process import ExecuteProcess
from robotfleet_nodes.launch.actions.for_each import ForEach
from robotfleet_nodes.launch.actions.group_action import GroupAction
from robotfleet_nodes.launch.actions.include_launch_description import IncludeLaunchDescription
from robotfleet_nodes.launch.actions.log_info import LogInfo
from robotfleet_nodes.launch.actions.node import Node
from robotfleet_nodes.launch.actions.opaque_function import OpaqueFunction
from robotfleet_nodes.launch.actions.push_ros_namespace import PushRosNamespace
from robotfleet_nodes.launch.actions.register_event_handler import RegisterEventHandler
from robotfleet_nodes.launch.actions.set_environment_variable import SetEnvironmentVariable
from robotfleet_nodes.launch.actions.set_launch_configuration import SetLaunchConfiguration
from robotfleet_nodes.launch.actions.shutdown import Shutdown
from robotfleet_nodes.launch.actions.timer_action import TimerAction

__all__ = [
    "ComposableNode",
    "ComposableNodeContainer",
    "ComposableNodeLoop",
    "DeclareLaunchArgument",
    "ExecuteProcess",
    "ForEach",
    "GroupAction",
    "IncludeLaunchDescription",
    "LogInfo",
    "Node",
    "OpaqueFunction",
    "PushRosNamespace",
    "RegisterEventHandler",
    "SetEnvironmentVariable",
    "SetLaunchConfiguration",
    "Shutdown",
    "TimerAction",
]
