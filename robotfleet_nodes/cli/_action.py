"""``rfos action list|type|info|send_goal``: actions, derived from their ``_action/`` services."""

from __future__ import annotations

import argparse
import logging
import os
import uuid
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.cli._common import (
    EXIT_FAILURE,
    EXIT_OK,
    AsyncVerb,
    CliError,
    Graph,
    connect,
    dump,
    expand,
    interface,
    message_from_yaml,
    not_found,
    progress,
    query_graph,
    sub_parser,
    to_yaml,
)
from robotfleet_nodes.cli._verb import expose_verb

if TYPE_CHECKING:
    from robotfleet_nodes.transport.nats import NatsTransport

__all__ = ["ActionVerb"]

log = logging.getLogger(__name__)

_EXAMPLES = {
    "list": "  rfos action list -t",
    "type": "  rfos action type /fibonacci",
    "info": "  rfos action info /fibonacci",
    "send_goal": (
        "  rfos action send_goal /fibonacci example_interfaces/action/Fibonacci '{order: 5}'\n"
        "  rfos action send_goal /fibonacci example_interfaces/action/Fibonacci '{order: 5}' --feedback"
    ),
}


def _indent(text: str, by: str = "    ") -> str:
    return "\n".join(by + line for line in text.splitlines())


@expose_verb("action")
class ActionVerb(AsyncVerb):
    """``rfos action``: list actions, show their servers and clients, send goals."""

    help = "list actions and send goals"
    epilog = "examples:\n" + "\n".join(_EXAMPLES.values()) + "\n"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

        def ex(name: str) -> str:
            return "examples:\n" + _EXAMPLES[name] + "\n"

        p = sub_parser(sub, "list", "list the actions in the graph", ex("list"))
        p.add_argument("-t", "--show-types", action="store_true", help="show each action's type")
        p = sub_parser(sub, "type", "the type of an action", ex("type"))
        p.add_argument("name")
        p = sub_parser(sub, "info", "servers and clients of an action", ex("info"))
        p.add_argument("name")
        p = sub_parser(sub, "send_goal", "send a goal and print feedback and result", ex("send_goal"))
        p.add_argument("name")
        p.add_argument("type", help="action type, e.g. example_interfaces/action/Fibonacci")
        p.add_argument("values", nargs="?", default="{}", help="the goal as YAML (default {})")
        p.add_argument("-f", "--feedback", action="store_true", help="print feedback messages")
        p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the server")

    async def arun(self, args: argparse.Namespace) -> int:
        goal: Any = None
        if args.action == "send_goal":
            cls: Any = interface(args.type)
            if not hasattr(cls, "Goal"):
                raise CliError(f"{cls.__ros_type__} is not an action type")
            goal = message_from_yaml(cls.Goal, args.values, what="goal")
        async with connect(args) as transport:
            if args.action == "send_goal":
                return await _send_goal(transport, args, cls, goal)
            graph = await query_graph(transport, args)
            actions = graph.actions()
            if args.action == "list":
                for name, types in actions.items():
                    print(f"{name} [{', '.join(types)}]" if args.show_types else name)
                return EXIT_OK
            name = _known_action(graph, args.name)
            if args.action == "type":
                print("\n".join(actions[name]))
                return EXIT_OK
            servers = graph.servers.get(f"{name}/_action/send_goal", [])
            clients = graph.clients.get(f"{name}/_action/send_goal", [])
            print(f"Action: {name}")
            print(f"Action clients: {len(clients)}")
            for ep in clients:
                print(f"    {ep.node}")
            print(f"Action servers: {len(servers)}")
            for ep in servers:
                print(f"    {ep.node}")
            return EXIT_OK


def _known_action(graph: Graph, name: str) -> str:
    name = expand(name)
    actions = graph.actions()
    if name not in actions:
        raise not_found("action", name, actions)
    return name


async def _send_goal(transport: NatsTransport, args: argparse.Namespace, cls: Any, goal: Any) -> int:
    from robotfleet_nodes.action import ActionClient, GoalStatus
    from robotfleet_nodes.node import Context, Node

    name = expand(args.name)
    async with Context(transport=transport, enable_rosout=False) as context:
        node = Node(
            f"_rfos_action_{os.getpid()}",
            context=context,
            start_parameter_services=False,
            start_parameter_event_publisher=False,
        )
        await node.start()
        client = await ActionClient.create(node, cls, name)
        progress("Waiting for an action server to become available...")
        if not await client.wait_for_server(timeout=args.timeout):
            graph = await query_graph(transport, args)
            if name not in graph.actions():
                raise not_found("action", name, graph.actions())
            raise CliError(f"action server {name} did not answer within {args.timeout:g}s")
        print(f"Sending goal:\n{_indent(to_yaml(dump(goal)))}\n", flush=True)

        def on_feedback(message: Any) -> None:
            print(f"Feedback:\n{_indent(to_yaml(dump(message.feedback)))}\n", flush=True)

        handle = await client.send_goal(
            goal, feedback_callback=on_feedback if args.feedback else None, timeout=args.timeout
        )
        if not handle.accepted:
            print("Goal was rejected.")
            return EXIT_FAILURE
        goal_id = uuid.UUID(bytes=bytes(handle.goal_id.uuid)).hex
        print(f"Goal accepted with ID: {goal_id}\n", flush=True)
        response = await handle.get_result()
        print(f"Result:\n{_indent(to_yaml(dump(response.result)))}\n")
        status = GoalStatus(response.status)
        print(f"Goal finished with status: {status.name}")
        await client.destroy()
        return EXIT_OK if status is GoalStatus.SUCCEEDED else EXIT_FAILURE
