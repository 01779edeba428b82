"""ROS 2 command-line arguments: ``--ros-args ... [--]``.

Understood inside a ``--ros-args`` section (as rcl does):

- ``-r/--remap [node:]from:=to`` (also ``__ns:=/ns`` and ``__node:=name``);
- ``-p/--param [node:]name:=value``, the value parsed as a YAML scalar or flow list;
- ``--params-file FILE``;
- ``--log-level [logger:=]LEVEL``;
- ``-e/--enclave NAME``, ``--log-config-file FILE`` and the ``--enable-*``/``--disable-*``
  logging switches, accepted and ignored.

A section ends at ``--`` or at the end of ``argv``; there may be several. Everything outside
the sections is returned untouched, in order, as :attr:`RosArgs.non_ros_args`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from robotfleet_nodes.errors import ConfigError, ParameterError
from robotfleet_nodes.names import Remapping, remap_namespace, remap_node_name
from robotfleet_nodes.node.param_files import (
    ParameterValue,
    load_parameter_files,
    node_pattern_matches,
    parse_parameter_value,
)

__all__ = ["LOG_LEVELS", "ParameterOverride", "RosArgs", "parse_ros_args"]

#: The log levels ``--log-level`` accepts (case-insensitive; ``WARNING`` means ``WARN``).
LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL", "UNSET")

#: rcl's parameter names: tokens separated by '.', '/' or './' (``qos_overrides./chatter.publisher.depth``).
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|/|\./)[A-Za-z_][A-Za-z0-9_]*)*")
_VALUE_FLAGS = {
    "-r": "remap",
    "--remap": "remap",
    "-p": "param",
    "--param": "param",
    "--params-file": "params_file",
    "--log-level": "log_level",
    "-e": "enclave",
    "--enclave": "enclave",
    "--log-config-file": "ignored",
}
_SWITCHES = frozenset(
    f"--{state}-{what}-logs"
    for state in ("enable", "disable")
    for what in ("rosout", "stdout", "external-lib")
)


@dataclass(frozen=True, slots=True)
class ParameterOverride:
    """One ``-p [node:]name:=value``; ``node`` (a node name or pattern) limits it to some nodes."""

    name: str
    value: ParameterValue
    node: str | None = None

    def applies_to(self, node_fqn: str) -> bool:
        """Whether it targets ``node_fqn``: no node, the node's base name, or a matching fqn pattern."""
        if self.node is None:
            return True
        if "/" not in self.node and "*" not in self.node:
            return node_fqn.rsplit("/", 1)[-1] == self.node
        return node_pattern_matches(self.node, node_fqn)


@dataclass(slots=True)
class RosArgs:
    """The parsed ROS arguments of one command line, in the order given."""

    remappings: list[Remapping] = field(default_factory=list)
    parameters: list[ParameterOverride] = field(default_factory=list)
    params_files: list[Path] = field(default_factory=list)
    #: Logger name -> level; the key ``""`` is the default level (``--log-level LEVEL``).
    log_levels: dict[str, str] = field(default_factory=dict)
    enclave: str | None = None
    non_ros_args: list[str] = field(default_factory=list)

    def node_name(self, original: str) -> str:
        """The node's name after ``__node:=`` rules."""
        return remap_node_name(original, self.remappings)

    def namespace(self, original: str, node_name: str) -> str:
        """The node's namespace after ``__ns:=`` rules (``node_name`` is its original name)."""
        return remap_namespace(original, self.remappings, node_name)

    def parameters_for(self, node_fqn: str) -> dict[str, ParameterValue]:
        """The parameter overrides for one node: params files in order, then ``-p`` (which win).

        Raises:
            ParameterError: if a params file cannot be loaded (naming file and key).
        """
        values = load_parameter_files(self.params_files, node_fqn)
        for override in self.parameters:
            if override.applies_to(node_fqn):
                values[override.name] = override.value
        return values


def _parse_param(text: str, flag: str) -> ParameterOverride:
    left, sep, right = text.partition(":=")
    if not sep:
        raise ParameterError(f"{flag} {text!r}: expected 'name:=value' (or 'node:name:=value')")
    node: str | None = None
    if ":" in left:
        node, _, left = left.partition(":")
        if not node:
            raise ParameterError(f"{flag} {text!r}: empty node name before ':'")
    if not _PARAM_NAME.fullmatch(left):
        raise ParameterError(
            f"{flag} {text!r}: invalid parameter name {left!r}"
            " (tokens of letters, digits and '_' separated by '.' or '/', not starting with a digit)"
        )
    return ParameterOverride(name=left, value=parse_parameter_value(right, where=f"{flag} {text}"), node=node)


def _parse_log_level(text: str, flag: str) -> tuple[str, str]:
    logger, sep, level = text.rpartition(":=")
    if not sep:
        logger, level = "", text
    elif not logger:
        raise ConfigError(f"{flag} {text!r}: empty logger name before ':='")
    level = level.upper()
    if level == "WARNING":
        level = "WARN"
    if level not in LOG_LEVELS:
        raise ConfigError(f"{flag} {text!r}: unknown log level; use one of {', '.join(LOG_LEVELS)}")
    return logger, level


def parse_ros_args(argv: Sequence[str]) -> RosArgs:
    """Parse the ``--ros-args`` sections of ``argv`` (``sys.argv`` or a slice of it).

    Raises:
        ConfigError: for an unknown ROS argument or a flag missing its value.
        NameValidationError: for a malformed remap rule.
        ParameterError: for a malformed ``-p`` or a missing params file.
    """
    args = RosArgs()
    in_section = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not in_section:
            if arg == "--ros-args":
                in_section = True
            else:
                args.non_ros_args.append(arg)
            continue
        if arg == "--":
            in_section = False
            continue
        if arg == "--ros-args" or arg in _SWITCHES:
            continue
        kind = _VALUE_FLAGS.get(arg)
        if kind is None:
            known = ", ".join([*_VALUE_FLAGS, *sorted(_SWITCHES)])
            raise ConfigError(
                f"unknown ROS argument {arg!r} after --ros-args (known: {known});"
                " end the ROS arguments with '--' to pass other arguments"
            )
        if i >= len(argv) or argv[i] in ("--", "--ros-args"):
            raise ConfigError(f"ROS argument {arg!r} needs a value")
        value = argv[i]
        i += 1
        if kind == "remap":
            args.remappings.append(Remapping.parse(value))
        elif kind == "param":
            args.parameters.append(_parse_param(value, arg))
        elif kind == "params_file":
            path = Path(value)
            if not path.is_file():
                raise ParameterError(f"{arg} {value}: parameter file not found")
            args.params_files.append(path)
        elif kind == "log_level":
            logger, level = _parse_log_level(value, arg)
            args.log_levels[logger] = level
        elif kind == "enclave":
            args.enclave = value
    return args
