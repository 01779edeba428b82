"""QoS events (``event_callbacks=``) of rclpy publishers and subscriptions, against real rclpy.

Each program runs as ``python file.py`` under our rclpy (NATS) and under real rclpy (the
oracle, loopback DDS) and must print the same: which events fired and their counts, never
when.
"""

from __future__ import annotations

import pytest

from tests.compat._programs import env_for, interpreter, run

BOTH = pytest.mark.parametrize("python", ["ours", "real"])


@BOTH
def test_matched_events_count_peers_as_they_come_and_go(nats_url: str, domain: int, python: str) -> None:
    """matched_event_detect.py's steps: subscriptions then publishers created and destroyed
    one at a time; each step gives one event with the cumulative and current counts."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    assert run("events_matched.py", exe, env).splitlines() == [
        "publisher matched: total 1 (+1) current 1 (+1)",
        "publisher matched: total 2 (+1) current 2 (+1)",
        "publisher matched: total 2 (+0) current 1 (-1)",
        "publisher matched: total 2 (+0) current 0 (-1)",
        "subscription matched: total 1 (+1) current 1 (+1)",
        "subscription matched: total 2 (+1) current 2 (+1)",
        "subscription matched: total 2 (+0) current 1 (-1)",
        "subscription matched: total 2 (+0) current 0 (-1)",
    ]


@BOTH
def test_deadline_missed_on_both_sides_once_the_talker_stops(nats_url: str, domain: int, python: str) -> None:
    """A 0.3 s deadline and a talker that stops after 5 messages: every message arrives, then
    the publisher's offered and the subscription's requested deadline are missed (first
    event: total 1, change 1)."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    assert run("events_deadline.py", exe, env).splitlines() == [
        "heard: msg 0, msg 1, msg 2, msg 3, msg 4",
        "offered deadline missed: total 1 change 1",
        "requested deadline missed: total 1 change 1",
    ]


@BOTH
@pytest.mark.parametrize(
    ("policy", "kind"),
    [
        ("reliability", "RELIABILITY"),
        ("durability", "DURABILITY"),
        ("deadline", "DEADLINE"),
        ("liveliness_policy", "LIVELINESS"),
        ("liveliness_lease_duration", "LIVELINESS"),
    ],
)
def test_incompatible_qos_reported_to_publisher_and_subscription(
    nats_url: str, domain: int, python: str, policy: str, kind: str
) -> None:
    """incompatible_qos.py's five cases: both sides get one event naming the policy at fault
    (``last_policy_kind`` prints as real rclpy's rmw enum; a lease too long is LIVELINESS)."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    output = run("events_incompatible_qos.py", exe, env, policy)
    event = f"total 1 change 1 policy {kind} (rmw_qos_policy_kind_t.RMW_QOS_POLICY_{kind})"
    assert output.splitlines() == [f"{side} incompatible qos: {event}" for side in ("offered", "requested")]


@BOTH
def test_liveliness_changes_as_the_publisher_comes_and_goes(nats_url: str, domain: int, python: str) -> None:
    """AUTOMATIC liveliness: the talker's publisher is alive once matched; destroying its node
    takes it out of the alive count (a removal, not a not-alive publisher)."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    assert run("events_liveliness.py", exe, env, "automatic").splitlines() == [
        "liveliness changed: alive 1 (+1) not alive 0 (+0)",
        "liveliness changed: alive 0 (-1) not alive 0 (+0)",
    ]


@BOTH
def test_manual_liveliness_lost_when_the_publisher_is_silent(nats_url: str, domain: int, python: str) -> None:
    """MANUAL_BY_TOPIC with a 0.3 s lease: one publish, then silence: liveliness lost once."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    assert run("events_liveliness.py", exe, env, "manual").splitlines() == [
        "liveliness lost: total 1 change 1",
    ]


@BOTH
def test_a_keep_last_queue_replacing_samples_is_no_message_lost(
    nats_url: str, domain: int, python: str
) -> None:
    """20 messages into a depth-1 queue not spun: the newest is heard and, as in DDS (history
    replaces the oldest sample), no ``message_lost`` event fires."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    assert run("events_message_lost.py", exe, env).splitlines() == [
        "last heard: msg 19",
        "message_lost events: 0",
    ]


def test_incompatible_type_reported_to_both_sides(nats_url: str, domain: int) -> None:
    """Ours only (real rclpy's Fast DDS refuses a second type for a topic in one process): a
    String publisher and an Int32 subscription on one topic each get one event."""
    exe, env = interpreter("ours", env_for(nats_url, domain))
    assert run("events_incompatible_type.py", exe, env).splitlines() == [
        "publisher incompatible type: total 1 change 1",
        "subscription incompatible type: total 1 change 1",
    ]


@BOTH
def test_lifespan_drops_expired_messages_for_a_late_subscription(
    nats_url: str, domain: int, python: str
) -> None:
    """lifespan.py's point: a late-joining transient-local subscription gets the stored
    messages still within the publisher's lifespan only."""
    exe, env = interpreter(python, env_for(nats_url, domain))
    assert run("events_lifespan.py", exe, env).splitlines() == ["heard: fresh"]
