"""``rfos interface list|show|proto|stubs``: the message, service and action types known here."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import yaml

from robotfleet_nodes.cli._verb import Verb, expose_verb
from robotfleet_nodes.errors import InterfaceError
from robotfleet_nodes.idl import (
    ActionSpec,
    MessageSpec,
    ServiceSpec,
    default_registry,
    package_dependencies,
    write_stubs,
)
from robotfleet_nodes.idl.codec import type_hash_of

_KIND_TITLES = {"msg": "Messages", "srv": "Services", "action": "Actions"}


@expose_verb("interface")
class InterfaceVerb(Verb):
    help = "list and show message, service and action types"
    epilog = """examples:
  rfos interface list                 # every type: standard ones and this package's
  rfos interface list -m              # messages only
  rfos interface show std_msgs/msg/String
  rfos interface show geometry_msgs/msg/PoseStamped --all   # with nested definitions
  rfos interface proto geometry_msgs/msg/Pose               # a YAML template to edit
  rfos interface stubs ./my_robot_msgs --with-deps --out typings   # .pyi stubs for mypy
"""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        lst = sub.add_parser("list", help="list known types")
        only = lst.add_mutually_exclusive_group()
        only.add_argument("-m", "--only-msgs", dest="kind", action="store_const", const="msg")
        only.add_argument("-s", "--only-srvs", dest="kind", action="store_const", const="srv")
        only.add_argument("-a", "--only-actions", dest="kind", action="store_const", const="action")
        show = sub.add_parser(
            "show",
            help="print a type's definition and its RIHS01 type hash (and each part's, for srv/action)",
        )
        show.add_argument("type", help="e.g. std_msgs/msg/String (std_msgs/String also works)")
        show.add_argument("--all", action="store_true", help="also print every nested type's definition")
        proto = sub.add_parser("proto", help="print a YAML prototype of a message with its defaults")
        proto.add_argument("type")
        stubs = sub.add_parser(
            "stubs",
            help="write .pyi type stubs of interface packages, so mypy sees their fields",
            description="Write <out>/<package>/{msg,srv,action}/__init__.pyi for each package; "
            "add <out> to mypy's mypy_path.",
        )
        stubs.add_argument(
            "packages",
            nargs="+",
            metavar="PACKAGE_OR_DIR",
            help="a known package name (std_msgs) or a package directory holding msg/ srv/ action/",
        )
        stubs.add_argument("--out", required=True, help="directory the package stub trees are written to")
        stubs.add_argument(
            "--with-deps", action="store_true", help="also write every package their types refer to"
        )

    def run(self, args: argparse.Namespace) -> int:
        if args.action == "list":
            return self._list(args.kind)
        if args.action == "show":
            return self._show(args.type, nested=args.all)
        if args.action == "proto":
            return self._proto(args.type)
        return self._stubs(args.packages, Path(args.out), with_deps=args.with_deps)

    def _list(self, kind: str | None) -> int:
        registry = default_registry()
        for k, title in _KIND_TITLES.items():
            if kind not in (None, k):
                continue
            print(f"{title}:")
            for name in registry.names(k):
                print(f"    {name}")
        return 0

    def _show(self, name: str, *, nested: bool) -> int:
        registry = default_registry()
        spec = registry.get_spec(name)
        print(f"# {spec.full_name}")
        print(f"# type hash: {_hash_of(spec)}")
        for part, part_hash in _part_hashes(spec):
            print(f"#   {part}: {part_hash}")
        print(spec.text.rstrip("\n") if spec.text else "")
        if nested:
            for dep in _nested_names(spec, registry.message_spec):
                print("=" * 80)
                print(f"MSG: {dep}")
                print(registry.message_spec(dep).text.rstrip("\n"))
        return 0

    def _proto(self, name: str) -> int:
        cls = default_registry().get_class(name)
        print(yaml.safe_dump(cls().model_dump(mode="json", by_alias=True), sort_keys=False).rstrip())
        return 0

    def _stubs(self, packages: list[str], out: Path, *, with_deps: bool) -> int:
        registry = default_registry()
        known = registry.packages()
        names = []
        for entry in packages:
            directory = Path(entry)
            if entry in known or not directory.is_dir():
                if entry not in known:
                    raise InterfaceError(
                        f"{entry!r} is neither a known interface package nor a directory; "
                        "see `rfos interface list`"
                    )
                names.append(entry)
                continue
            if not any((directory / kind).is_dir() for kind in ("msg", "srv", "action")):
                raise InterfaceError(f"{entry}: no msg/, srv/ or action/ directory in it")
            names.append(directory.resolve().name)
            registry.load_package(names[-1], directory)
        if with_deps:
            names = package_dependencies(registry, names)
        changed = 0
        for package in names:
            for path in write_stubs(registry, package, out):
                print(f"wrote {path}")
                changed += 1
        print(f"{len(names)} package(s), {changed} file(s) changed under {out}")
        return 0


#: The parts ROS 2 derives from a service / action, in the order ``show`` prints their hashes.
_SERVICE_PARTS = ("_Request", "_Response", "_Event")
_ACTION_PARTS = (
    "_Goal",
    "_Result",
    "_Feedback",
    "_FeedbackMessage",
    *(f"_{service}{part}" for service in ("SendGoal", "GetResult") for part in ("", *_SERVICE_PARTS)),
)


def _hash_of(spec: MessageSpec | ServiceSpec | ActionSpec) -> str:
    if isinstance(spec, MessageSpec):
        return type_hash_of(default_registry().get_class(spec.full_name))
    return default_registry().type_hash(spec.full_name)


def _part_hashes(spec: MessageSpec | ServiceSpec | ActionSpec) -> list[tuple[str, str]]:
    """``(short name, RIHS01 hash)`` of every part of a service or action (none for a message)."""
    if isinstance(spec, MessageSpec):
        return []
    hashes = default_registry().type_hashes(spec.full_name)
    parts = _SERVICE_PARTS if isinstance(spec, ServiceSpec) else _ACTION_PARTS
    return [
        (f"{spec.full_name}{part}".rsplit("/", 1)[1], hashes[f"{spec.full_name}{part}"]) for part in parts
    ]


def _nested_names(
    spec: MessageSpec | ServiceSpec | ActionSpec, resolve: Callable[[str], MessageSpec]
) -> list[str]:
    """Every message type ``spec`` refers to, depth first, each once."""
    roots: list[MessageSpec]
    if isinstance(spec, MessageSpec):
        roots = [spec]
    elif isinstance(spec, ServiceSpec):
        roots = [spec.request, spec.response]
    else:
        roots = [spec.goal, spec.result, spec.feedback]
    seen: list[str] = []

    def walk(s: MessageSpec) -> None:
        for field in s.fields:
            if not field.type.is_primitive and field.type.base not in seen:
                seen.append(field.type.base)
                walk(resolve(field.type.base))

    for root in roots:
        walk(root)
    return seen
