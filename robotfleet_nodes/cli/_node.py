"""``rfos node list|info``: the nodes in the graph (one graph query, however many nodes)."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from robotfleet_nodes.cli._common import (
    EXIT_OK,
    AsyncVerb,
    call_service,
    fastdds_participant,
    find_node,
    is_hidden,
    open_bus,
    query_graph,
    sub_parser,
)
from robotfleet_nodes.cli._verb import expose_verb
from robotfleet_nodes.errors import RobotFleetError

if TYPE_CHECKING:
    from robotfleet_nodes.transport import EndpointInfo, NodeInfo, Transport

__all__ = ["NodeVerb", "node_parameter_names"]

log = logging.getLogger(__name__)

_LIST_EXAMPLES = (
    "examples:\n  rfos node list\n  rfos node list -c      # just the count\n"
    "  rfos node list --transport dds   # ROS 2 nodes on the robot's DDS bus (ROS_DOMAIN_ID)\n"
)
_INFO_EXAMPLES = "examples:\n  rfos node info /talker\n  rfos node info /robots/robot-1/edge --no-params\n"


@expose_verb("node")
class NodeVerb(AsyncVerb):
    """``rfos node``: list nodes, show one node's endpoints and parameters."""

    help = "list nodes and show what a node publishes, subscribes, serves and calls"
    epilog = _LIST_EXAMPLES + _INFO_EXAMPLES.removeprefix("examples:\n")

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        p = sub_parser(sub, "list", "list the nodes in the graph", _LIST_EXAMPLES)
        p.add_argument("-c", "--count-nodes", action="store_true", help="print only the number of nodes")
        p.add_argument("-a", "--all", action="store_true", help="also hidden nodes (names starting with _)")
        p = sub_parser(
            sub, "info", "a node's publishers, subscribers, services, actions, parameters", _INFO_EXAMPLES
        )
        p.add_argument("name", help="fully qualified node name (or a unique plain name)")
        p.add_argument("--no-params", action="store_true", help="do not ask the node for its parameters")
        p.add_argument("-a", "--include-hidden", action="store_true", help="also _action/... endpoints")

    async def arun(self, args: argparse.Namespace) -> int:
        async with open_bus(args) as transport:
            graph = await query_graph(transport, args)
            if args.action == "list":
                names = sorted(n for n in graph.nodes if args.all or not is_hidden(n))
                if args.count_nodes:
                    print(len(names))
                else:
                    print("\n".join(names)) if names else None
                return EXIT_OK
            node = find_node(graph, args.name)
            params: list[str] | None = None
            if not args.no_params and not fastdds_participant(transport, graph.owners.get(node.fqn, "")):
                params = await node_parameter_names(transport, node)
            _print_info(node, params, hidden=args.include_hidden)
            return EXIT_OK


async def node_parameter_names(transport: Transport, node: NodeInfo) -> list[str] | None:
    """Names of ``node``'s parameters via its ``list_parameters`` service; None without one."""
    service = f"{node.fqn}/list_parameters"
    if not any(s.name == service for s in node.services):
        return None
    try:
        response = await call_service(
            transport, service, "rcl_interfaces/srv/ListParameters", "{}", timeout=3.0
        )
    except RobotFleetError as exc:
        log.info("%s: %s", service, exc)
        return None
    return sorted(response.result.names)


def _section(title: str, endpoints: list[EndpointInfo], hidden: bool) -> None:
    print(f"  {title}:")
    for ep in sorted(endpoints, key=lambda e: e.name):
        if hidden or not _is_hidden_endpoint(ep.name):
            print(f"    {ep.name}: {ep.type_name}")


def _is_hidden_endpoint(name: str) -> bool:
    return "/_action/" in name or name.rsplit("/", 1)[-1].startswith("_")


def _actions(endpoints: list[EndpointInfo]) -> list[tuple[str, str]]:
    suffix = "/_action/send_goal"
    return sorted(
        (ep.name.removesuffix(suffix), ep.type_name.removesuffix("_SendGoal"))
        for ep in endpoints
        if ep.name.endswith(suffix)
    )


def _print_info(node: NodeInfo, params: list[str] | None, *, hidden: bool) -> None:
    print(node.fqn)
    _section("Subscribers", node.subscriptions, hidden)
    _section("Publishers", node.publishers, hidden)
    _section("Service Servers", node.services, hidden)
    _section("Service Clients", node.clients, hidden)
    for title, endpoints in (("Action Servers", node.services), ("Action Clients", node.clients)):
        print(f"  {title}:")
        for name, type_name in _actions(endpoints):
            print(f"    {name}: {type_name}")
    if params is not None:
        print("  Parameters:")
        for name in params:
            print(f"    {name}")
