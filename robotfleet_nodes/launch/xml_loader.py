"""Loading ROS 2 XML launch files (``<launch> <node .../> ... </launch>``).

The XML front end is a translation: each element becomes the mapping its YAML twin has
(attributes are keys, and the few child elements that are parts of their parent,
``<param>``, ``<remap>``, ``<env>``, ``<arg>`` of an include, ``<choice>``,
``<composable_node>``, become lists under the parent's key); every other child element is
an entity in ``children``. The YAML tag parsers then build the entities, so both formats
accept the same tags and give the same ``file:line: tag 'X': ...`` errors. ROS 2's
``<node_container>`` is our ``container``.

Attribute values are text. A ``<param value="...">`` is typed the way ROS 2 does it
(``2`` an int, ``2.0`` a float, ``true`` a bool, else a string).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from robotfleet_nodes._yaml import YamlError, load_yaml
from robotfleet_nodes.launch.errors import LaunchError
from robotfleet_nodes.launch.launch_description import LaunchDescription
from robotfleet_nodes.launch.launch_file import read_launch_text
from robotfleet_nodes.launch.yaml_loader import Where, parse_entities, yaml_map, yaml_seq

__all__ = ["load_xml_launch_file", "parse_xml_launch"]

XML_SUFFIXES = (".xml",)

#: (parent tag, child tag) -> the parent's key for a list of child mappings.
_PARTS: dict[tuple[str, str], str] = {
    **{(parent, "env"): "env" for parent in ("node", "executable", "container")},
    ("node", "param"): "param",
    ("node", "remap"): "remap",
    ("composable_node", "param"): "param",
    ("composable_node", "remap"): "remap",
    ("container", "composable_node"): "composable_node",
    ("composable_for", "composable_node"): "composable_node",
    ("include", "arg"): "arg",
    ("arg", "choice"): "choices",
}
#: (parent tag, child tag) -> the parent's key for the child's own entity children.
_BLOCKS: dict[tuple[str, str], str] = {
    ("on_process_io", "on_stdout"): "on_stdout",
    ("on_process_io", "on_stderr"): "on_stderr",
}
_ALIASES = {"node_container": "container"}


@dataclass(slots=True)
class _Element:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list[_Element] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


def _parse_tree(text: str, file: str) -> _Element:
    parser = expat.ParserCreate()
    stack: list[_Element] = []
    root: list[_Element] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        element = _Element(tag, attrs, parser.CurrentLineNumber)
        (stack[-1].children if stack else root).append(element)
        stack.append(element)

    def end(_tag: str) -> None:
        stack.pop()

    def data(chunk: str) -> None:
        if stack:
            stack[-1].text.append(chunk)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise LaunchError(
            f"{file}:{exc.lineno}: not valid XML: {expat.ErrorString(exc.code)}", located=True
        ) from None
    return root[0]


def _typed(value: str) -> Any:
    """A ``<param value>`` typed like ROS 2 (substitutions stay text, resolved later)."""
    if "$(" in value:
        return value
    try:
        typed = load_yaml(value, "<param value>")
    except YamlError:
        return value
    return typed if isinstance(typed, bool | int | float | str) else value


def _body(element: _Element, tag: str, file: str) -> dict[str, Any]:
    """``element`` as the mapping the YAML tag ``tag`` takes."""
    body: dict[str, Any] = yaml_map(element.line)
    body.update(element.attrs)
    if tag == "param" and "value" in body:
        body["value"] = _typed(body["value"])
    stray = "".join(element.text).strip()
    if stray:
        raise Where(file, element.line, tag).error(f"unexpected text {stray[:40]!r}: values go in attributes")
    for child in element.children:
        child_tag = _ALIASES.get(child.tag, child.tag)
        if tag in ("container", "composable_for") and child_tag == "for":  # a loop of composable nodes
            body.setdefault("composable_node", yaml_seq(child.line)).append(
                {"for": _body(child, "composable_for", file)}
            )
        elif (key := _PARTS.get((tag, child_tag))) is not None:
            body.setdefault(key, yaml_seq(child.line)).append(_body(child, child_tag, file))
        elif (key := _BLOCKS.get((tag, child_tag))) is not None:
            body[key] = _entities(child, file)
        else:
            body.setdefault("children", yaml_seq(child.line)).append(
                yaml_map(child.line, {child_tag: _body(child, child_tag, file)})
            )
    return body


def _entities(element: _Element, file: str) -> list[Any]:
    items = yaml_seq(element.line)
    for child in element.children:
        tag = _ALIASES.get(child.tag, child.tag)
        items.append(yaml_map(child.line, {tag: _body(child, tag, file)}))
    return items


def parse_xml_launch(text: str, file: str = "<string>") -> LaunchDescription:
    """Parse an XML launch file's text."""
    from robotfleet_nodes.launch import _yaml_tags  # noqa: F401 - registers the tags

    root = _parse_tree(text, file)
    if root.tag != "launch":
        raise Where(file, root.line, root.tag).error("an XML launch file's root element is <launch>")
    where = Where(file, root.line, "launch")
    return LaunchDescription(parse_entities(_entities(root, file), where))


def load_xml_launch_file(path: str | Path) -> LaunchDescription:
    """Load the XML launch file at ``path``."""
    return parse_xml_launch(read_launch_text(path), str(path))
