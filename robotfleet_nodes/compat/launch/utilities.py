"""``launch.utilities``: performing and normalizing ``SomeSubstitutionsType`` values."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ._context import LaunchContext, SomeSubstitutionsType, perform
from .substitutions import Substitution, TextSubstitution

__all__ = ["normalize_to_list_of_substitutions", "perform_substitutions"]


def perform_substitutions(context: LaunchContext | Any, subs: SomeSubstitutionsType) -> str:
    """``subs`` performed in ``context`` and concatenated."""
    return perform(subs, context)


def normalize_to_list_of_substitutions(subs: SomeSubstitutionsType) -> list[Substitution]:
    """``subs`` as a list of substitutions (text becomes ``TextSubstitution``)."""
    if isinstance(subs, str | os.PathLike):
        return [TextSubstitution(text=os.fspath(subs))]
    if isinstance(subs, Substitution):
        return [subs]
    if isinstance(subs, Iterable):
        return [item for sub in subs for item in normalize_to_list_of_substitutions(sub)]
    raise TypeError(f"expected text or substitutions, got {type(subs).__name__}")
