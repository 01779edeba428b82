"""The zone tier."""

from __future__ import annotations
