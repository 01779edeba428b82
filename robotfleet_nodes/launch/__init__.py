"""The launch system: describe processes and nodes, load launch files, run them.

Modelled on ROS 2's ``launch``/``launch_ros`` with plain values instead of substitution
objects: strings may contain ``$(var NAME)`` and ``$(env NAME [default])``. A
:class:`LaunchDescription` (built in Python or loaded from a ``.py``/YAML file with
:func:`load_launch_file`) is run by :class:`LaunchService`. See ``robotfleet_nodes/launch/README.md``.
"""

from robotfleet_nodes.launch.actions import (
    ComposableNode,
    ComposableNodeContainer,
    ComposableNodeLoop,
    DeclareLaunchArgument,
    ExecuteProcess,
    ForEach,
    GroupAction,
    IncludeLaunchDescription,
    LogInfo,
    Node,
    OpaqueFunction,
    PushRosNamespace,
    RegisterEventHandler,
    SetEnvironmentVariable,
    SetLaunchConfiguration,
    Shutdown,
    TimerAction,
)
from robotfleet_nodes.launch.conditions import Condition, IfCondition, UnlessCondition
from robotfleet_nodes.launch.context import LaunchContext
from robotfleet_nodes.launch.entity import LaunchEntity
from robotfleet_nodes.launch.errors import LaunchError
from robotfleet_nodes.launch.event_handlers import (
    EventHandler,
    OnProcessExit,
    OnProcessIO,
    OnProcessStart,
    OnShutdown,
)
from robotfleet_nodes.launch.events import Event, ProcessExited, ProcessIO, ProcessStarted, ShutdownRequested
from robotfleet_nodes.launch.executables import resolve_executable
from robotfleet_nodes.launch.launch_description import LaunchDescription
from robotfleet_nodes.launch.launch_file import load_launch_file, load_python_launch_file
from robotfleet_nodes.launch.launch_service import LaunchService
from robotfleet_nodes.launch.printer import describe_launch
from robotfleet_nodes.launch.process_spec import ProcessSpec
from robotfleet_nodes.launch.yaml_loader import load_yaml_launch_file, parse_yaml_launch

__all__ = [
    "ComposableNode",
    "ComposableNodeContainer",
    "ComposableNodeLoop",
    "Condition",
    "DeclareLaunchArgument",
    "Event",
    "EventHandler",
    "ExecuteProcess",
    "ForEach",
    "GroupAction",
    "IfCondition",
    "IncludeLaunchDescription",
    "LaunchContext",
    "LaunchDescription",
    "LaunchEntity",
    "LaunchError",
    "LaunchService",
    "LogInfo",
    "Node",
    "OnProcessExit",
    "OnProcessIO",
    "OnProcessStart",
    "OnShutdown",
    "OpaqueFunction",
    "ProcessExited",
    "ProcessIO",
    "ProcessSpec",
    "ProcessStarted",
    "PushRosNamespace",
    "RegisterEventHandler",
    "SetEnvironmentVariable",
    "SetLaunchConfiguration",
    "Shutdown",
    "ShutdownRequested",
    "TimerAction",
    "UnlessCondition",
    "describe_launch",
    "load_launch_file",
    "load_python_launch_file",
    "load_yaml_launch_file",
    "parse_yaml_launch",
    "resolve_executable",
]
