"""Node parameters: declaration, overrides, validation, events and the remote services."""

from __future__ import annotations

import array
import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from robotfleet_nodes.errors import ParameterError
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.node import Node
from robotfleet_nodes.node.parameters import (
    InvalidParameterTypeError,
    InvalidParameterValueError,
    Parameter,
    ParameterAlreadyDeclaredError,
    ParameterImmutableError,
    ParameterNotDeclaredError,
    ParameterStore,
    ParameterUninitializedError,
    interface_class,
)
from robotfleet_nodes.transport.intra import IntraProcessTransport
from robotfleet_nodes.transport.nats import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper

T = Parameter.Type
TIMEOUT = 5.0


# Node carries the parameters part itself; the alias keeps the tests' vocabulary.
ParamNode = Node


def descriptor(**fields: Any) -> Any:
    return interface_class("rcl_interfaces/msg/ParameterDescriptor")(**fields)


def srv(name: str) -> Any:
    return interface_class(f"rcl_interfaces/srv/{name}")


@contextlib.asynccontextmanager
async def nats_context(url: str, root: str) -> AsyncIterator[Context]:
    """A context on its own NATS connection under the subject root ``root``."""
    transport = NatsTransport(url, mapper=SubjectMapper(root=root))
    try:
        async with Context(transport=transport) as context:
            yield context
    finally:
        await transport.close()  # a context closes only the transports it made itself


@contextlib.asynccontextmanager
async def intra_context(args: Sequence[str] | None = None) -> AsyncIterator[Context]:
    transport = IntraProcessTransport(inner=None)
    try:
        async with Context(transport=transport, args=args) as context:
            yield context
    finally:
        await transport.close()


@pytest.fixture
async def ctx() -> AsyncIterator[Context]:
    async with intra_context() as context:
        yield context


@pytest.fixture
def store() -> ParameterStore:
    return ParameterStore("/ns/node")


# -- local API ---------------------------------------------------------------------------
def test_declare_infers_types_and_get_returns_values(store: ParameterStore) -> None:
    cases: list[tuple[Any, Parameter.Type]] = [
        (True, T.BOOL),
        (3, T.INTEGER),
        (2.5, T.DOUBLE),
        ("x", T.STRING),
        (b"\x01\x02", T.BYTE_ARRAY),
        ([True, False], T.BOOL_ARRAY),
        ([1, 2], T.INTEGER_ARRAY),
        ([1.0], T.DOUBLE_ARRAY),
        (["a", "b"], T.STRING_ARRAY),
    ]
    for i, (value, type_) in enumerate(cases):
        p = store.declare_parameter(f"p{i}", value)
        assert (p.type_, p.value) == (type_, value)
        assert store.get_parameter(f"p{i}") == p
        assert Parameter.from_parameter_msg(p.to_parameter_msg()) == p
    assert store.has_parameter("p0")
    assert not store.has_parameter("nope")
    with pytest.raises(ParameterAlreadyDeclaredError, match="'p0' is already declared"):
        store.declare_parameter("p0", False)


def test_numeric_arrays_of_messages_are_list_values(store: ParameterStore) -> None:
    ranges = store.declare_parameter("ranges", array.array("f", [0.5, 1.5]))
    assert (ranges.type_, ranges.value) == (T.DOUBLE_ARRAY, [0.5, 1.5])
    assert type(ranges.value) is list
    ids = Parameter("ids", value=array.array("q", [1, -2]))
    assert (ids.type_, ids.value) == (T.INTEGER_ARRAY, [1, -2])
    assert Parameter.from_parameter_msg(ids.to_parameter_msg()) == ids  # the message holds an array
    assert T.DOUBLE_ARRAY.check(array.array("d"))
    with pytest.raises(InvalidParameterValueError, match="does not fit in 64 bits"):
        Parameter("big", value=array.array("Q", [2**63]))


def test_wrong_type_is_refused_with_a_clear_reason(store: ParameterStore) -> None:
    store.declare_parameter("rate", 10.0)
    [result] = store.set_parameters([Parameter("rate", value="fast")])
    assert not result.successful
    assert "parameter 'rate' has the wrong type: expected DOUBLE, got STRING" in result.reason
    [result] = store.set_parameters([Parameter("rate", value=10)])  # no silent int -> double
    assert "expected DOUBLE, got INTEGER" in result.reason
    assert store.get_parameter("rate").value == 10.0
    with pytest.raises(InvalidParameterTypeError, match="is not of type DOUBLE"):
        Parameter("x", T.DOUBLE, "s")


def test_dynamic_typing_allows_type_changes_and_unset(store: ParameterStore) -> None:
    store.declare_parameter("any", 1, descriptor(dynamic_typing=True))
    assert store.set_parameters([Parameter("any", value="now a string")])[0].successful
    assert store.get_parameter("any").type_ is T.STRING
    assert store.describe_parameter("any").type == int(T.STRING)
    assert store.set_parameters([Parameter("any", T.NOT_SET)])[0].successful  # unset = undeclare
    assert not store.has_parameter("any")
    store.declare_parameter("static", 1)
    [result] = store.set_parameters([Parameter("static", T.NOT_SET)])
    assert "statically typed" in result.reason


def test_read_only_and_ranges(store: ParameterStore) -> None:
    store.declare_parameter("id", "robot-1", descriptor(read_only=True, description="robot id"))
    [result] = store.set_parameters([Parameter("id", value="robot-2")])
    assert result.reason == "parameter 'id' is read-only"
    with pytest.raises(ParameterImmutableError):
        store.undeclare_parameter("id")
    int_range = interface_class("rcl_interfaces/msg/IntegerRange")(from_value=0, to_value=10, step=2)
    store.declare_parameter("even", 4, descriptor(integer_range=[int_range]))
    assert store.set_parameters([Parameter("even", value=10)])[0].successful
    [result] = store.set_parameters([Parameter("even", value=3)])
    assert "parameter 'even': value 3 is out of range [0, 10] in steps of 2" in result.reason
    fp_range = interface_class("rcl_interfaces/msg/FloatingPointRange")(
        from_value=0.0, to_value=1.0, step=0.0
    )
    store.declare_parameter("ratio", 0.5, descriptor(floating_point_range=[fp_range]))
    assert not store.set_parameters([Parameter("ratio", value=1.5)])[0].successful
    assert store.set_parameters([Parameter("ratio", value=1.0)])[0].successful
    with pytest.raises(InvalidParameterValueError, match="out of range"):
        store.declare_parameter("bad", 11, descriptor(integer_range=[int_range]))
    assert store.describe_parameter("id").description == "robot id"


def test_undeclared_parameters(store: ParameterStore) -> None:
    with pytest.raises(ParameterNotDeclaredError, match="'ghost' is not declared on /ns/node"):
        store.get_parameter("ghost")
    with pytest.raises(ParameterNotDeclaredError):
        store.set_parameters([Parameter("ghost", value=1)])
    result = store.set_parameters_atomically([Parameter("ghost", value=1)])
    assert not result.successful
    assert "not declared" in result.reason
    assert isinstance(ParameterNotDeclaredError("x"), LookupError)
    assert isinstance(ParameterNotDeclaredError("x"), ParameterError)
    loose = ParameterStore("/loose", allow_undeclared_parameters=True)
    assert loose.get_parameter("ghost").type_ is T.NOT_SET
    assert loose.set_parameters([Parameter("ghost", value=1)])[0].successful
    assert loose.set_parameters([Parameter("ghost", value="dynamic")])[0].successful
    assert loose.get_parameter("ghost").value == "dynamic"


def test_validation_callback_rejects_with_its_reason(store: ParameterStore) -> None:
    result_cls = interface_class("rcl_interfaces/msg/SetParametersResult")
    seen: list[list[str]] = []
    post: list[list[str]] = []

    def only_positive(params: list[Parameter]) -> Any:
        seen.append([p.name for p in params])
        if any(isinstance(p.value, float) and p.value <= 0 for p in params):
            return result_cls(successful=False, reason="speed must be positive")
        return result_cls(successful=True)

    store.declare_parameter("speed", 1.0)
    store.add_on_set_parameters_callback(only_positive)
    store.add_post_set_parameters_callback(lambda params: post.append([p.name for p in params]))
    [ok, refused] = store.set_parameters([Parameter("speed", value=2.0), Parameter("speed", value=-1.0)])
    assert ok.successful
    assert refused.reason == "parameter 'speed' rejected by a set-parameters callback: speed must be positive"
    assert store.get_parameter("speed").value == 2.0
    assert post == [["speed"]]
    with pytest.raises(InvalidParameterValueError, match="speed must be positive"):
        store.declare_parameter("other", -3.0)
    assert not store.has_parameter("other")
    store.remove_on_set_parameters_callback(only_positive)
    assert store.set_parameters([Parameter("speed", value=-1.0)])[0].successful


def test_pre_set_callbacks_may_change_what_is_set(store: ParameterStore) -> None:
    """Pre-set callbacks run before validation on set_parameters* (not on declaration), most
    recent first; their lists are concatenated and set atomically; an empty list fails."""
    calls: list[str] = []

    def mirror(params: list[Parameter]) -> list[Parameter]:
        calls.append("mirror")
        return [*params, *(Parameter("mirror", value=p.value) for p in params if p.name == "speed")]

    def keep(params: list[Parameter]) -> list[Parameter]:
        calls.append("keep")
        return []

    store.add_pre_set_parameters_callback(mirror)
    store.declare_parameter("speed", 1.0)
    store.declare_parameter("mirror", 0.0)
    assert calls == []
    assert store.set_parameters([Parameter("speed", value=2.0)])[0].successful
    assert (store.get_parameter("speed").value, store.get_parameter("mirror").value) == (2.0, 2.0)
    refused = store.set_parameters_atomically([Parameter("speed", value="fast")])
    assert not refused.successful
    assert store.get_parameter("mirror").value == 2.0  # all or nothing, the addition included
    store.add_pre_set_parameters_callback(keep)
    calls.clear()
    assert store.set_parameters([Parameter("speed", value=3.0)])[0].successful
    assert calls == ["keep", "mirror"]
    store.remove_pre_set_parameters_callback(mirror)
    empty = store.set_parameters_atomically([Parameter("speed", value=4.0)])
    assert not empty.successful
    assert "parameter list cannot be empty" in empty.reason
    assert store.get_parameter("speed").value == 3.0
    store.remove_pre_set_parameters_callback(keep)
    with pytest.raises(ParameterNotDeclaredError):
        store.set_parameters_atomically([Parameter("ghost", value=1)], raise_undeclared=True)


def test_callbacks_see_unset_parameters_and_post_set_order(store: ParameterStore) -> None:
    result_cls = interface_class("rcl_interfaces/msg/SetParametersResult")
    seen: list[tuple[str, str, Any]] = []
    store.declare_parameter("mode", "auto", descriptor(dynamic_typing=True))
    store.add_on_set_parameters_callback(
        lambda params: seen.extend(("on", p.name, p.type_) for p in params) or result_cls(successful=True)
    )
    store.add_post_set_parameters_callback(lambda params: seen.append(("first", "", None)))
    store.add_post_set_parameters_callback(lambda params: seen.append(("second", "", None)))
    assert store.set_parameters([Parameter("mode")])[0].successful
    assert not store.has_parameter("mode")
    assert seen == [("on", "mode", T.NOT_SET), ("second", "", None), ("first", "", None)]


def test_verbatim_callback_reasons(store: ParameterStore) -> None:
    result_cls = interface_class("rcl_interfaces/msg/SetParametersResult")
    store.declare_parameter("speed", 1.0)
    store.add_on_set_parameters_callback(lambda params: result_cls(successful=False, reason="no"))
    store.verbatim_callback_reasons = True
    assert store.set_parameters([Parameter("speed", value=2.0)])[0].reason == "no"


async def test_events_of_changes_made_on_other_threads_are_published_in_order(ctx: Context) -> None:
    """The store may be changed from threads other than its loop's (rclpy's executors): the
    events still go out, in order, from the loop thread."""
    event_cls = interface_class("rcl_interfaces/msg/ParameterEvent")
    events: asyncio.Queue[Any] = asyncio.Queue()
    watcher = Node("watcher", context=ctx)
    await watcher.start()
    await watcher.create_subscription(event_cls, "/parameter_events", events.put_nowait, 1000)
    node = ParamNode("threaded", context=ctx)
    await node.start()

    def change() -> None:
        node.parameters.declare_parameter("rate", 0)
        for value in range(1, 6):
            node.set_parameters([Parameter("rate", value=value)])

    await asyncio.to_thread(change)
    got = [await asyncio.wait_for(events.get(), TIMEOUT) for _ in range(6)]
    assert [p.value.integer_value for p in got[0].new_parameters] == [0]
    assert [e.changed_parameters[0].value.integer_value for e in got[1:]] == [1, 2, 3, 4, 5]


def test_atomic_set_is_all_or_nothing(store: ParameterStore) -> None:
    store.declare_parameters("gains", [("p", 1.0), ("i", 0.1), ("d", 0.0)])
    result = store.set_parameters_atomically(
        [Parameter("gains.p", value=2.0), Parameter("gains.i", value="x")]
    )
    assert not result.successful
    assert "'gains.i'" in result.reason
    assert store.get_parameter("gains.p").value == 1.0
    assert store.set_parameters_atomically([Parameter("gains.p", value=2.0), Parameter("gains.i", value=0.2)])
    assert {k: p.value for k, p in store.get_parameters_by_prefix("gains").items()} == {
        "p": 2.0,
        "i": 0.2,
        "d": 0.0,
    }


def test_empty_list_defaults_take_their_type_from_override_or_descriptor() -> None:
    store = ParameterStore("/n", overrides={"ids": [1, 2]})
    assert store.declare_parameter("ids", []).type_ is T.INTEGER_ARRAY
    typed = store.declare_parameter("gains", [], descriptor(type=int(T.DOUBLE_ARRAY)))
    assert (typed.type_, typed.value) == (T.DOUBLE_ARRAY, [])
    [result] = store.set_parameters([Parameter("gains", value=["x"])])
    assert "expected DOUBLE_ARRAY, got STRING_ARRAY" in result.reason
    assert store.set_parameters([Parameter("gains", value=[1.5])])[0].successful


def test_uninitialized_typed_parameter_and_get_parameter_or(store: ParameterStore) -> None:
    store.declare_parameter("port", T.INTEGER)
    with pytest.raises(ParameterUninitializedError, match="declared as INTEGER but has no value"):
        store.get_parameter("port")
    assert store.get_parameter_or("port", 80).value == 80
    assert store.set_parameters([Parameter("port", value=8080)])[0].successful
    assert store.get_parameter("port").value == 8080
    assert store.get_parameter_or("missing").type_ is T.NOT_SET


def test_list_parameters_prefixes_and_depth(store: ParameterStore) -> None:
    for name in ("a", "b.c", "b.d.e", "f.g"):
        store.declare_parameter(name, 1)
    everything = store.list_parameters()
    assert (everything.names, everything.prefixes) == (["a", "b.c", "b.d.e", "f.g"], ["b", "b.d", "f"])
    assert store.list_parameters(depth=1).names == ["a"]
    assert store.list_parameters(depth=2).names == ["a", "b.c", "f.g"]
    under_b = store.list_parameters(["b"], depth=1)
    assert (under_b.names, under_b.prefixes) == (["b.c"], ["b"])
    assert store.list_parameters(["b"]).names == ["b.c", "b.d.e"]


# -- overrides ---------------------------------------------------------------------------
async def test_overrides_precedence_params_file_and_cli(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(
        "/**:\n"
        "  ros__parameters:\n"
        "    use_sim_time: true\n"
        "    rate: 1.0\n"
        "    speed: 1.0\n"
        "    limit: 1\n"
        "/robots/robot_1/driver:\n"
        "  ros__parameters:\n"
        "    rate: 5.0\n"
        "    wheel: {radius: 0.1}\n"
        "/other:\n"
        "  ros__parameters: {rate: 99.0}\n",
        encoding="utf-8",
    )
    args = ["--ros-args", "--params-file", str(params), "-p", "speed:=2.0", "-p", "limit:=2"]
    async with intra_context(args) as context:
        node = ParamNode(
            "driver",
            context=context,
            namespace="/robots/robot_1",
            cli_args=["--ros-args", "-p", "limit:=3"],
            parameter_overrides={"limit": 4, "extra": "x"},
        )
        assert node.declare_parameter("use_sim_time", False).value is True  # /** wildcard
        assert node.declare_parameter("rate", 10.0).value == 5.0  # namespaced entry beats /**
        assert node.declare_parameter("wheel.radius", 0.5).value == 0.1  # nested group
        assert node.declare_parameter("speed", 0.0).value == 2.0  # -p beats the file
        assert node.declare_parameter("limit", 0).value == 4  # explicit > node -p > global -p
        assert node.parameters.declare_parameter("untouched", 7, ignore_override=False).value == 7
        assert node.parameters.declare_parameter("extra", "y", ignore_override=True).value == "y"
        with pytest.raises(InvalidParameterTypeError, match="expected INTEGER, got DOUBLE"):
            ParameterStore("/n", overrides={"wrong": 1.5}).declare_parameter("wrong", 0)

        auto = ParamNode(
            "auto",
            context=context,
            parameter_overrides={"x": 1},
            automatically_declare_parameters_from_overrides=True,
        )
        assert set(auto.parameters.get_parameters_by_prefix("")) == {
            "use_sim_time",
            "rate",
            "speed",
            "limit",
            "x",
        }


# -- events and remote access --------------------------------------------------------------
async def test_parameter_events_are_published(ctx: Context) -> None:
    event_cls = interface_class("rcl_interfaces/msg/ParameterEvent")
    events: asyncio.Queue[Any] = asyncio.Queue()
    watcher = Node("watcher", context=ctx)
    await watcher.start()
    await watcher.create_subscription(event_cls, "/parameter_events", events.put_nowait, 1000)
    node = ParamNode("talker", context=ctx, namespace="/ns")
    await node.start()

    def next_event() -> Any:
        return asyncio.wait_for(events.get(), TIMEOUT)

    node.parameters.declare_parameter("rate", 1.0, descriptor(dynamic_typing=True))
    node.set_parameters([Parameter("rate", value=2.0)])
    node.parameters.undeclare_parameter("rate")
    new, changed, deleted = [await next_event() for _ in range(3)]
    assert new.node == "/ns/talker"
    assert [(p.name, p.value.double_value) for p in new.new_parameters] == [("rate", 1.0)]
    assert [(p.name, p.value.double_value) for p in changed.changed_parameters] == [("rate", 2.0)]
    assert [p.name for p in deleted.deleted_parameters] == ["rate"]
    assert changed.stamp.sec > 0


async def _next_change(events: asyncio.Queue[Any]) -> Any:
    """The next event with changed parameters (declarations made just before may come first)."""
    while True:
        event = await asyncio.wait_for(events.get(), TIMEOUT)
        if event.changed_parameters:
            return event


async def _call(client_node: Node, name: str, srv_type: Any, **request: Any) -> Any:
    client = await client_node.create_client(srv_type, name)
    assert await client.wait_for_service(timeout=TIMEOUT)
    return await client.call(srv_type.Request(**request), timeout=TIMEOUT)


async def test_remote_parameter_services_over_nats(nats_url: str, unique: str) -> None:
    async with nats_context(nats_url, unique) as server_ctx, nats_context(nats_url, unique) as client_ctx:
        node = ParamNode("driver", context=server_ctx, namespace="/robots/robot-1")
        await node.start()
        node.declare_parameter("rate", 10.0, descriptor(description="Hz", read_only=False))
        node.declare_parameter("wheel.radius", 0.1)
        node.declare_parameter("name", "r1", descriptor(read_only=True))
        events: asyncio.Queue[Any] = asyncio.Queue()
        tool = Node("param_tool", context=client_ctx)
        await tool.start()
        event_cls = interface_class("rcl_interfaces/msg/ParameterEvent")
        await tool.create_subscription(event_cls, "/parameter_events", events.put_nowait, 1000)
        base = "/robots/robot-1/driver"

        got = await _call(tool, f"{base}/get_parameters", srv("GetParameters"), names=["rate", "nope"])
        assert [(v.type, v.double_value) for v in got.values] == [(int(T.DOUBLE), 10.0), (0, 0.0)]

        value_cls = interface_class("rcl_interfaces/msg/ParameterValue")
        msg_cls = interface_class("rcl_interfaces/msg/Parameter")
        new_rate = msg_cls(name="rate", value=value_cls(type=int(T.DOUBLE), double_value=20.0))
        bad = msg_cls(name="name", value=value_cls(type=int(T.STRING), string_value="r2"))
        set_response = await _call(
            tool, f"{base}/set_parameters", srv("SetParameters"), parameters=[new_rate, bad]
        )
        assert [r.successful for r in set_response.results] == [True, False]
        assert set_response.results[1].reason == "parameter 'name' is read-only"
        assert node.get_parameter("rate").value == 20.0
        event = await _next_change(events)  # the subscriber is remote too
        assert [(p.name, p.value.double_value) for p in event.changed_parameters] == [("rate", 20.0)]
        assert event.node == base

        atomic = await _call(
            tool,
            f"{base}/set_parameters_atomically",
            srv("SetParametersAtomically"),
            parameters=[msg_cls(name="rate", value=value_cls(type=int(T.DOUBLE), double_value=1.0)), bad],
        )
        assert not atomic.result.successful
        assert node.get_parameter("rate").value == 20.0

        listed = await _call(tool, f"{base}/list_parameters", srv("ListParameters"), prefixes=[], depth=0)
        assert sorted(listed.result.names) == ["name", "rate", "wheel.radius"]
        assert listed.result.prefixes == ["wheel"]
        described = await _call(
            tool, f"{base}/describe_parameters", srv("DescribeParameters"), names=["rate"]
        )
        assert [(d.name, d.type, d.description) for d in described.descriptors] == [("rate", 3, "Hz")]
        types = await _call(
            tool, f"{base}/get_parameter_types", srv("GetParameterTypes"), names=["name", "x"]
        )
        assert list(types.types) == [int(T.STRING), int(T.NOT_SET)]


def test_service_definitions_match_ros2() -> None:
    get_parameters = srv("GetParameters")
    assert get_parameters.__ros_type__ == "rcl_interfaces/srv/GetParameters"
    assert list(get_parameters.Request.model_fields) == ["names"]
    assert list(srv("ListParameters").Request.model_fields) == ["prefixes", "depth"]
    assert srv("ListParameters").Request.DEPTH_RECURSIVE == 0
    assert list(srv("GetParameterTypes").Response.model_fields) == ["types"]
    assert list(srv("SetParametersAtomically").Response.model_fields) == ["result"]
    # loading the package directory again is a no-op
    interface_class("rcl_interfaces/srv/GetParameters")
