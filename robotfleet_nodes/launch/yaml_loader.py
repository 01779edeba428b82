"""Loading ROS 2 YAML launch files (``launch: [ {tag: {...}}, ... ]``).

Every mapping remembers its line, so errors read ``file:line: tag 'node': unknown key
'pakg' (known: ...)``. Tags are parsed by the functions registered with
:func:`~robotfleet_nodes.launch._expose.expose_tag` (see ``_yaml_tags``). Every tag accepts
``if:``/``unless:`` conditions. The text is read with the package's one YAML loader
(``robotfleet_nodes._yaml``), which refuses a key given twice.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robotfleet_nodes._yaml import LineDict, LineList, YamlError, load_yaml
from robotfleet_nodes.launch._expose import tag_parser, tags
from robotfleet_nodes.launch.conditions import Condition, IfCondition, UnlessCondition
from robotfleet_nodes.launch.entity import LaunchEntity
from robotfleet_nodes.launch.errors import LaunchError
from robotfleet_nodes.launch.launch_description import LaunchDescription
from robotfleet_nodes.launch.launch_file import read_launch_text

__all__ = ["Where", "load_yaml_launch_file", "parse_entities", "parse_yaml_launch", "yaml_map", "yaml_seq"]


def yaml_map(line: int, items: dict[Any, Any] | None = None) -> dict[Any, Any]:
    """A mapping that remembers its ``line`` (what the loader builds; for other front ends)."""
    out = LineDict(items or {})
    out.line = line
    return out


def yaml_seq(line: int) -> list[Any]:
    """An empty list that remembers its ``line``."""
    out = LineList()
    out.line = line
    return out


@dataclass(frozen=True, slots=True)
class Where:
    """Where a tag is in a file; builds located errors and checks keys."""

    file: str
    line: int
    tag: str

    def at(self, value: Any, tag: str | None = None) -> Where:
        """The location of a nested mapping or list."""
        return Where(self.file, getattr(value, "line", self.line), tag or self.tag)

    @property
    def origin(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.line}"

    def error(self, message: str) -> LaunchError:
        """A :class:`LaunchError` prefixed with ``file:line: tag 'X':``."""
        return LaunchError(f"{self.origin}: tag {self.tag!r}: {message}", located=True)

    def mapping(
        self, body: Any, *, required: Iterable[str] = (), allowed: Iterable[str] = ()
    ) -> dict[str, Any]:
        """``body`` checked to be a mapping with only ``allowed`` keys and every ``required`` one."""
        if not isinstance(body, dict):
            raise self.error(f"expected a mapping of keys, got {type(body).__name__}")
        known = set(allowed) | set(required)
        for key in body:
            if key not in known:
                raise self.at(body).error(f"unknown key {key!r} (known: {', '.join(sorted(known))})")
        for key in required:
            if key not in body:
                raise self.at(body).error(f"missing key {key!r}")
        return body

    def sequence(self, value: Any, key: str) -> list[Any]:
        """``value`` checked to be a list (``key`` names it in errors)."""
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(f"{key!r} must be a list, got {type(value).__name__}")
        return value

    def text(self, value: Any, key: str) -> str:
        """A scalar as launch text (booleans as ``true``/``false``)."""
        if isinstance(value, dict | list):
            raise self.error(f"{key!r} must be a single value, got a {type(value).__name__}")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def args(self, value: Any, key: str) -> list[str]:
        """A command line: a string (split like a shell) or a list.

        Substitutions (``$(var name)``) stay whole words: they are resolved later, when
        the launch runs, and their value is one argument.
        """
        if isinstance(value, list):
            return [self.text(v, key) for v in value]
        text, groups = _protect_substitutions(self.text(value, key))
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise self.error(f"{key!r}: {exc}") from None
        return [_restore_substitutions(word, groups) for word in words]

    def number(self, value: Any, key: str) -> float:
        """A number."""
        try:
            return float(value)
        except (TypeError, ValueError):
            raise self.error(f"{key!r} must be a number, got {value!r}") from None


def _protect_substitutions(text: str) -> tuple[str, list[str]]:
    """``text`` with each balanced ``$( ... )`` replaced by a space-free placeholder."""
    out: list[str] = []
    groups: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$(", i):
            depth, j = 0, i + 1
            while j < len(text):
                if text[j] == "(":
                    depth += 1
                elif text[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            groups.append(text[i : j + 1])
            out.append(f"\x00{len(groups) - 1}\x00")
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out), groups


def _restore_substitutions(word: str, groups: list[str]) -> str:
    for index, group in enumerate(groups):
        word = word.replace(f"\x00{index}\x00", group)
    return word


CONDITION_KEYS = ("if", "unless")


def parse_entities(items: Any, where: Where) -> list[LaunchEntity]:
    """A list of ``{tag: body}`` items as entities."""
    entities = []
    for item in where.sequence(items, "children"):
        item_where = where.at(item)
        if not isinstance(item, dict) or len(item) != 1:
            raise item_where.error("each entry is a mapping with exactly one tag, e.g. '- node: {...}'")
        ((tag, body),) = item.items()
        parser = tag_parser(str(tag))
        if parser is None:
            raise Where(item_where.file, item_where.line, str(tag)).error(
                f"unknown tag (known: {', '.join(tags())})"
            )
        tag_where = Where(item_where.file, getattr(body, "line", item_where.line), str(tag))
        condition: Condition | None = None
        if isinstance(body, dict):
            body = dict(body)
            if "if" in body and "unless" in body:
                raise tag_where.error("use either 'if' or 'unless', not both")
            if "if" in body:
                condition = IfCondition(tag_where.text(body.pop("if"), "if"))
            elif "unless" in body:
                condition = UnlessCondition(tag_where.text(body.pop("unless"), "unless"))
        entity = parser(body, tag_where)
        if condition is not None:
            entity.condition = condition
        entity.origin = tag_where.origin
        entities.append(entity)
    return entities


def parse_yaml_launch(text: str, file: str = "<string>") -> LaunchDescription:
    """Parse a YAML launch file's text."""
    from robotfleet_nodes.launch import _yaml_tags  # noqa: F401 - registers the tags

    try:
        data = load_yaml(text, file, lines=True)
    except YamlError as exc:
        raise LaunchError(str(exc), located=True) from None
    root = Where(file, 1, "launch")
    if not isinstance(data, dict) or "launch" not in data:
        raise root.error("a YAML launch file is a mapping with one key, 'launch', holding a list")
    root.mapping(data, required=["launch"])
    return LaunchDescription(parse_entities(data["launch"], root.at(data["launch"])))


def load_yaml_launch_file(path: str | Path) -> LaunchDescription:
    """Load the YAML launch file at ``path``."""
    return parse_yaml_launch(read_launch_text(path), str(path))
