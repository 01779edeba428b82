"""Types a bag brings along: its stored ``ros2msg`` definitions, registered at play time.

rosbag2 stores, per topic type, the type's ``.msg`` text followed by every nested type's
text (each after a line of ``=`` and a ``MSG: pkg/Type`` line): in the MCAP schema
(encoding ``ros2msg``) or in the sqlite3 ``message_definitions`` table. With them a bag of a
custom type plays without ``RFOS_INTERFACE_PATH``: the types the registry does not know are
added from the bag; a stored definition that conflicts with a type the registry already
knows is ignored (the known one wins) with one warning line.
"""

from __future__ import annotations

import enum
import logging
import re

from robotfleet_nodes.errors import InterfaceError
from robotfleet_nodes.idl import TypeRegistry

__all__ = ["Definitions", "Origin", "split_definition"]

log = logging.getLogger(__name__)

_SEPARATOR = re.compile(r"^={10,}[ \t]*\n?", re.MULTILINE)
_MSG_LINE = re.compile(r"^MSG:[ \t]*(\S+)[ \t]*$")


class Origin(enum.Enum):
    """Where the definition a topic is played with comes from."""

    KNOWN = "known"  #: the registry knew the type before the bag was opened
    BAG = "bag"  #: registered from the bag's own definition
    UNKNOWN = "unknown"  #: neither: played without a type (no hash, CDR as is)


def _full(name: str) -> str:
    """``pkg/msg/Type`` for ``pkg/Type`` (the ``MSG:`` lines' form)."""
    parts = name.split("/")
    return f"{parts[0]}/msg/{parts[1]}" if len(parts) == 2 else name


def split_definition(type_name: str, text: str) -> dict[str, str]:
    """Full name -> ``.msg`` text of ``type_name`` and every nested type in a stored definition.

    Raises :class:`InterfaceError` if a section after a separator has no ``MSG:`` line.
    """
    parts = _SEPARATOR.split(text)
    out = {_full(type_name): parts[0]}
    for part in parts[1:]:
        head, _, body = part.lstrip("\n").partition("\n")
        match = _MSG_LINE.match(head.strip())
        if match is None:
            if not part.strip():
                continue
            raise InterfaceError(
                f"stored definition of {type_name}: a section starts with {head!r}, not 'MSG: pkg/Type'"
            )
        out[_full(match.group(1))] = body
    return out


class Definitions:
    """Decides, once per type, how a bag's type is played; registers what the registry lacks."""

    def __init__(self, registry: TypeRegistry, source: str) -> None:
        self.registry = registry
        self.source = source
        self._origins: dict[str, Origin] = {}
        self._warned: set[str] = set()

    def origin(self, type_name: str, definition: str) -> Origin:
        """How ``type_name`` plays, registering the types of ``definition`` (ros2msg) it needs."""
        origin = self._origins.get(type_name)
        if origin is None:
            origin = self._origins[type_name] = self._resolve(type_name, definition)
        return origin

    def _resolve(self, type_name: str, definition: str) -> Origin:
        known = type_name in self.registry
        if not definition.strip():
            return Origin.KNOWN if known else Origin.UNKNOWN
        try:
            sections = split_definition(type_name, definition)
        except InterfaceError as exc:
            log.warning("%s: %s", self.source, exc)
            return Origin.KNOWN if known else Origin.UNKNOWN
        new: dict[str, str] = {}
        for name, text in sections.items():
            if name not in self.registry:
                new[name] = text
                continue
            try:  # identical: adds nothing; different: refused, nothing changes
                self.registry.add_texts({name: text}, source=self.source)
            except InterfaceError:
                self._warn_conflict(name)
        if known:
            return Origin.KNOWN
        try:
            self.registry.add_texts(new, source=self.source)
        except InterfaceError as exc:
            log.warning("%s: cannot use the stored definition of %s: %s", self.source, type_name, exc)
            return Origin.UNKNOWN
        log.info("%s: %s registered from the bag's stored definition", self.source, type_name)
        return Origin.BAG

    def _warn_conflict(self, name: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            log.warning(
                "%s: the bag's definition of %s differs from the known one; playing with the known one",
                self.source,
                name,
            )
