"""``rfos launch`` (run a launch file) and ``rfos run`` (run one node executable)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import subprocess
from types import FrameType

from robotfleet_nodes.ament_index import PackageNotFoundError, get_package_prefix
from robotfleet_nodes.cli._verb import Verb, expose_verb
from robotfleet_nodes.launch import (
    LaunchError,
    LaunchService,
    describe_launch,
    load_launch_file,
    resolve_executable,
)

log = logging.getLogger(__name__)


def parse_launch_arguments(items: list[str]) -> dict[str, str]:
    """``["name:=value", ...]`` as a dict; anything else is a :class:`LaunchError`."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise LaunchError(f"launch arguments are written name:=value, not {item!r}")
        out[name] = value
    return out


@expose_verb("launch")
class LaunchVerb(Verb):
    help = "run a launch file (Python, YAML or XML): nodes, containers, processes"
    epilog = """examples:
  rfos launch launch/talker_listener.launch.yaml
  rfos launch launch/fleet_1000.launch.yaml robots:=100 zones:=2
  rfos launch my_robot.launch.py --show-args          # the arguments it declares
  rfos launch my_robot.launch.py robots:=3 --print    # the resolved processes, nothing started

Output lines are prefixed [name-N]; every process also logs to
$RFOS_LOG_DIR/<timestamp>/<name-N>.log (default ~/.rfos/log). Ctrl-C sends SIGINT to
every process, then SIGTERM and SIGKILL after --sigterm-timeout/--sigkill-timeout.
"""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", help="launch file: *.launch.py, *.launch.yaml or *.launch.xml")
        parser.add_argument("arguments", nargs="*", metavar="name:=value", help="launch argument values")
        parser.add_argument(
            "--show-args", "-s", action="store_true", help="list the declared arguments and exit"
        )
        parser.add_argument(
            "--print",
            "-p",
            dest="print_",
            action="store_true",
            help="print the resolved launch (processes, commands) as JSON and exit",
        )
        parser.add_argument(
            "--sigterm-timeout", type=float, default=5.0, help="seconds after SIGINT (default 5)"
        )
        parser.add_argument(
            "--sigkill-timeout", type=float, default=5.0, help="seconds after SIGTERM (default 5)"
        )
        parser.add_argument(
            "--log-dir", help="directory for the log files (default $RFOS_LOG_DIR/<timestamp>)"
        )

    def run(self, args: argparse.Namespace) -> int:
        description = load_launch_file(args.file)
        if args.show_args:
            for arg in description.declared_arguments():
                default = "(required)" if arg.default is None else f"(default: {arg.default!r})"
                print(f"'{arg.name}':")
                print(f"    {arg.description or 'no description given'}")
                if arg.choices:
                    print(f"    choices: {', '.join(arg.choices)}")
                print(f"    {default}")
            return 0
        arguments = parse_launch_arguments(args.arguments)
        declared = {a.name for a in description.declared_arguments()}
        unknown = sorted(set(arguments) - declared)
        if unknown:
            known = ", ".join(sorted(declared)) or "none"
            log.warning(
                "arguments not declared at the top level: %s (declared: %s)", ", ".join(unknown), known
            )
        if args.print_:
            print(json.dumps(describe_launch(description, arguments, source=args.file), indent=2))
            return 0
        service = LaunchService(
            description,
            arguments=arguments,
            source=args.file,
            sigterm_timeout=args.sigterm_timeout,
            sigkill_timeout=args.sigkill_timeout,
            log_dir=args.log_dir,
        )
        return service.run()


@expose_verb("run")
class RunVerb(Verb):
    help = "run one node executable in the foreground (rfos run PKG EXEC, like ros2 run)"
    epilog = """examples:
  rfos run robotfleet_nodes talker                 # <prefix>/lib/robotfleet_nodes/talker
  rfos run robotfleet_nodes listener --ros-args -r chatter:=/news
  EDGE_ROBOT_ID=robot-1 EDGE_ZONE_ID=zone-1 rfos run edge   # tiers read env / YAML, not -p
  rfos run ./my_node.py --ros-args -r __ns:=/robots/robot-1

PKG EXEC is looked up as ros2 run does: the package in the ament index ($AMENT_PREFIX_PATH,
then this environment; `make setup` installs robotfleet_nodes there), the executable in
<prefix>/lib/PKG/. A single EXECUTABLE is a path, a console script of this environment, a
module path (python -m) or a program on PATH. The exit code is the node's.
"""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "executable", help="PKG (then EXEC), or an executable: path, console script, module path"
        )
        parser.add_argument(
            "args", nargs=argparse.REMAINDER, help="[EXEC] then arguments, including --ros-args ..."
        )

    def run(self, args: argparse.Namespace) -> int:
        rest = list(args.args)
        two_words = bool(rest) and not rest[0].startswith("-")
        if two_words and _is_package(args.executable):
            prefix = resolve_executable(rest.pop(0), args.executable)
        else:
            try:
                prefix = resolve_executable(args.executable)
            except LaunchError:
                if not two_words:
                    raise
                # Neither a package nor an executable: report it as ros2 run would, naming both.
                prefix = resolve_executable(rest.pop(0), args.executable)
        return run_foreground([*prefix, *rest])


def _is_package(name: str) -> bool:
    """Whether ``name`` is a package of the ament index (``rfos run PKG EXEC``)."""
    try:
        get_package_prefix(name)
    except (PackageNotFoundError, ValueError):
        return False
    return True


def run_foreground(cmd: list[str]) -> int:
    """Run ``cmd`` in its own process group, forward SIGINT/SIGTERM/SIGHUP; its exit code.

    The child gets its own process group so a terminal Ctrl-C reaches it exactly once (through
    us); a child killed by signal N gives ``128 + N`` like a shell.
    """
    proc = subprocess.Popen(cmd, process_group=0)
    forwarded = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def forward(signum: int, frame: FrameType | None) -> None:
        proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in forwarded}
    try:
        code = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return 128 - code if code < 0 else code
