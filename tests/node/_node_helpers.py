"""Types shared by the node-layer tests (a uniquely named module: ``conftest`` is not importable)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from robotfleet_nodes.node.context import Context

#: ``make_context(intra=False, args=None)``: an async context manager giving a started Context.
ContextFactory = Callable[..., AbstractAsyncContextManager[Context]]
