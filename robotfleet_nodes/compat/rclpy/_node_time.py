"""The time part of ``rclpy.node.Node``: its clock, timers, rates and guard conditions."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from robotfleet_nodes.qos import QoSProfile, Reliability

from . import _core
from ._entity import Entity
from .callback_groups import CallbackGroup, MutuallyExclusiveCallbackGroup
from .clock import Clock, ROSClock
from .constants import S_TO_NS
from .guard_condition import GuardCondition
from .time import Time
from .timer import Rate, Timer

#: The parameter that switches a node's ROS clock to ``/clock`` (declared by every node).
USE_SIM_TIME = "use_sim_time"
CLOCK_TOPIC = "/clock"

__all__: list[str] = []


class _TimeMixin:
    """Clock, timers, rates and guard conditions for :class:`rclpy.node.Node`.

    The node's clock is ROS time: system time, or with the parameter ``use_sim_time`` true
    when the node is created (``--ros-args -p use_sim_time:=true``, ``parameter_overrides``)
    the time of the last ``rosgraph_msgs/Clock`` on ``/clock`` (0 before the first), taken
    by an executor spinning the node, as rclpy's ``TimeSource`` does.
    """

    default_callback_group: CallbackGroup
    _clock: ROSClock
    _rate_group: CallbackGroup

    def _add(self, entity: Entity) -> None:
        raise NotImplementedError  # node.py's Node provides it

    def _snapshot_remove(self, entity: Entity) -> bool:
        raise NotImplementedError  # node.py's Node provides it

    def _init_time(self) -> None:
        self._clock = ROSClock()
        self._rate_group = MutuallyExclusiveCallbackGroup()  # rates never wait for other callbacks
        node: Any = self  # an rclpy.node.Node: its core node and create_subscription
        core = node._core

        async def declare() -> Any:  # on the asyncio thread: parameters may announce events
            if core.has_parameter(USE_SIM_TIME):
                return core.get_parameter(USE_SIM_TIME).value
            return core.declare_parameter(USE_SIM_TIME, False).value

        if _core.run(declare()) is True:
            self._clock._set_ros_time_is_active(True)
            clock_msg = importlib.import_module("rosgraph_msgs.msg").Clock
            node.create_subscription(
                clock_msg,
                CLOCK_TOPIC,
                self._on_clock,
                QoSProfile(depth=1, reliability=Reliability.BEST_EFFORT),
            )

    def _on_clock(self, msg: Any) -> None:
        self._clock.set_ros_time_override(Time.from_msg(msg.clock))

    def get_clock(self) -> Clock:
        """The node's ROS clock (system time, or ``/clock`` with ``use_sim_time``)."""
        return self._clock

    def create_timer(
        self,
        timer_period_sec: float,
        callback: Callable[..., Any] | None,
        callback_group: CallbackGroup | None = None,
        clock: Clock | None = None,
        autostart: bool = True,
    ) -> Timer:
        """Call ``callback()`` (or ``callback(info: TimerInfo)``) on an executor every
        ``timer_period_sec`` seconds; ``autostart=False``: only after ``reset()``."""
        timer = Timer(
            callback,
            callback_group or self.default_callback_group,
            int(float(timer_period_sec) * S_TO_NS),
            clock or self._clock,
            autostart=autostart,
        )
        self._add(timer)
        return timer

    def destroy_timer(self, timer: Timer) -> bool:
        """Stop ``timer`` for good; False if it was not this node's."""
        timer.destroy()
        return self._snapshot_remove(timer)

    def create_rate(self, frequency: float, clock: Clock | None = None) -> Rate:
        """A :class:`Rate` of ``frequency`` Hz; its ``sleep()`` needs another thread spinning the node."""
        if frequency <= 0:
            raise ValueError("frequency must be > 0")
        return Rate(self.create_timer(1.0 / frequency, None, self._rate_group, clock))

    def destroy_rate(self, rate: Rate) -> bool:
        """Wake the rate's sleepers and remove its timer."""
        rate.destroy()
        return self.destroy_timer(rate._timer)

    def create_guard_condition(
        self, callback: Callable[[], Any], callback_group: CallbackGroup | None = None
    ) -> GuardCondition:
        """A guard condition: ``trigger()`` from any thread runs ``callback()`` on an executor."""
        guard = GuardCondition(callback, callback_group or self.default_callback_group)
        self._add(guard)
        return guard

    def destroy_guard_condition(self, guard: GuardCondition) -> bool:
        """Remove ``guard``; False if it was not this node's."""
        guard.destroy()
        return self._snapshot_remove(guard)
