"""The permission tables, table-driven: each identity gets exactly its own subjects."""

from __future__ import annotations

import json

import pytest

from robotfleet_nodes.launch._loop import split_chunks as launch_split_chunks
from robotfleet_nodes.security.identities import split_chunks
from robotfleet_nodes.security.permissions import PermissionTables
from robotfleet_nodes.security.topology import Topology

TOPOLOGY = Topology(
    zone_robots={"zone-1": ["robot-1", "robot-2"], "zone-2": ["robot-3"], "zone-3": ["robot-4"]},
    area_zones={"area-1": ["zone-1", "zone-2"], "area-2": ["zone-3"]},
)
T = PermissionTables(TOPOLOGY)


def _text(perms: object) -> str:
    return json.dumps(perms.claims())  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("perms", "present", "absent"),
    [
        (
            T.robot("robot-1"),
            [
                "rfos.0.t.robots.robot-1.>",
                "rfos.0.t.zones.zone-1.leases",
                "_INBOX.robot-1.>",
                '"$KV.RFOS_rfos_0_FACTSHEETS.robot-1"',  # its own factsheet, that key only
            ],
            ["robot-2", "$KV.RFOS_rfos_0_ORDERS", "FACTSHEETS.>", "STREAM.UPDATE", "_INBOX.>", "rfos.0.w."],
        ),
        (
            T.zone("zone-1"),
            ["robot-1.*._action.send_goal", "robot-2.journal", "rfos.0.t.areas.area-1.leases"],
            ["robot-3", "robot-4", "zone-2", "$KV", "STREAM.DELETE", "STREAM.UPDATE"],
        ),
        (
            T.area("area-1"),
            ["rfos.0.s.zones.zone-2.assign", "rfos.0.s.robots.robot-3.journal"],
            ["zone-3", "robot-4", "$KV", "STREAM.CREATE"],
        ),
        (T.fleet(), ["$JS.API.>", "$KV.RFOS_rfos_0_ORDERS.>", "rfos.0.w.>"], ["_INBOX.>"]),
        (T.viewer(), ["rfos.0.t.>", "rfos.0.g.>", "> *"], ['rosout"]}, "resp', "$JS", "rfos.0.s."]),
        (
            T.robots_container("robots-1-2", ["robot-1", "robot-2"]),
            ["robot-1.>", "robot-2.>", "_INBOX.robots-1-2.>"],
            ["robot-3", "_INBOX.robot-1."],
        ),
    ],
    ids=["robot", "zone", "area", "fleet", "viewer", "container"],
)
def test_table(perms: object, present: list[str], absent: list[str]) -> None:
    text = _text(perms)
    for subject in present:
        assert subject in text
    for subject in absent:
        assert subject not in text


def test_viewer_publishes_only_graph_queries() -> None:
    claims = T.viewer().claims()
    assert claims["pub"]["allow"] == ["rfos.0.g.>"]
    assert claims["sub"]["deny"] == ["> *"]  # no queue group anywhere


def test_operator_is_unrestricted() -> None:
    assert T.operator().claims() == {}


def test_everyone_has_graph_rosout_parameter_events() -> None:
    for perms in (T.robot("robot-3"), T.zone("zone-3"), T.area("area-2"), T.fleet(), T.user_node("cam")):
        claims = perms.claims()
        for subject in ("rfos.0.g.>", "rfos.0.t.rosout", "rfos.0.t.parameter_events"):
            assert subject in claims["pub"]["allow"] and subject in claims["sub"]["allow"]
        assert claims["resp"]["max"] == -1


def test_user_node_maps_ros_names() -> None:
    claims = T.user_node(
        "cam", publish=["/camera/image"], subscribe=["/robots/robot-1/status"], call=["/fleet/get"]
    ).claims()
    assert "rfos.0.t.camera.image" in claims["pub"]["allow"]
    assert "rfos.0.s.fleet.get" in claims["pub"]["allow"]
    assert "rfos.0.t.robots.robot-1.status" in claims["sub"]["allow"]
    assert "rfos.0.p.cam._parameters.>" in claims["sub"]["allow"]


def test_other_root_and_domain() -> None:
    tables = PermissionTables(
        Topology(zone_robots={"z": ["r"]}, area_zones={"a": ["z"]}, root="site.rf", domain="7")
    )
    text = _text(tables.zone("z"))
    assert "site.rf.7.t.robots.r.>" in text and "RFOS_site_rf_7_LATCHED" in text


@pytest.mark.parametrize(("n", "k"), [(1000, 4), (20, 4), (3, 4), (10, 3), (1, 1)])
def test_container_chunks_match_the_launch_file(n: int, k: int) -> None:
    assert split_chunks(1, n, k) == launch_split_chunks(1, n, k)


@pytest.mark.parametrize(
    "name",
    ["/camera/image", "/robots/robot-1/status", "/fib/_action/send_goal", "/a/b_c-d/e", "/x/_action/other"],
)
@pytest.mark.parametrize(("root", "domain"), [("rfos", "0"), ("site-a.rfos", "12")])
def test_subjects_agree_with_the_transports_mapper(name: str, root: str, domain: str) -> None:
    """security/ cannot import the transport (it sits below it): its copy of the layout must agree."""
    from robotfleet_nodes.security._subjects import Subjects
    from robotfleet_nodes.transport.nats._subjects import SubjectMapper

    ours, theirs = Subjects(root, domain), SubjectMapper(root=root, domain=domain)
    assert ours.topic(name) == theirs.topic(name)
    assert ours.service(name) == theirs.service(name)
    assert ours.robot_scope("robot-7") == theirs.robot_scope("robot-7")
    assert ours.work("orders", ">") == theirs.work_wildcard("orders")
    assert ours.parameters("/ns/node") == theirs.parameters("/ns/node", "x").rpartition(".")[0] + ".>"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, ("rfos", "0")), ({"RFOS_SUBJECT_ROOT": "site.rf", "ROS_DOMAIN_ID": "07"}, ("site.rf", "7"))],
)
def test_root_and_domain_from_env_as_the_mapper(environ: dict[str, str], expected: tuple[str, str]) -> None:
    from robotfleet_nodes.security._subjects import root_and_domain_from_env
    from robotfleet_nodes.transport.nats._subjects import SubjectMapper

    mapper = SubjectMapper(environ=environ)
    assert root_and_domain_from_env(environ) == expected == (mapper.root, mapper.domain)
