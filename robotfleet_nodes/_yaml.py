"""The one YAML loader for config, parameter and launch files (and command-line values),
and the one dumper for what the CLI prints.

Rules, the same for every file kind:

- Safe YAML only (PyYAML's ``SafeLoader``): no Python objects.
- A key given twice in one mapping is an error naming both lines (``a`` then ``a`` again is
  a typo, never an intended override). Keys merged in with ``<<: *anchor`` may be
  overridden, as YAML's merge rule says.
- Dates stay strings: ``2026-01-01`` is the text, as in ROS 2's parameter parser (rcl).
- Errors are :class:`YamlError` ``<source>:<line>: invalid YAML: <problem>``; each caller
  turns it into its own error type (``ConfigError``, ``ParameterError``, ``LaunchError``).
- With ``lines=True`` every mapping and sequence is a :class:`LineDict` / :class:`LineList`
  that knows its line, for loaders that point at a nested key (launch files).

Writing: :func:`dump_yaml` is PyYAML's safe dumper (on libyaml's emitter when PyYAML has it)
in block style, the way ``ros2 topic echo`` and ``ros2 param dump`` print.

This module imports nothing from the package's subpackages, so any of them may use it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml

from robotfleet_nodes.errors import RobotFleetError

try:
    from yaml import CSafeDumper as _SafeDumper
except ImportError:  # a PyYAML built without libyaml
    from yaml import SafeDumper as _SafeDumper  # type: ignore[assignment]

__all__ = ["LineDict", "LineList", "YamlError", "dump_yaml", "load_yaml"]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class YamlError(RobotFleetError, ValueError):
    """Text that is not valid YAML, or a mapping with a key given twice.

    ``source`` names the text (a file path as the user gave it), ``line`` is 1-based (``None``
    when unknown), ``problem`` is the message without the location.
    """

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: invalid YAML: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


class LineDict(dict[Any, Any]):
    """A mapping that remembers the (1-based) line it starts on."""

    line = 0


class LineList(list[Any]):
    """A sequence that remembers the (1-based) line it starts on."""

    line = 0


class _Loader(yaml.SafeLoader):
    """Safe YAML, duplicate keys refused, dates left as strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _refuse_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> None:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
            )
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice (first on line {seen[key]})", key_node.start_mark
            )
        seen[key] = line


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    _refuse_duplicates(loader, node)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _LineLoader(_Loader):
    """:class:`_Loader` whose mappings and sequences know their line."""


def _construct_line_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    out = LineDict(_construct_mapping(loader, node))
    out.line = node.start_mark.line + 1
    return out


def _construct_line_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_sequence(node, deep=True))
    out.line = node.start_mark.line + 1
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_line_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_line_sequence)


def load_yaml(text: str, source: str, *, lines: bool = False) -> Any:
    """The value of the one YAML document in ``text`` (``None`` for an empty one).

    Args:
        text: the YAML text.
        source: what to call the text in errors (a file path, ``-p rate``, ...).
        lines: build :class:`LineDict` / :class:`LineList` instead of ``dict`` / ``list``.

    Raises:
        YamlError: ``<source>:<line>: invalid YAML: <problem>`` for bad syntax, a key given
            twice (``key 'rate' given twice (first on line 3)``) or more than one document.
    """
    try:
        return yaml.load(text, Loader=_LineLoader if lines else _Loader)  # SafeLoader subclasses
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = ": ".join(part for part in (exc.context, exc.problem) if part)
        raise YamlError(source, None if mark is None else mark.line + 1, problem) from None
    except yaml.YAMLError as exc:
        raise YamlError(source, None, str(exc)) from None


class _Dumper(_SafeDumper):
    """The safe dumper without anchors and aliases (dumped data are trees; checking costs)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_NO_WRAP = 2**31 - 1  # libyaml's largest width: long strings stay on one line


def dump_yaml(data: Any, *, sort_keys: bool = False) -> str:
    """``data`` (dicts, lists, scalars) as block-style YAML text ending in a newline.

    Mappings and sequences go one entry a line, empty ones as ``{}`` / ``[]``; strings are
    quoted only where YAML needs it (``'yes'``, ``''``, ``'1'``); floats always read back as
    floats (``1.0e+16``, ``.nan``). ``load_yaml(dump_yaml(x), ...) == x`` for such data.

    Raises:
        yaml.representer.RepresenterError: for a value of another type.
    """
    text: str = yaml.dump(
        data,
        Dumper=_Dumper,
        default_flow_style=False,
        sort_keys=sort_keys,
        allow_unicode=True,
        width=_NO_WRAP,
    )
    # A scalar document is closed with "..." (it could go on); one document needs no end.
    return text.removesuffix("...\n")
