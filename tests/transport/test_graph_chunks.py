"""Large participants describe themselves in several graph replies, merged by gid."""

from __future__ import annotations

from robotfleet_nodes.node.qos import QoSProfile
from robotfleet_nodes.transport import EndpointInfo, EntityStats, NodeInfo, ParticipantInfo, SubscriptionStats
from robotfleet_nodes.transport.nats._graph import (
    participant_from_json,
    participant_to_json_chunks,
    troubled_to_json,
)


def _participant(n: int) -> ParticipantInfo:
    nodes = [
        NodeInfo(
            name="edge",
            namespace=f"/robots/robot-{i}",
            publishers=[
                EndpointInfo(f"/robots/robot-{i}/status", "std_msgs/msg/String", "RIHS01_x", QoSProfile())
            ],
        )
        for i in range(n)
    ]
    return ParticipantInfo(gid="g1", host="h", pid=7, nodes=nodes, started_at=1.5)


def test_chunks_stay_under_the_limit_and_merge_back() -> None:
    info = _participant(500)
    chunks = participant_to_json_chunks(info, max_bytes=8 * 1024)
    assert len(chunks) > 5
    assert all(len(chunk) <= 8 * 1024 for chunk in chunks)
    parts = [participant_from_json(chunk) for chunk in chunks]
    assert {p.gid for p in parts} == {"g1"}
    merged = [node.fqn for part in parts for node in part.nodes]
    assert merged == [node.fqn for node in info.nodes]
    assert parts[0].nodes[0].publishers[0].name == "/robots/robot-0/status"


def test_a_participant_without_nodes_still_answers() -> None:
    chunks = participant_to_json_chunks(_participant(0), max_bytes=4096)
    assert len(chunks) == 1
    assert participant_from_json(chunks[0]).nodes == []


def test_troubled_subscriptions_travel_in_their_own_chunk() -> None:
    info = _participant(1)
    info.troubled = [SubscriptionStats("/viewer", "/camera", EntityStats(received=9, dropped=4, malformed=1))]
    back = participant_from_json(troubled_to_json(info))
    assert (back.gid, back.nodes) == ("g1", [])
    assert back.troubled == info.troubled
    assert participant_from_json(participant_to_json_chunks(info, max_bytes=8 * 1024)[0]).troubled == []
