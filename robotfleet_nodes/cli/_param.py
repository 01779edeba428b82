"""``rfos param list|get|set|describe|dump|load``: node parameters via rcl_interfaces' services."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.cli._common import (
    EXIT_FAILURE,
    EXIT_OK,
    AsyncVerb,
    CliError,
    call_service,
    connect,
    find_node,
    interface,
    query_graph,
    sub_parser,
)
from robotfleet_nodes.cli._verb import expose_verb
from robotfleet_nodes.errors import RobotFleetError
from robotfleet_nodes.node.param_files import dump_parameters, load_parameter_file, parse_parameter_value
from robotfleet_nodes.node.parameters import Parameter, from_parameter_value

if TYPE_CHECKING:
    from robotfleet_nodes.transport import NodeInfo
    from robotfleet_nodes.transport.nats import NatsTransport

__all__ = ["ParamVerb"]

log = logging.getLogger(__name__)

_EXAMPLES = {
    "list": "  rfos param list\n  rfos param list /talker",
    "get": "  rfos param get /talker rate",
    "set": "  rfos param set /talker rate 2.5\n  rfos param set /talker names '[a, b]'",
    "describe": "  rfos param describe /talker rate",
    "dump": "  rfos param dump /talker > talker.yaml",
    "load": "  rfos param load /talker talker.yaml",
}

_TYPE_WORDS = {
    1: "Boolean",
    2: "Integer",
    3: "Double",
    4: "String",
    5: "Byte array",
    6: "Boolean array",
    7: "Integer array",
    8: "Double array",
    9: "String array",
}
_TYPE_NAMES = {
    0: "not set",
    1: "boolean",
    2: "integer",
    3: "double",
    4: "string",
    5: "byte array",
    6: "boolean array",
    7: "integer array",
    8: "double array",
    9: "string array",
}


@expose_verb("param")
class ParamVerb(AsyncVerb):
    """``rfos param``: read and change node parameters remotely."""

    help = "list, get, set, describe, dump and load node parameters"
    epilog = "examples:\n" + "\n".join(_EXAMPLES.values()) + "\n"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

        def ex(name: str) -> str:
            return "examples:\n" + _EXAMPLES[name] + "\n"

        p = sub_parser(sub, "list", "parameter names of one node or of every node", ex("list"))
        p.add_argument("node", nargs="?", default=None)
        p.add_argument("--param-type", action="store_true", help="also print each parameter's type")
        p = sub_parser(sub, "get", "a parameter's value", ex("get"))
        p.add_argument("node")
        p.add_argument("name")
        p.add_argument("--hide-type", action="store_true", help="print only the value")
        p = sub_parser(sub, "set", "set a parameter (VALUE is YAML: 1, 2.5, true, '[a, b]')", ex("set"))
        p.add_argument("node")
        p.add_argument("name")
        p.add_argument("value")
        p = sub_parser(sub, "describe", "a parameter's descriptor", ex("describe"))
        p.add_argument("node")
        p.add_argument("names", nargs="+", metavar="name")
        p = sub_parser(sub, "dump", "every parameter of a node as a ROS 2 parameter file", ex("dump"))
        p.add_argument("node")
        p = sub_parser(sub, "load", "set a node's parameters from a ROS 2 parameter file", ex("load"))
        p.add_argument("node")
        p.add_argument("file")
        p.add_argument("--timeout", type=float, default=5.0, help=argparse.SUPPRESS)

    async def arun(self, args: argparse.Namespace) -> int:
        async with connect(args) as transport:
            graph = await query_graph(transport, args)
            if args.action == "list" and args.node is None:
                nodes = [n for fqn, n in sorted(graph.nodes.items()) if _has_params(n)]
                results = await asyncio.gather(*(_list(transport, n) for n in nodes), return_exceptions=True)
                for node, names in zip(nodes, results, strict=True):
                    print(f"{node.fqn}:")
                    if isinstance(names, BaseException):
                        print(f"  (no answer: {names})")
                        continue
                    for name in names:
                        print(f"  {name}")
                return EXIT_OK
            node = find_node(graph, args.node)
            if not _has_params(node):
                raise CliError(f"node {node.fqn} offers no parameter services")
            handler = getattr(self, "_" + args.action)
            code: int = await handler(transport, node, args)
            return code

    async def _list(self, transport: NatsTransport, node: NodeInfo, args: argparse.Namespace) -> int:
        names = await _list(transport, node)
        types: list[int] = []
        if args.param_type and names:
            response = await _call(transport, node, "get_parameter_types", {"names": names})
            types = list(response.types)
        for i, name in enumerate(names):
            suffix = f" (type: {_TYPE_NAMES.get(types[i], '?')})" if types else ""
            print(f"  {name}{suffix}")
        return EXIT_OK

    async def _get(self, transport: NatsTransport, node: NodeInfo, args: argparse.Namespace) -> int:
        value_type, value = await _get(transport, node, args.name)
        if value_type == 0:
            raise CliError(f"parameter {args.name} is not set on {node.fqn}")
        if args.hide_type:
            print(value)
        else:
            print(f"{_TYPE_WORDS.get(value_type, 'Unknown')} value is: {value}")
        return EXIT_OK

    async def _set(self, transport: NatsTransport, node: NodeInfo, args: argparse.Namespace) -> int:
        value = parse_parameter_value(args.value, where=f"value of {args.name}")
        ok = await _set(transport, node, {args.name: value})
        reason = ok[args.name]
        if reason is None:
            print("Set parameter successful")
            return EXIT_OK
        print(f"Setting parameter failed: {reason}")
        return EXIT_FAILURE

    async def _describe(self, transport: NatsTransport, node: NodeInfo, args: argparse.Namespace) -> int:
        response = await _call(transport, node, "describe_parameters", {"names": args.names})
        for d in response.descriptors:
            print(f"Parameter name: {d.name}")
            print(f"  Type: {_TYPE_NAMES.get(d.type, '?')}")
            if d.description:
                print(f"  Description: {d.description}")
            if d.additional_constraints or d.read_only or d.integer_range or d.floating_point_range:
                print("  Constraints:")
                if d.read_only:
                    print("    Read only: true")
                if d.dynamic_typing:
                    print("    Dynamic typing: true")
                for r in list(d.integer_range) + list(d.floating_point_range):
                    print(f"    Min value: {r.from_value}")
                    print(f"    Max value: {r.to_value}")
                    if r.step:
                        print(f"    Step: {r.step}")
                if d.additional_constraints:
                    print(f"    {d.additional_constraints}")
        return EXIT_OK

    async def _dump(self, transport: NatsTransport, node: NodeInfo, args: argparse.Namespace) -> int:
        names = await _list(transport, node)
        values: dict[str, Any] = {}
        if names:
            response = await _call(transport, node, "get_parameters", {"names": names})
            for name, msg in zip(names, response.values, strict=True):
                value_type, value = from_parameter_value(msg)
                if value_type != 0:
                    values[name] = value
        print(dump_parameters(node.fqn, values), end="")
        return EXIT_OK

    async def _load(self, transport: NatsTransport, node: NodeInfo, args: argparse.Namespace) -> int:
        try:
            values = load_parameter_file(args.file, node.fqn)
        except OSError as exc:
            raise CliError(f"cannot read {args.file}: {exc.strerror or exc}") from None
        if not values:
            raise CliError(f"{args.file} has no parameters for {node.fqn}")
        results = await _set(transport, node, values)
        failed = 0
        for name, reason in results.items():
            if reason is None:
                print(f"Set parameter {name} successful")
            else:
                failed += 1
                print(f"Set parameter {name} failed: {reason}")
        return EXIT_FAILURE if failed else EXIT_OK


def _has_params(node: NodeInfo) -> bool:
    return any(s.name == f"{node.fqn}/list_parameters" for s in node.services)


_SERVICE_TYPES = {
    "describe_parameters": "rcl_interfaces/srv/DescribeParameters",
    "get_parameters": "rcl_interfaces/srv/GetParameters",
    "get_parameter_types": "rcl_interfaces/srv/GetParameterTypes",
    "list_parameters": "rcl_interfaces/srv/ListParameters",
    "set_parameters": "rcl_interfaces/srv/SetParameters",
}


async def _call(transport: NatsTransport, node: NodeInfo, service: str, request: dict[str, Any]) -> Any:
    cls = interface(_SERVICE_TYPES[service])
    return await call_service(transport, f"{node.fqn}/{service}", cls, cls.Request(**request), timeout=5.0)


async def _list(transport: NatsTransport, node: NodeInfo) -> list[str]:
    response = await _call(transport, node, "list_parameters", {})
    return sorted(response.result.names)


async def _get(transport: NatsTransport, node: NodeInfo, name: str) -> tuple[int, Any]:
    response = await _call(transport, node, "get_parameters", {"names": [name]})
    if not response.values:
        raise CliError(f"node {node.fqn} returned no value for {name}")
    value_type, value = from_parameter_value(response.values[0])
    if value_type == 0:
        names = await _list(transport, node)
        if name not in names:
            from robotfleet_nodes.cli._common import not_found

            raise not_found("parameter", name, names)
    return int(value_type), value


async def _set(transport: NatsTransport, node: NodeInfo, values: dict[str, Any]) -> dict[str, str | None]:
    """Set ``values``; name -> None when set, else the node's reason."""
    try:
        params = [Parameter(name, value=value).to_parameter_msg() for name, value in values.items()]
    except RobotFleetError as exc:
        raise CliError(str(exc)) from None
    response = await _call(transport, node, "set_parameters", {"parameters": params})
    out: dict[str, str | None] = {}
    for name, result in zip(values, response.results, strict=True):
        out[name] = None if result.successful else (result.reason or "rejected")
    return out
