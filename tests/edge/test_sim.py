"""SimulatedRobot: motion, battery, refusals, cancel, failure injection, time jumps, cost."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robotfleet_nodes.edge.driver import (
    DriverBusy,
    DriverEvent,
    DriverRejected,
    OperatingMode,
    Pose2D,
    RobotDriver,
    RobotDriverError,
    RobotState,
    StatusChanged,
    TaskFinished,
    TaskOutcome,
    TaskProgress,
    TaskRejected,
    TaskRequest,
)
from robotfleet_nodes.edge.sim import (
    BATTERY_DEPLETED,
    SIM_INJECTED_FAILURE,
    SIM_RANDOM_FAULT,
    SimConfig,
    SimulatedRobot,
)
from robotfleet_nodes.errors import ConfigError, RobotFleetError

QUIET = SimConfig(idle_drain_per_s=0.0, battery_drain_per_s=0.0)
"""No battery effects: isolates motion."""


def robot(config: SimConfig = QUIET, **kw: object) -> SimulatedRobot:
    r = SimulatedRobot("r1", config, **kw)  # type: ignore[arg-type]
    r.step(0.0)
    return r


def run(
    r: SimulatedRobot, until: float, dt: float = 0.1, start: float = 0.0
) -> list[tuple[float, DriverEvent]]:
    """Step from ``start`` (exclusive) to ``until`` in ``dt`` steps; events with their step time."""
    out: list[tuple[float, DriverEvent]] = []
    n = round((until - start) / dt)
    for i in range(1, n + 1):
        now = start + i * dt
        out.extend((now, ev) for ev in r.step(now))
    return out


def finished(events: Sequence[tuple[float, DriverEvent]]) -> list[tuple[float, TaskOutcome]]:
    return [(t, ev.outcome) for t, ev in events if isinstance(ev, TaskFinished)]


def states(events: Sequence[tuple[float, DriverEvent]]) -> list[RobotState]:
    """The distinct consecutive states seen in StatusChanged events."""
    out: list[RobotState] = []
    for _, ev in events:
        if isinstance(ev, StatusChanged) and (not out or out[-1] is not ev.status.state):
            out.append(ev.status.state)
    return out


# -- motion ------------------------------------------------------------------------------


def test_reaches_target_in_distance_over_speed_plus_work_time() -> None:
    r = robot()
    r.start_task(TaskRequest("t1", "pick", Pose2D(3.0, 4.0, 0.5)))  # 5 m, pick = 5 s
    events = run(r, 12.0)
    progress = [(t, ev.progress) for t, ev in events if isinstance(ev, TaskProgress)]
    values = [p for _, p in progress]
    assert values == sorted(values)
    assert all(0.0 < p <= 1.0 for p in values)
    assert values[-1] == 1.0
    assert progress[len(progress) // 2][1] == pytest.approx(0.5, abs=0.02)  # time-proportional
    done = finished(events)
    assert len(done) == 1
    t_done, outcome = done[0]
    assert t_done == pytest.approx(10.0, abs=0.1 + 1e-9)
    assert outcome == TaskOutcome("t1", True, "completed", Pose2D(3.0, 4.0, 0.5))
    st_ = r.status
    assert st_.state is RobotState.IDLE and st_.current_task_id is None and st_.progress == 0.0
    assert st_.pose == Pose2D(3.0, 4.0, 0.5)


def test_speed_and_work_time_come_from_config() -> None:
    cfg = SimConfig(speed=2.0, idle_drain_per_s=0.0, battery_drain_per_s=0.0, work_time_s={"scan": 1.5})
    r = robot(cfg)
    r.start_task(TaskRequest("t1", "scan", Pose2D(10.0, 0.0)))
    ((t_done, _),) = finished(run(r, 10.0))
    assert t_done == pytest.approx(6.5)
    r.start_task(TaskRequest("t2", "unknown-task", Pose2D(10.0, 0.0)))  # default 2 s, no travel
    ((t_done, _),) = finished(run(r, 15.0, start=10.0))
    assert t_done == pytest.approx(12.0)


def test_theta_faces_direction_of_travel_and_velocity_is_speed() -> None:
    r = robot()
    r.start_task(TaskRequest("t1", "move", Pose2D(0.0, 5.0, 0.0)))
    r.step(1.0)
    s = r.status
    assert s.pose.theta == pytest.approx(math.pi / 2)
    assert s.pose.x == pytest.approx(0.0) and s.pose.y == pytest.approx(1.0)
    assert s.velocity == 1.0 and s.state is RobotState.EXECUTING and s.current_task_id == "t1"
    r.step(6.0)
    assert r.status.velocity == 0.0 and r.status.pose == Pose2D(0.0, 5.0, 0.0)
    r.start_task(TaskRequest("t2", "move", Pose2D(-2.0, 5.0, 0.0)))
    r.step(7.0)
    assert r.status.pose.theta == pytest.approx(math.pi)


def test_velocity_zero_while_working_at_target() -> None:
    r = robot()
    r.start_task(TaskRequest("t1", "pick", Pose2D(1.0, 0.0)))
    r.step(2.0)  # arrived at 1 s, working until 6 s
    s = r.status
    assert s.state is RobotState.EXECUTING and s.velocity == 0.0
    assert s.progress == pytest.approx(2.0 / 6.0)


def test_missing_target_is_derived_from_task_id_and_seed() -> None:
    def target(seed: int, task_id: str) -> Pose2D:
        r = robot(SimConfig(seed=seed, battery_drain_per_s=0.0))
        r.start_task(TaskRequest(task_id, "move"))
        ((_, outcome),) = finished(run(r, 200.0, dt=50.0))
        return outcome.final_pose

    a = target(1, "job-1")
    assert a == target(1, "job-1")
    assert a != target(2, "job-1")
    assert a != target(1, "job-2")
    assert 0.0 <= a.x <= 50.0 and 0.0 <= a.y <= 50.0


# -- events and status -------------------------------------------------------------------


def test_status_changed_at_most_once_per_step_and_last() -> None:
    r = SimulatedRobot("r1", SimConfig())
    first = r.step(100.0)
    assert [type(e) for e in first] == [StatusChanged]
    r.start_task(TaskRequest("t1", "pick", Pose2D(2.0, 0.0)))
    seqs = []
    for i in range(1, 100):
        events = r.step(100.0 + i * 0.1)
        kinds = [type(e) for e in events]
        assert kinds.count(StatusChanged) <= 1
        if StatusChanged in kinds:
            assert kinds[-1] is StatusChanged
            last = events[-1]
            assert isinstance(last, StatusChanged)
            assert last.status is r.status
            seqs.append(last.status.seq)
    assert seqs == sorted(set(seqs))


def test_nothing_changing_returns_shared_empty_list_and_same_snapshot() -> None:
    r = robot()
    snap = r.status
    a, b = r.step(1.0), r.step(2.0)
    assert a == [] and a is b
    assert r.status is snap
    assert r.step(1.5) == []  # time going backwards advances nothing


def test_changes_between_steps_are_reported_by_the_next_step() -> None:
    r = robot()
    r.set_mode(OperatingMode.SEMIAUTOMATIC)
    seq = r.status.seq  # reading the status between steps must not swallow the event
    events = r.step(1.0)
    assert len(events) == 1 and isinstance(events[0], StatusChanged)
    assert events[0].status.mode is OperatingMode.SEMIAUTOMATIC and events[0].status.seq == seq


def test_first_step_needs_a_finite_time() -> None:
    r = SimulatedRobot("r1")
    with pytest.raises(ValueError, match="finite"):
        r.step(math.nan)
    assert r.step(5.0)


def test_task_started_before_first_step_begins_at_first_step() -> None:
    r = SimulatedRobot("r1", QUIET)
    r.start_task(TaskRequest("t1", "move", Pose2D(1.0, 0.0)))
    r.step(1000.0)
    assert r.status.pose == Pose2D(0.0, 0.0, 0.0)
    assert [o.success for _, o in finished(run(r, 1001.0, start=1000.0))] == [True]


# -- battery -----------------------------------------------------------------------------


def test_battery_drains_while_working_and_idle() -> None:
    cfg = SimConfig(battery_drain_per_s=1.0, idle_drain_per_s=0.1, recharge_below_percent=0.0)
    r = robot(cfg)
    r.start_task(TaskRequest("t1", "move", Pose2D(10.0, 0.0)))
    run(r, 10.0)
    assert r.status.battery_percent == pytest.approx(90.0)
    run(r, 20.0, start=10.0)
    assert r.status.battery_percent == pytest.approx(89.0)


def test_goes_charging_at_dock_when_idle_below_threshold_and_back_to_idle_when_full() -> None:
    cfg = SimConfig(
        battery_drain_per_s=1.0,
        idle_drain_per_s=1.0,
        charge_rate_per_s=10.0,
        recharge_below_percent=30.0,
        charge_target_percent=90.0,
        min_battery_to_accept=10.0,
    )
    r = robot(cfg, start_pose=Pose2D(3.0, 4.0), battery_percent=31.0)
    events = run(r, 20.0)
    assert states(events) == [RobotState.IDLE, RobotState.CHARGING, RobotState.IDLE]
    charging = [ev.status for _, ev in events if isinstance(ev, StatusChanged)]
    on_dock = [s for s in charging if s.charging]
    assert on_dock and all(s.pose == Pose2D(0.0, 0.0, 0.0) for s in on_dock)
    # 1 s idle to 30 %, 5 s driving (to 25 %), 6.5 s charging to 90 %.
    t_idle = next(
        t
        for t, ev in events
        if isinstance(ev, StatusChanged) and ev.status.state is RobotState.IDLE and t > 1.5
    )
    assert t_idle == pytest.approx(12.5, abs=0.1 + 1e-9)
    assert r.status.battery_percent == pytest.approx(90.0 - (20.0 - 12.5), abs=0.11)


def test_charging_robot_accepts_a_task_above_min_battery() -> None:
    cfg = SimConfig(charge_rate_per_s=1.0, min_battery_to_accept=15.0, recharge_below_percent=30.0)
    r = robot(cfg, battery_percent=20.0)
    r.step(1.0)
    before = r.status
    assert before.state is RobotState.CHARGING and before.charging
    r.start_task(TaskRequest("t1", "move", Pose2D(1.0, 0.0)))
    after = r.status
    assert after.state is RobotState.EXECUTING and not after.charging


def test_battery_depletion_fails_task_with_fatal_error() -> None:
    cfg = SimConfig(battery_drain_per_s=10.0, min_battery_to_accept=15.0, recharge_below_percent=0.0)
    r = robot(cfg, battery_percent=20.0)
    r.start_task(TaskRequest("t1", "move", Pose2D(100.0, 0.0)))
    events = run(r, 5.0)
    ((t, outcome),) = finished(events)
    assert t == pytest.approx(2.0, abs=0.1 + 1e-9)
    assert not outcome.success and "battery" in outcome.message
    assert outcome.final_pose.x == pytest.approx(2.0)
    s = r.status
    assert s.state is RobotState.ERROR and s.battery_percent == 0.0 and s.velocity == 0.0
    assert [(e.code, e.level) for e in s.errors] == [(BATTERY_DEPLETED, "FATAL")]
    with pytest.raises(DriverRejected, match=r"ERROR \(BATTERY_DEPLETED\).*clear_errors"):
        r.start_task(TaskRequest("t2", "move", Pose2D(1.0, 0.0)))
    r.clear_errors()
    s = r.status
    assert s.state is RobotState.CHARGING and s.charging and s.errors == ()
    assert s.pose == Pose2D(0.0, 0.0, 0.0)  # taken to the dock
    r.step(6.0)
    assert r.status.battery_percent == pytest.approx(0.5)


# -- refusals ----------------------------------------------------------------------------


def test_refuses_second_task_while_busy() -> None:
    r = robot()
    r.start_task(TaskRequest("t1", "move", Pose2D(5.0, 0.0)))
    seq = r.status.seq
    with pytest.raises(DriverBusy, match="already executing task 't1'") as info:
        r.start_task(TaskRequest("t2", "move", Pose2D(1.0, 0.0)))
    assert isinstance(info.value, RobotDriverError)
    assert isinstance(info.value, RobotFleetError) and isinstance(info.value, RuntimeError)
    assert r.status.seq == seq and r.status.current_task_id == "t1"


def test_refuses_when_battery_too_low() -> None:
    r = robot(SimConfig(min_battery_to_accept=20.0), battery_percent=19.0)
    with pytest.raises(DriverRejected, match=r"battery too low: 19\.0% < 20\.0%"):
        r.start_task(TaskRequest("t1", "move", Pose2D(1.0, 0.0)))
    assert r.status.state is not RobotState.EXECUTING


@pytest.mark.parametrize("mode", [OperatingMode.MANUAL, OperatingMode.SERVICE, OperatingMode.TEACHIN])
def test_refuses_in_manual_modes(mode: OperatingMode) -> None:
    r = robot(mode=mode)
    with pytest.raises(DriverRejected, match=f"{mode.value} mode"):
        r.start_task(TaskRequest("t1", "move", Pose2D(1.0, 0.0)))
    r.set_mode(OperatingMode.AUTOMATIC)
    r.start_task(TaskRequest("t1", "move", Pose2D(1.0, 0.0)))


def test_refuses_bad_requests() -> None:
    r = robot()
    with pytest.raises(TaskRejected, match="task_id"):
        r.start_task(TaskRequest("", "move", Pose2D(1.0, 0.0)))
    with pytest.raises(TaskRejected, match="finite"):
        r.start_task(TaskRequest("t1", "move", Pose2D(math.nan, 0.0)))


def test_robot_reasons_are_not_task_rejections() -> None:
    """The edge tells REFUSED_ROBOT from REFUSED_ORDER by the exception's class."""
    r = robot(battery_percent=5.0)
    with pytest.raises(DriverRejected, match="battery too low") as info:
        r.start_task(TaskRequest("t1", "move", Pose2D(1.0, 0.0)))
    assert not isinstance(info.value, TaskRejected)
    r = robot()
    r.start_task(TaskRequest("t1", "move", Pose2D(1.0, 0.0)))
    with pytest.raises(DriverBusy) as busy:
        r.start_task(TaskRequest("t2", "move", Pose2D(1.0, 0.0)))
    assert not isinstance(busy.value, TaskRejected)


# -- pause -------------------------------------------------------------------------------


def test_paused_task_does_not_move_or_progress_and_drains_like_idle() -> None:
    cfg = SimConfig(battery_drain_per_s=1.0, idle_drain_per_s=0.1, recharge_below_percent=0.0)
    r = robot(cfg)
    r.start_task(TaskRequest("t1", "move", Pose2D(10.0, 0.0)))
    run(r, 2.0)
    assert r.pause_task("other") is False
    assert r.pause_task("t1") is True
    assert r.pause_task("t1") is False, "already paused"
    assert r.paused
    before = r.status
    events = run(r, 12.0, start=2.0)
    after = r.status
    assert not finished(events)
    assert not [e for _, e in events if isinstance(e, TaskProgress)]
    assert after.pose == before.pose == Pose2D(2.0, 0.0, 0.0)
    assert after.velocity == 0.0
    assert after.state is RobotState.EXECUTING and after.current_task_id == "t1"
    assert after.battery_percent == pytest.approx(before.battery_percent - 1.0, abs=0.11)  # 10 s x 0.1 %/s
    assert r.resume_task("other") is False
    assert r.resume_task("t1") is True
    assert r.resume_task("t1") is False
    ((t, outcome),) = finished(run(r, 30.0, start=12.0))
    assert t == pytest.approx(20.0)  # 8 m left at 1 m/s
    assert outcome.success and outcome.final_pose == Pose2D(10.0, 0.0, 0.0)
    assert not r.paused


def test_paused_task_can_be_cancelled_and_never_goes_charging() -> None:
    cfg = SimConfig(battery_drain_per_s=0.0, idle_drain_per_s=1.0, recharge_below_percent=50.0)
    r = robot(cfg, battery_percent=60.0)
    r.start_task(TaskRequest("t1", "move", Pose2D(10.0, 0.0)))
    run(r, 1.0)
    assert r.pause_task("t1")
    run(r, 20.0, start=1.0)  # below 50 %: an idle robot would go charging
    assert r.status.state is RobotState.EXECUTING
    assert r.cancel_task("t1")
    ((_, outcome),) = finished(run(r, 21.0, start=20.0))
    assert outcome.message == "cancelled" and not r.paused


def test_drivers_cannot_pause_by_default() -> None:
    class Plain(SimulatedRobot):
        pause_task = RobotDriver.pause_task
        resume_task = RobotDriver.resume_task

    r = Plain("r2", QUIET)
    with pytest.raises(NotImplementedError, match="cannot pause"):
        r.pause_task("t1")
    with pytest.raises(NotImplementedError, match="cannot pause"):
        r.resume_task("t1")


# -- cancel ------------------------------------------------------------------------------


def test_cancel_reports_once_and_is_idempotent() -> None:
    r = robot()
    r.start_task(TaskRequest("t1", "move", Pose2D(10.0, 0.0)))
    run(r, 2.0)
    assert r.cancel_task("other") is False
    assert r.cancel_task("t1") is True
    assert r.cancel_task("t1") is False
    assert r.status.state is RobotState.IDLE and r.status.velocity == 0.0
    events = run(r, 5.0, start=2.0)
    ((t, outcome),) = finished(events)
    assert t == pytest.approx(2.1)
    assert outcome == TaskOutcome("t1", False, "cancelled", Pose2D(2.0, 0.0, 0.0))
    assert r.status.pose == Pose2D(2.0, 0.0, 0.0)  # stopped where it was
    assert r.cancel_task("t1") is False


def test_new_task_right_after_cancel_reports_in_order() -> None:
    r = robot()
    r.start_task(TaskRequest("t1", "move", Pose2D(10.0, 0.0)))
    r.step(1.0)
    assert r.cancel_task("t1")
    r.start_task(TaskRequest("t2", "move", Pose2D(1.0, 1.0)))
    events = r.step(1.5)
    kinds = [type(e) for e in events]
    assert kinds == [TaskFinished, TaskProgress, StatusChanged]
    assert isinstance(events[0], TaskFinished) and events[0].outcome.task_id == "t1"
    assert isinstance(events[1], TaskProgress) and events[1].task_id == "t2"


def test_cancel_after_finish_returns_false_and_reports_nothing() -> None:
    r = robot()
    r.start_task(TaskRequest("t1", "move", Pose2D(1.0, 0.0)))
    assert len(finished(run(r, 2.0))) == 1
    assert r.cancel_task("t1") is False
    assert finished(run(r, 3.0, start=2.0)) == []


# -- failure injection -------------------------------------------------------------------


def outcomes(seed: int, n: int, p: float, robot_id: str = "r1") -> list[bool]:
    cfg = SimConfig(seed=seed, task_failure_probability=p, battery_drain_per_s=0.0, idle_drain_per_s=0.0)
    r = SimulatedRobot(robot_id, cfg)
    now = 0.0
    r.step(now)
    result = []
    for i in range(n):
        r.start_task(TaskRequest(f"t{i}", "move", Pose2D(float(i % 2), 0.0)))
        now += 10.0
        ((outcome),) = [ev.outcome for ev in r.step(now) if isinstance(ev, TaskFinished)]
        result.append(outcome.success)
    return result


def test_injected_failure_is_deterministic_per_seed() -> None:
    a = outcomes(seed=7, n=100, p=0.3)
    assert a == outcomes(seed=7, n=100, p=0.3)
    assert a != outcomes(seed=8, n=100, p=0.3)
    assert a != outcomes(seed=7, n=100, p=0.3, robot_id="r2")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_injected_failure_rate_matches_probability(seed: int) -> None:
    results = outcomes(seed=seed, n=500, p=0.3)
    failed = results.count(False) / len(results)
    assert failed == pytest.approx(0.3, abs=0.07)  # 3.4 sigma at n=500


def test_injected_failure_happens_midway_with_warning() -> None:
    cfg = SimConfig(task_failure_probability=1.0, battery_drain_per_s=0.0)
    r = robot(cfg)
    r.start_task(TaskRequest("t1", "move", Pose2D(100.0, 0.0)))
    events = run(r, 120.0, dt=1.0)
    ((t, outcome),) = finished(events)
    assert 0.0 < t < 101.0 and not outcome.success and "injected" in outcome.message
    assert 0.0 <= outcome.final_pose.x < 100.0
    s = r.status
    assert s.state is RobotState.IDLE
    assert [(e.code, e.level) for e in s.errors] == [(SIM_INJECTED_FAILURE, "WARNING")]
    r.start_task(TaskRequest("t2", "move", Pose2D(0.0, 0.0)))  # WARNING does not block, is cleared
    assert r.status.errors == ()


def test_random_faults_are_deterministic_and_independent_of_step_size() -> None:
    cfg = SimConfig(error_probability_per_s=0.01, offline_probability_per_s=0.01, offline_duration_s=5.0)

    def trace(dt: float) -> tuple[list[RobotState], list[float]]:
        r = SimulatedRobot("r9", cfg)
        r.step(0.0)
        seen, battery = [], []
        for i in range(1, round(600 / dt) + 1):
            r.step(i * dt)
            if i % round(10 / dt) == 0:  # look every 10 s
                s = r.status
                seen.append(s.state)
                battery.append(s.battery_percent)
                if s.state is RobotState.ERROR:
                    assert s.errors[-1].code == SIM_RANDOM_FAULT
                    r.clear_errors()
        return seen, battery

    fine = trace(0.5)
    assert fine == trace(0.5)
    coarse = trace(2.0)
    assert coarse[0] == fine[0]
    assert coarse[1] == pytest.approx(fine[1], abs=0.11)
    assert {RobotState.IDLE, RobotState.ERROR, RobotState.OFFLINE} <= set(fine[0])


def test_offline_fails_running_task_and_comes_back() -> None:
    cfg = SimConfig(offline_probability_per_s=0.1, offline_duration_s=5.0)
    r = robot(cfg)
    r.start_task(TaskRequest("t1", "move", Pose2D(1000.0, 0.0)))
    events = run(r, 200.0)
    ((t_off, outcome),) = finished(events)
    assert not outcome.success and outcome.message == "robot went offline"
    seen = [(t, ev.status.state) for t, ev in events if isinstance(ev, StatusChanged)]
    assert (t_off, RobotState.OFFLINE) in seen
    t_back = next(t for t, state in seen if t > t_off and state is not RobotState.OFFLINE)
    assert t_back - t_off == pytest.approx(5.0, abs=0.1 + 1e-9)
    r.step(1000.0)
    now = 1000.0
    while r.status.state is not RobotState.OFFLINE:
        now += 1.0
        r.step(now)
    with pytest.raises(DriverRejected, match="OFFLINE"):
        r.start_task(TaskRequest("t2", "move", Pose2D(1.0, 0.0)))


# -- time jumps --------------------------------------------------------------------------


def test_large_time_step_does_not_overshoot() -> None:
    r = robot(SimConfig(battery_drain_per_s=0.1))
    r.start_task(TaskRequest("t1", "pick", Pose2D(3.0, 4.0)))
    r.step(2.0)
    events = r.step(7.0)  # 5 s pause crosses arrival (5 s) but not the end of work (10 s)
    assert r.status.pose == Pose2D(3.0, 4.0, 0.0) and r.status.progress == pytest.approx(0.7)
    events = r.step(1000.0)
    assert [type(e) for e in events] == [TaskProgress, TaskFinished, StatusChanged]
    assert r.status.pose == Pose2D(3.0, 4.0, 0.0)


def test_large_time_step_matches_small_steps() -> None:
    cfg = SimConfig(battery_drain_per_s=1.0, idle_drain_per_s=0.5, charge_rate_per_s=2.0)
    a = robot(cfg, battery_percent=50.0)
    b = robot(cfg, battery_percent=50.0)
    for r in (a, b):
        r.start_task(TaskRequest("t1", "pick", Pose2D(3.0, 4.0)))
    run(a, 80.0, dt=0.1)
    b.step(80.0)
    sa, sb = a.status, b.status
    assert (sa.state, sa.pose, sa.charging) == (sb.state, sb.pose, sb.charging)
    assert sa.battery_percent == pytest.approx(sb.battery_percent, abs=0.11)


def test_large_time_step_never_drives_battery_below_zero() -> None:
    cfg = SimConfig(battery_drain_per_s=5.0, idle_drain_per_s=5.0, recharge_below_percent=0.0)
    r = robot(cfg, battery_percent=50.0)
    r.start_task(TaskRequest("t1", "move", Pose2D(1000.0, 0.0)))
    r.step(10_000.0)
    s = r.status
    assert s.battery_percent == 0.0 and s.state is RobotState.ERROR
    assert s.pose.x == pytest.approx(10.0)


@settings(max_examples=60, deadline=None)
@given(
    battery=st.floats(0.0, 100.0),
    actions=st.lists(
        st.tuples(st.floats(0.0, 30.0), st.sampled_from(["step", "start", "cancel", "clear"])),
        max_size=40,
    ),
)
def test_invariants_hold_for_random_step_sequences(battery: float, actions: list[tuple[float, str]]) -> None:
    cfg = SimConfig(
        battery_drain_per_s=2.0,
        idle_drain_per_s=0.5,
        charge_rate_per_s=3.0,
        task_failure_probability=0.2,
        error_probability_per_s=0.01,
        offline_probability_per_s=0.01,
        offline_duration_s=3.0,
    )
    r = SimulatedRobot("r1", cfg, Pose2D(5.0, 5.0), battery_percent=battery)
    now, started, done, last_seq, n = 0.0, set(), [], 0, 0
    progress: dict[str, float] = {}
    for dt, action in [(0.0, "step"), *actions]:
        if action == "start":
            n += 1
            try:
                r.start_task(TaskRequest(f"t{n}", "pick"))
            except RobotDriverError:
                pass
            else:
                started.add(f"t{n}")
        elif action == "cancel" and r.status.current_task_id is not None:
            assert r.cancel_task(r.status.current_task_id)
        elif action == "clear":
            r.clear_errors()
        now += dt
        for ev in r.step(now):
            if isinstance(ev, TaskFinished):
                done.append(ev.outcome.task_id)
            elif isinstance(ev, TaskProgress):
                assert 0.0 <= ev.progress <= 1.0
                assert ev.progress >= progress.get(ev.task_id, 0.0)
                progress[ev.task_id] = ev.progress
            else:
                assert ev.status.seq > last_seq
                last_seq = ev.status.seq
        s = r.status
        assert 0.0 <= s.battery_percent <= 100.0
        assert 0.0 <= s.progress <= 1.0
        assert (s.current_task_id is not None) == (s.state is RobotState.EXECUTING)
    assert len(done) == len(set(done)) and set(done) <= started
    assert started - set(done) <= {r.status.current_task_id}


# -- misc --------------------------------------------------------------------------------


async def test_start_and_close_are_noops() -> None:
    r: RobotDriver = SimulatedRobot("r1")
    await r.start()
    await r.close()
    await r.close()
    assert r.robot_id == "r1"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"speed": 0.0}, "sim.speed"),
        ({"charge_rate_per_s": -1.0}, "sim.charge_rate_per_s"),
        ({"min_battery_to_accept": 101.0}, "sim.min_battery_to_accept"),
        ({"recharge_below_percent": 95.0, "charge_target_percent": 90.0}, "sim.charge_target_percent"),
        ({"task_failure_probability": 1.5}, "sim.task_failure_probability"),
        ({"error_probability_per_s": 1.0}, "sim.error_probability_per_s"),
        ({"work_time_s": {"pick": -1.0}}, "sim.work_time_s.pick"),
        ({"area": (10.0, 0.0, 0.0, 10.0)}, "sim.area"),
    ],
)
def test_config_errors_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        SimConfig(**kwargs)  # type: ignore[arg-type]


def test_thousand_robots_step_together() -> None:
    """1000 robots stepped through 10 s: every busy one reports progress, no idle one a task.

    What a tick costs is measured by ``benchmarks/sim.py``, not asserted here.
    """
    cfg = SimConfig(task_failure_probability=0.1, error_probability_per_s=0.001)
    robots = [SimulatedRobot(f"r{i}", cfg, Pose2D(float(i % 50), float(i // 50))) for i in range(1000)]
    for r in robots:
        r.step(0.0)
    for i, r in enumerate(robots):
        if i % 2 == 0:  # half busy, half idle
            r.start_task(TaskRequest(f"t{i}", "pick"))
    events: list[list[DriverEvent]] = [[] for _ in robots]
    for k in range(1, 101):
        now = k * 0.1
        for r, seen in zip(robots, events, strict=True):
            seen.extend(r.step(now))
    for i, seen in enumerate(events):
        task_events = [ev for ev in seen if isinstance(ev, TaskProgress | TaskFinished)]
        if i % 2 == 0:
            assert task_events, f"busy robot r{i} reported no progress in 10 s"
            assert all(ev.task_id == f"t{i}" for ev in task_events if isinstance(ev, TaskProgress))
        else:
            assert task_events == [], f"idle robot r{i} reported a task"
