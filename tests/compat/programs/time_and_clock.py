"""Prints rclpy's time arithmetic, clocks and timer state; the output must equal real rclpy's."""

import rclpy
from builtin_interfaces.msg import Duration as DurationMsg
from builtin_interfaces.msg import Time as TimeMsg
from rclpy.clock import Clock, ClockChange, JumpThreshold, ROSClock
from rclpy.clock_type import ClockType
from rclpy.constants import S_TO_NS
from rclpy.duration import Duration, Infinite
from rclpy.time import Time
from rclpy.utilities import remove_ros_args


def show(label, thunk):
    try:
        value = thunk()
    except Exception as exc:  # the exception type and message are part of the contract
        value = f"{type(exc).__name__}: {exc}"
    print(f"{label}: {value!r}" if not isinstance(value, str) else f"{label}: {value}")


def durations():
    show("S_TO_NS", lambda: S_TO_NS)
    show("Duration(seconds=1.5)", lambda: Duration(seconds=1.5))
    show(
        "Duration(seconds=1, nanoseconds=5).nanoseconds",
        lambda: Duration(seconds=1, nanoseconds=5).nanoseconds,
    )
    show("str(Duration(seconds=2))", lambda: str(Duration(seconds=2)))
    show("str(Infinite)", lambda: str(Infinite))
    show("Duration(seconds=-0.25)", lambda: Duration(seconds=-0.25))
    show("Duration(nanoseconds=2.9)", lambda: Duration(nanoseconds=2.9))
    show("sum", lambda: Duration(seconds=1) + Duration(nanoseconds=500))
    show("difference", lambda: Duration(seconds=1) - Duration(seconds=3))
    show("times int", lambda: Duration(seconds=1) * 3)
    show("times float", lambda: Duration(seconds=1) * 0.5)
    show("times inf", lambda: Duration(seconds=1) * float("inf") == Infinite)
    show("times nan", lambda: Duration(seconds=1) * float("nan"))
    show("times str", lambda: Duration(seconds=1) * "x")
    show("int times", lambda: 3 * Duration(seconds=1))
    show(
        "compare",
        lambda: (
            Duration(seconds=1) < Duration(seconds=2),
            Duration(seconds=1) == Duration(nanoseconds=S_TO_NS),
        ),
    )
    show("equal other", lambda: Duration(seconds=1) == 1)
    show("hash", lambda: hash(Duration(seconds=1)))
    show("overflow", lambda: Duration(seconds=10**10))
    msg = Duration(seconds=-1.5).to_msg()
    show("to_msg", lambda: (msg.sec, msg.nanosec))
    show("from_msg", lambda: Duration.from_msg(DurationMsg(sec=3, nanosec=7)))
    show("from_msg wrong", lambda: Duration.from_msg(TimeMsg(sec=3)))


def times():
    t = Time(seconds=10, nanoseconds=5)
    show("Time", lambda: t)
    show("clock_type", lambda: t.clock_type)
    show("seconds_nanoseconds", t.seconds_nanoseconds)
    show("plus", lambda: t + Duration(seconds=1))
    show("radd", lambda: Duration(seconds=1) + t)
    show("minus duration", lambda: t - Duration(seconds=1))
    show("minus time", lambda: t - Time(seconds=11))
    show("negative", lambda: t - Duration(seconds=11))
    show("negative seconds", lambda: Time(seconds=-1))
    show("overflow", lambda: Time(seconds=10**10))
    show("mixed clocks", lambda: t < Time(seconds=1, clock_type=ClockType.ROS_TIME))
    show("mixed subtract", lambda: t - Time(seconds=1, clock_type=ClockType.ROS_TIME))
    show("compare", lambda: (t > Time(seconds=10), t == Time(nanoseconds=10 * S_TO_NS + 5)))
    show("bad clock type", lambda: Time(clock_type=2))
    msg = Time(seconds=1.25).to_msg()
    show("to_msg", lambda: (msg.sec, msg.nanosec))
    show("from_msg", lambda: Time.from_msg(TimeMsg(sec=4, nanosec=2)))
    show("from_msg steady", lambda: Time.from_msg(TimeMsg(sec=4), clock_type=ClockType.STEADY_TIME))


def clocks(node):
    kinds = (ClockType.UNINITIALIZED, ClockType.ROS_TIME, ClockType.SYSTEM_TIME, ClockType.STEADY_TIME)
    show("ClockType", lambda: [(c.name, c.value) for c in kinds])
    show("Clock()", Clock)
    show("Clock(ROS_TIME) type", lambda: type(Clock(clock_type=ClockType.ROS_TIME)).__name__)
    show("Clock(STEADY_TIME)", lambda: Clock(clock_type=ClockType.STEADY_TIME))
    show(
        "node clock",
        lambda: (node.get_clock(), type(node.get_clock()).__name__, node.get_clock().now().clock_type),
    )
    show(
        "now is recent",
        lambda: node.get_clock().now() > Time(seconds=1_700_000_000, clock_type=ClockType.ROS_TIME),
    )
    show("sleep_for", lambda: Clock(clock_type=ClockType.STEADY_TIME).sleep_for(Duration(seconds=0.01)))
    show("sleep_until past", lambda: Clock().sleep_until(Time(seconds=1)))
    show(
        "sleep_until wrong type",
        lambda: Clock().sleep_until(Time(seconds=1, clock_type=ClockType.STEADY_TIME)),
    )
    show("threshold", lambda: JumpThreshold(min_forward=None, min_backward=None, on_clock_change=False))
    show("threshold forward", lambda: JumpThreshold(min_forward=Duration(seconds=-1), min_backward=None))
    ros = ROSClock()
    jumps = []
    handle = ros.create_jump_callback(
        JumpThreshold(min_forward=Duration(seconds=1), min_backward=Duration(seconds=-1)),
        pre_callback=lambda: jumps.append("pre"),
        post_callback=lambda jump: jumps.append((jump.clock_change.name, jump.delta.nanoseconds)),
    )
    ros.set_ros_time_override(Time(seconds=100, clock_type=ClockType.ROS_TIME))
    show("active before", lambda: ros.ros_time_is_active)
    ros._set_ros_time_is_active(True)
    show("override now", ros.now)
    ros.set_ros_time_override(Time(seconds=105, clock_type=ClockType.ROS_TIME))
    ros.set_ros_time_override(Time(seconds=105.5, clock_type=ClockType.ROS_TIME))
    ros.set_ros_time_override(Time(seconds=90, clock_type=ClockType.ROS_TIME))
    handle.unregister()
    ros.set_ros_time_override(Time(seconds=200, clock_type=ClockType.ROS_TIME))
    show("jumps", lambda: [j for j in jumps if not (isinstance(j, tuple) and j[0] == "ROS_TIME_ACTIVATED")])
    show("activated", lambda: [j[0] for j in jumps if isinstance(j, tuple) and j[0] == "ROS_TIME_ACTIVATED"])
    changes = (
        ClockChange.ROS_TIME_NO_CHANGE,
        ClockChange.ROS_TIME_ACTIVATED,
        ClockChange.ROS_TIME_DEACTIVATED,
        ClockChange.SYSTEM_TIME_NO_CHANGE,
    )
    show("ClockChange", lambda: [(c.name, c.value) for c in changes])


def timers(node):
    timer = node.create_timer(0.5, lambda: None, autostart=False)
    show("period", lambda: timer.timer_period_ns)
    show("autostart=False canceled", timer.is_canceled)
    show("canceled next call", timer.time_until_next_call)
    show("canceled ready", timer.is_ready)
    timer.reset()
    show("after reset", lambda: (timer.is_canceled(), 0 < timer.time_until_next_call() <= 500_000_000))
    show("since last call", lambda: 0 <= timer.time_since_last_call() < 500_000_000)
    timer.timer_period_ns = 250_000_000
    show("new period", lambda: timer.timer_period_ns)
    show("destroy_timer", lambda: node.destroy_timer(timer))


def main():
    show("remove_ros_args", lambda: remove_ros_args(["prog", "a", "--ros-args", "-r", "x:=y", "--", "b"]))
    durations()
    times()
    rclpy.init()
    node = rclpy.create_node("time_and_clock")
    clocks(node)
    timers(node)
    node.destroy_node()
    rclpy.shutdown()
    show("ok after shutdown", rclpy.ok)
    try:
        rclpy.shutdown()
    except RuntimeError:
        print("shutdown twice: RuntimeError")


if __name__ == "__main__":
    main()
