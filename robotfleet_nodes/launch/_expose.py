"""The registry of launch-file tags (``node``, ``arg``, ...): one parser per tag, no duplicates."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from robotfleet_nodes.launch.entity import LaunchEntity
    from robotfleet_nodes.launch.yaml_loader import Where

__all__ = ["TagParser", "expose_tag", "tag_parser", "tags"]

#: ``parser(body, where) -> entity``; ``body`` is the mapping under the tag.
TagParser = Callable[[Any, "Where"], "LaunchEntity"]

_TAGS: dict[str, TagParser] = {}


def expose_tag(name: str) -> Callable[[TagParser], TagParser]:
    """Register a parser for launch-file tag ``name``; a second parser for it is refused."""

    def register(parser: TagParser) -> TagParser:
        if name in _TAGS:
            raise ValueError(f"launch tag {name!r} is already registered by {_TAGS[name].__qualname__}")
        _TAGS[name] = parser
        return parser

    return register


def tag_parser(name: str) -> TagParser | None:
    """The parser of ``name``, or ``None``."""
    return _TAGS.get(name)


def tags() -> list[str]:
    """Every registered tag name, sorted."""
    return sorted(_TAGS)
