"""The fleet tier (HTTP API, dashboard, scheduler, order store) and the tiers' shared protocol."""

from __future__ import annotations
