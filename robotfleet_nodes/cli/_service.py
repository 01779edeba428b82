"""``rfos service list|type|call|find``: services, as ``ros2 service`` shows and calls them."""

from __future__ import annotations

import argparse
import logging
import time
from typing import TYPE_CHECKING

from robotfleet_nodes.cli._common import (
    EXIT_OK,
    AsyncVerb,
    CliError,
    Graph,
    call_service,
    dump,
    expand,
    fastdds_participant,
    interface,
    is_dds,
    message_from_yaml,
    not_found,
    open_bus,
    query_graph,
    query_graph_until,
    sub_parser,
    to_yaml,
)
from robotfleet_nodes.cli._verb import expose_verb
from robotfleet_nodes.errors import ServiceUnavailable
from robotfleet_nodes.idl import default_registry

if TYPE_CHECKING:
    from robotfleet_nodes.transport import Transport

__all__ = ["ServiceVerb"]

log = logging.getLogger(__name__)

_EXAMPLES = {
    "list": "  rfos service list -t",
    "type": "  rfos service type /add_two_ints",
    "call": (
        "  rfos service call /add_two_ints example_interfaces/srv/AddTwoInts '{a: 40, b: 2}'\n"
        "  rfos service call /add_two_ints example_interfaces/srv/AddTwoInts '{a: 1, b: 2}' --transport dds"
    ),
    "find": "  rfos service find example_interfaces/srv/AddTwoInts",
}


@expose_verb("service")
class ServiceVerb(AsyncVerb):
    """``rfos service``: list, type, find and call services."""

    help = "list, inspect and call services"
    epilog = "examples:\n" + "\n".join(_EXAMPLES.values()) + "\n"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

        def ex(name: str) -> str:
            return "examples:\n" + _EXAMPLES[name] + "\n"

        p = sub_parser(sub, "list", "list the services in the graph", ex("list"))
        p.add_argument("-t", "--show-types", action="store_true", help="show each service's type")
        p.add_argument("-a", "--include-hidden", action="store_true", help="also _action/... services")
        p = sub_parser(sub, "type", "the type of a service", ex("type"))
        p.add_argument("name")
        p = sub_parser(sub, "find", "services of a given type", ex("find"))
        p.add_argument("type")
        p = sub_parser(sub, "call", "call a service and print the response as YAML", ex("call"))
        p.add_argument("name")
        p.add_argument("type", help="service type, e.g. example_interfaces/srv/AddTwoInts")
        p.add_argument("values", nargs="?", default="{}", help="the request as YAML (default {})")
        p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait (default %(default)s)")

    async def arun(self, args: argparse.Namespace) -> int:
        if args.action == "call":  # validate the request before connecting
            cls = interface(args.type)
            request = message_from_yaml(getattr(cls, "Request", cls), args.values, what="request")
        async with open_bus(args) as transport:
            if args.action == "call":
                if is_dds(transport):
                    await _refuse_fastdds_servers(transport, args, expand(args.name))
                print(f"requester: making request: {to_yaml(dump(request)).replace(chr(10), ', ')}\n")
                start = time.perf_counter()
                try:
                    response = await call_service(
                        transport, expand(args.name), cls, request, timeout=args.timeout
                    )
                except ServiceUnavailable:
                    graph = await query_graph(transport, args)
                    raise not_found("service", expand(args.name), graph.services()) from None
                elapsed = time.perf_counter() - start
                print("response:")
                print(to_yaml(dump(response)))
                log.debug("call took %.3f ms", elapsed * 1000)
                return EXIT_OK
            graph = await query_graph(transport, args)
            if args.action == "list":
                for name, types in graph.services(hidden=args.include_hidden).items():
                    print(f"{name} [{', '.join(types)}]" if args.show_types else name)
            elif args.action == "type":
                print("\n".join(graph.services(hidden=True)[_known_service(graph, args.name)]))
            else:
                wanted = default_registry().get_spec(args.type).full_name
                for name, types in graph.services(hidden=True).items():
                    if wanted in types:
                        print(name)
            return EXIT_OK


async def _refuse_fastdds_servers(transport: Transport, args: argparse.Namespace, name: str) -> None:
    """On DDS: never send a request a Fast DDS server would receive (it cannot parse it)."""
    graph = await query_graph_until(transport, args, lambda g: name in g.servers)
    foreign = [e.node for e in graph.servers.get(name, []) if fastdds_participant(transport, e.participant)]
    if foreign:
        raise CliError(
            f"service {name} is served by {', '.join(sorted(set(foreign)))} on Fast DDS: ROS 2 has no "
            "service calls between DDS vendors (ros2/rmw_cyclonedds#184); call it with `ros2 service "
            "call` on the robot, or run that node with RMW_IMPLEMENTATION=rmw_cyclonedds_cpp"
        )


def _known_service(graph: Graph, name: str) -> str:
    name = expand(name)
    if name not in graph.services(hidden=True):
        raise not_found("service", name, graph.services())
    return name
