"""rclpy's time, clocks, timers, rates, guard conditions and Ctrl-C, against real rclpy.

Each program runs as ``python file.py`` under our rclpy (NATS) and under real rclpy (the
oracle, loopback DDS) and must print the same (orders and counts, never times).
"""

from __future__ import annotations

import pytest

from tests.compat._programs import PROGRAMS, env_for, interpreter, run, start, stop

BOTH = pytest.mark.parametrize("python", ["ours", "real"])


@BOTH
def test_time_duration_clock_and_timer_state_print_as_rclpy(nats_url: str, domain: int, python: str) -> None:
    """Duration/Time arithmetic, comparisons, messages and errors; clocks, jump callbacks on
    an overridden ROS clock; timer autostart/reset/period: line for line real rclpy's output."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    expected = (PROGRAMS / "time_and_clock.expected").read_text(encoding="utf-8")
    assert run("time_and_clock.py", exe, env).splitlines() == expected.splitlines()


@BOTH
def test_guard_condition_triggered_by_a_timer_shuts_down(nats_url: str, domain: int, python: str) -> None:
    """ros2/examples' trigger_guard_condition: timer -> trigger -> guard callback on the next spin_once."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    assert run("trigger_guard_condition.py", exe, env).splitlines() == [
        "timer callback triggered guard condition",
        "guard callback called shutdown",
        "loops: 2",
    ]


@BOTH
def test_rate_sleeps_in_a_thread_while_the_node_spins(nats_url: str, domain: int, python: str) -> None:
    exe, env = interpreter(python, env_for(nats_url, domain))
    assert run("rate_sleep.py", exe, env).splitlines() == [
        *(f"tick {i}" for i in range(5)),
        "ROSInterruptException",
        "ok: False",
    ]


@BOTH
def test_ctrl_c_during_spin_behaves_as_rclpy(nats_url: str, domain: int, python: str) -> None:
    """Ctrl-C: spin raises (real rclpy: KeyboardInterrupt or ExternalShutdownException, racing
    its C handler; ours: KeyboardInterrupt), ok() is false, shutdown() and init() work again."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    process = start("sigint_spin.py", env, python=exe)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "spinning"
    out, err = stop(process)
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] in ("KeyboardInterrupt", "ExternalShutdownException"), out
    # Real rclpy's C signal handler shuts its context down on its own thread: seen on a loaded
    # machine, ok() may still be True right after the interrupt there. Ours is False at once.
    assert lines[1] in (("ok: False", "ok: True") if python == "real" else ("ok: False",)), out
    assert lines[2:] == ["shutdown: fine", "init again, ok: True"], out


@BOTH
def test_use_sim_time_follows_clock_topic(nats_url: str, domain: int, python: str) -> None:
    """``use_sim_time:=true``: the ROS clock is 0 until /clock, then /clock's time; a 1 s timer
    ticks once per simulated second (at 100..103); ``sleep_until`` wakes on simulated time;
    a node without it keeps system time."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    expected = (PROGRAMS / "sim_time.expected").read_text(encoding="utf-8")
    assert run("sim_time.py", exe, env).splitlines() == expected.splitlines()
