"""The contract every ``rfos`` verb implements, and the registry that collects them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

__all__ = ["Verb", "expose_verb", "verbs"]


class Verb:
    """One top-level verb (``rfos interface ...``).

    Subclasses set ``name`` and ``help``, add their arguments in :meth:`configure`, and do
    the work in :meth:`run`, returning the process exit code (0 ok, 1 failure). Errors
    derived from ``RobotFleetError`` are printed by the entry point as ``rfos: <message>``.
    """

    name: str = ""
    help: str = ""
    description: str = ""
    epilog: str = ""  #: usage examples shown by ``--help``

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add this verb's arguments and sub-verbs."""

    def run(self, args: argparse.Namespace) -> int:
        """Run the verb; return the exit code."""
        raise NotImplementedError


_VERBS: dict[str, type[Verb]] = {}
V = TypeVar("V", bound=type[Verb])


def expose_verb(name: str) -> Callable[[V], V]:
    """Class decorator registering a verb under ``name``; a second verb of that name is refused."""

    def register(cls: V) -> V:
        if name in _VERBS:
            raise ValueError(f"rfos verb {name!r} is already registered by {_VERBS[name].__qualname__}")
        cls.name = name
        _VERBS[name] = cls
        return cls

    return register


def verbs() -> dict[str, type[Verb]]:
    """Registered verbs by name, in registration order."""
    return dict(_VERBS)
