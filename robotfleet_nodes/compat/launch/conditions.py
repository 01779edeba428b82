"""``launch.conditions``: our :class:`robotfleet_nodes.launch.Condition` with substitutions."""

from __future__ import annotations

from collections.abc import Callable

from robotfleet_nodes.launch import Condition as _CoreCondition
from robotfleet_nodes.launch import LaunchContext as CoreContext
from robotfleet_nodes.launch import LaunchError

from ._context import LaunchContext, SomeSubstitutionsType, perform, view

__all__ = [
    "Condition",
    "IfCondition",
    "InvalidConditionExpressionError",
    "LaunchConfigurationEquals",
    "LaunchConfigurationNotEquals",
    "UnlessCondition",
]


class InvalidConditionExpressionError(LaunchError):
    """A condition's expression is not ``true``/``false``/``1``/``0``."""


def _truth(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidConditionExpressionError(
        f"condition expression {text!r} is not a boolean: use true/false or 1/0"
    )


class Condition(_CoreCondition):
    """A condition computed by ``predicate(context)`` (ROS 2's ``Condition(predicate=...)``)."""

    def __init__(self, *, predicate: Callable[[LaunchContext], bool] | None = None) -> None:
        super().__init__("<predicate>")
        self._predicate = predicate

    def evaluate(self, context: CoreContext) -> bool:
        return self._evaluate(view(context))

    def _evaluate(self, context: LaunchContext) -> bool:
        if self._predicate is None:
            raise NotImplementedError
        return bool(self._predicate(context))

    def describe(self) -> str:
        return f"if {type(self).__name__}"


class IfCondition(Condition):
    """True when ``predicate_expression`` performs to ``true``/``1``."""

    def __init__(self, predicate_expression: SomeSubstitutionsType) -> None:
        super().__init__()
        self.predicate_expression = predicate_expression

    def _evaluate(self, context: LaunchContext) -> bool:
        return _truth(perform(self.predicate_expression, context))


class UnlessCondition(Condition):
    """True when ``predicate_expression`` performs to ``false``/``0``."""

    def __init__(self, predicate_expression: SomeSubstitutionsType) -> None:
        super().__init__()
        self.predicate_expression = predicate_expression

    def _evaluate(self, context: LaunchContext) -> bool:
        return not _truth(perform(self.predicate_expression, context))


class LaunchConfigurationEquals(Condition):
    """True when launch configuration ``launch_configuration_name`` equals ``expected_value``
    (``None``: the configuration is unset)."""

    def __init__(self, launch_configuration_name: str, expected_value: SomeSubstitutionsType | None) -> None:
        super().__init__()
        self.launch_configuration_name = launch_configuration_name
        self.expected_value = expected_value

    def _evaluate(self, context: LaunchContext) -> bool:
        actual = context.launch_configurations.get(self.launch_configuration_name)
        expected = None if self.expected_value is None else perform(self.expected_value, context)
        return actual == expected


class LaunchConfigurationNotEquals(LaunchConfigurationEquals):
    """The negation of :class:`LaunchConfigurationEquals`."""

    def _evaluate(self, context: LaunchContext) -> bool:
        return not super()._evaluate(context)
