"""The area tier."""

from __future__ import annotations
