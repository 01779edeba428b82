"""``IfCondition`` / ``UnlessCondition``: a boolean string, evaluated after substitution."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robotfleet_nodes.launch.substitutions import evaluate_bool

if TYPE_CHECKING:
    from robotfleet_nodes.launch.context import LaunchContext

__all__ = ["Condition", "IfCondition", "UnlessCondition"]


class Condition:
    """Decides whether an entity is visited; ``expr`` may contain ``$(var ...)``."""

    def __init__(self, expr: str | bool) -> None:
        self.expr = str(expr).lower() if isinstance(expr, bool) else str(expr)

    def evaluate(self, context: LaunchContext) -> bool:
        """The condition's value in ``context``; a non-boolean value is a ``LaunchError``."""
        raise NotImplementedError

    def describe(self) -> str:
        """``if <expr>`` or ``unless <expr>``."""
        raise NotImplementedError


class IfCondition(Condition):
    """True when ``expr`` resolves to ``true``/``1``."""

    def evaluate(self, context: LaunchContext) -> bool:
        return evaluate_bool(context.substitute(self.expr))

    def describe(self) -> str:
        return f"if {self.expr}"


class UnlessCondition(Condition):
    """True when ``expr`` resolves to ``false``/``0``."""

    def evaluate(self, context: LaunchContext) -> bool:
        return not evaluate_bool(context.substitute(self.expr))

    def describe(self) -> str:
        return f"unless {self.expr}"
