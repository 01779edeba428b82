"""``rfos lifecycle nodes|list|get|set``: managed nodes via lifecycle_msgs' services."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.cli._common import (
    EXIT_FAILURE,
    EXIT_OK,
    AsyncVerb,
    CliError,
    Graph,
    call_service,
    connect,
    expand,
    interface,
    not_found,
    query_graph,
    sub_parser,
)
from robotfleet_nodes.cli._verb import expose_verb

if TYPE_CHECKING:
    from robotfleet_nodes.transport.nats import NatsTransport

__all__ = ["LifecycleVerb"]

log = logging.getLogger(__name__)

_EXAMPLES = {
    "nodes": "  rfos lifecycle nodes",
    "list": "  rfos lifecycle list /camera",
    "get": "  rfos lifecycle get /camera",
    "set": "  rfos lifecycle set /camera configure\n  rfos lifecycle set /camera 3     # activate, by id",
}


@expose_verb("lifecycle")
class LifecycleVerb(AsyncVerb):
    """``rfos lifecycle``: inspect and drive managed nodes."""

    help = "list managed nodes, their state and transitions; trigger a transition"
    epilog = "examples:\n" + "\n".join(_EXAMPLES.values()) + "\n"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

        def ex(name: str) -> str:
            return "examples:\n" + _EXAMPLES[name] + "\n"

        sub_parser(sub, "nodes", "list the managed (lifecycle) nodes", ex("nodes"))
        p = sub_parser(sub, "list", "transitions available from a node's current state", ex("list"))
        p.add_argument("node")
        p.add_argument("-a", "--all", action="store_true", help="every transition of the state machine")
        p = sub_parser(sub, "get", "a node's current state", ex("get"))
        p.add_argument("node")
        p = sub_parser(sub, "set", "trigger a transition (label or id)", ex("set"))
        p.add_argument("node")
        p.add_argument("transition")

    async def arun(self, args: argparse.Namespace) -> int:
        async with connect(args) as transport:
            graph = await query_graph(transport, args)
            managed = _managed(graph)
            if args.action == "nodes":
                for name in managed:
                    print(name)
                return EXIT_OK
            node = expand(args.node)
            if node not in managed:
                raise not_found("lifecycle node", node, managed)
            if args.action == "get":
                state = (await _call(transport, node, "get_state")).current_state
                print(f"{state.label} [{state.id}]")
                return EXIT_OK
            transitions = await _transitions(transport, node, every=getattr(args, "all", False))
            if args.action == "list":
                for t in transitions:
                    print(f"- {t.transition.label} [{t.transition.id}]")
                    print(f"\tStart: {t.start_state.label}")
                    print(f"\tGoal: {t.goal_state.label}")
                return EXIT_OK
            return await _set(transport, node, args.transition, transitions)


def _managed(graph: Graph) -> list[str]:
    return sorted(
        fqn
        for fqn, node in graph.nodes.items()
        if any(
            s.name == f"{fqn}/get_state" and s.type_name == "lifecycle_msgs/srv/GetState"
            for s in node.services
        )
    )


_TYPES = {
    "get_state": "lifecycle_msgs/srv/GetState",
    "get_available_transitions": "lifecycle_msgs/srv/GetAvailableTransitions",
    "get_transition_graph": "lifecycle_msgs/srv/GetAvailableTransitions",
    "change_state": "lifecycle_msgs/srv/ChangeState",
}


async def _call(transport: NatsTransport, node: str, service: str, **request: Any) -> Any:
    cls = interface(_TYPES[service])
    return await call_service(transport, f"{node}/{service}", cls, cls.Request(**request), timeout=10.0)


async def _transitions(transport: NatsTransport, node: str, *, every: bool) -> list[Any]:
    service = "get_transition_graph" if every else "get_available_transitions"
    return list((await _call(transport, node, service)).available_transitions)


async def _set(transport: NatsTransport, node: str, wanted: str, transitions: list[Any]) -> int:
    chosen = None
    for t in transitions:
        if wanted in (t.transition.label, str(t.transition.id)):
            chosen = t.transition
            break
    if chosen is None:
        choices = ", ".join(f"{t.transition.label} [{t.transition.id}]" for t in transitions) or "none"
        raise CliError(f"unknown transition {wanted!r} for {node} in its current state; available: {choices}")
    transition_cls = interface("lifecycle_msgs/msg/Transition")
    response = await _call(
        transport, node, "change_state", transition=transition_cls(id=chosen.id, label=chosen.label)
    )
    if response.success:
        print("Transitioning successful")
        return EXIT_OK
    print("Transitioning failed")
    return EXIT_FAILURE
