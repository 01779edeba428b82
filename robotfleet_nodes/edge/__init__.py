"""The edge tier."""

from __future__ import annotations
