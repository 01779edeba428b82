"""Container process entry: ``python -m robotfleet_nodes.launch._container_main --spec JSON``.

Large specs (hundreds of components) come as ``--spec-z`` (base64 of zlib-compressed JSON).

Starts a :class:`~robotfleet_nodes.node.context.Context` and a
:class:`~robotfleet_nodes.node.container.ComponentContainer`, loads the components the
spec lists (``ComposableNodeContainer`` writes it), and spins until SIGINT/SIGTERM.
Arguments after the spec (``--ros-args ...``) go to the context.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import sys
import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from robotfleet_nodes.node.container import ComponentContainer
from robotfleet_nodes.node.context import Context
from robotfleet_nodes.node.param_files import load_parameter_files
from robotfleet_nodes.node.runner import run_main, serve

__all__ = ["main", "run_container"]

log = logging.getLogger(__name__)


def _fqn(namespace: str, name: str) -> str:
    return f"{namespace.rstrip('/')}/{name}" if namespace else f"/{name}"


async def run_container(spec: dict[str, Any], args: Sequence[str] = ()) -> None:
    """Run the container described by ``spec`` until SIGINT/SIGTERM."""
    async with Context(args=args) as context:
        await serve(context, _loaded(spec, context))


@asynccontextmanager
async def _loaded(spec: dict[str, Any], context: Context) -> AsyncIterator[None]:
    """The container with every component of ``spec`` loaded (the context unloads them)."""
    container = ComponentContainer(
        spec.get("name") or "ComponentManager", context=context, namespace=spec.get("namespace", "")
    )
    await container.start()
    for comp in spec.get("components", []):
        params = dict(comp.get("parameters") or {})
        files = comp.get("params_files") or []
        if files:
            if comp.get("name"):
                file_values = load_parameter_files(files, _fqn(comp.get("namespace", ""), comp["name"]))
                params = {**file_values, **params}
            else:
                log.warning("component %s has parameter files but no name: files ignored", comp["plugin"])
        await container.load(
            comp["plugin"],
            node_name=comp.get("name", ""),
            namespace=comp.get("namespace", ""),
            remap_rules=comp.get("remap_rules", []),
            parameters=params,
        )
    log.info(
        "container %s: %d components loaded", container.get_fully_qualified_name(), len(container.components)
    )
    yield


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m " + __name__)
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--spec", help="JSON container spec")
    given.add_argument("--spec-z", help="base64 of the zlib-compressed JSON spec")
    ns, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] [%(name)s]: %(message)s")
    text = ns.spec if ns.spec is not None else zlib.decompress(base64.b64decode(ns.spec_z)).decode()
    spec = json.loads(text)
    return run_main("container", run_container(spec, rest))


if __name__ == "__main__":
    raise SystemExit(main())
