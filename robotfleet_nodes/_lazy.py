"""Package facades whose names are imported on first access (PEP 562).

A package ``__init__`` that re-exports its public classes eagerly would import every
submodule whenever any one of them is imported (a Python package's ``__init__`` always runs
first). The tiers' and the node layer's facades use :func:`lazy_attributes` instead, so
``import robotfleet_nodes.fleet.protocol`` in an edge process does not load the fleet's
HTTP stack.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, where: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, serving ``name`` from the submodule
    ``where[name]`` (relative to ``package``) on first access.

    The package lists the same names in ``__all__`` and imports them under ``TYPE_CHECKING``
    so type checkers see them.
    """

    def getattr_(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def dir_() -> list[str]:
        return sorted(where)

    return getattr_, dir_
