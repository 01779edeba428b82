"""``from std_msgs.msg import String`` without a ROS 2 installation.

A :class:`importlib.abc.MetaPathFinder` serves ``<pkg>``, ``<pkg>.msg``, ``<pkg>.srv`` and
``<pkg>.action`` for every package the default registry knows (the rosbags standard set,
``robotfleet_nodes`` and ``RFOS_INTERFACE_PATH`` packages). Module attributes are looked
up lazily through a module ``__getattr__`` (PEP 562), so importing ``std_msgs.msg``
generates no class until one is used.

Decisions:

- This finder is not on ``sys.meta_path`` itself: ``robotfleet_nodes._import_hook``
  (installed at interpreter start-up, at the *end* of ``sys.meta_path``, so a real ROS 2
  installation's ``std_msgs`` always wins) hands it the names that look like interface
  packages, and so loads this module, the registry and rosbags' typestore only when a
  script first imports one.
- A broken user interface package must not break unrelated imports (libraries probe for
  optional modules with ``try: import x``): registry errors during a lookup are logged and
  the finder declines; the error surfaces where the registry is used directly.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

from robotfleet_nodes.errors import InterfaceError, UnknownInterfaceError
from robotfleet_nodes.idl._registry import default_registry

__all__ = ["InterfaceFinder", "interface_module_attrs"]

logger = logging.getLogger(__name__)

_KINDS = ("msg", "srv", "action")


def interface_module_attrs(
    package: str, kind: str, module_name: str | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The PEP 562 ``__getattr__`` and ``__dir__`` of the module ``<package>.<kind>``."""
    qualified = module_name or f"{package}.{kind}"

    def getattr_(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(f"module {qualified!r} has no attribute {name!r}")
        try:
            value = default_registry().get_interface(f"{package}/{kind}/{name}")
        except UnknownInterfaceError as exc:
            raise AttributeError(f"module {qualified!r} has no attribute {name!r}: {exc}") from None
        module = sys.modules.get(qualified)
        if module is not None:
            setattr(module, name, value)  # cache: the next lookup skips __getattr__
        return value

    def dir_() -> list[str]:
        module = sys.modules.get(qualified)
        own = list(vars(module)) if module is not None else []
        return sorted(set(own).union(default_registry().package_names(package, kind)))

    return getattr_, dir_


class _InterfaceLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        parts = module.__name__.split(".")
        if len(parts) == 1:
            module.__path__ = []
            module.__doc__ = f"ROS 2 interfaces of {parts[0]} (served by robotfleet_nodes.idl)."
            return
        package, kind = parts
        getattr_, dir_ = interface_module_attrs(package, kind, module.__name__)
        module.__getattr__ = getattr_  # type: ignore[method-assign]
        module.__dir__ = dir_  # type: ignore[method-assign]
        module.__doc__ = f"ROS 2 {kind} types of {package} (served by robotfleet_nodes.idl)."


class InterfaceFinder(importlib.abc.MetaPathFinder):
    """Serves interface modules of the packages the default registry knows."""

    _loader = _InterfaceLoader()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        parts = fullname.split(".")
        if len(parts) > 2 or (len(parts) == 2 and parts[1] not in _KINDS) or parts[0].startswith("_"):
            return None
        try:
            known = parts[0] in default_registry().packages()
        except InterfaceError:
            logger.warning("interface registry failed; not serving %s", fullname, exc_info=True)
            return None
        if not known:
            return None
        return importlib.machinery.ModuleSpec(fullname, self._loader, is_package=len(parts) == 1)
