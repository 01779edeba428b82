"""What an area answers when no zone took an order (no I/O).

:meth:`~robotfleet_nodes.area.node.AreaNode` offers an order to its live zones one after
the other; when none accepts, :func:`refusal` turns their answers into the area's:

- no zone was offered the order (none live): ``error`` says so and names the silent zones;
- every zone that answered refused because of the order itself (``order_refused``: target,
  task) and at least one answered: the area's answer has ``order_refused`` too (no zone of
  this area will take the order: the fleet spends an attempt on it), and ``error`` names
  each zone's reason; a zone that did not answer (unreachable) does not count;
- otherwise (no capacity, no robot, unreachable): a plain refusal naming each zone's reason.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ZoneRefusal", "refusal"]


@dataclass(frozen=True, slots=True)
class ZoneRefusal:
    """One zone's refusal of an order: its reason, whether about the order, whether it answered."""

    zone_id: str
    error: str
    order_refused: bool = False
    answered: bool = True


def refusal(area_id: str, refusals: list[ZoneRefusal], silent: list[str]) -> tuple[bool, str]:
    """(order_refused, error) of the area's answer when every zone in ``refusals`` refused."""
    if not refusals:
        names = ", ".join(silent) or "none configured"
        return False, f"area {area_id} has no live zone (silent: {names})"
    reasons = "; ".join(f"{r.zone_id}: {r.error or 'refused'}" for r in refusals)
    answered = [r for r in refusals if r.answered]
    if answered and all(r.order_refused for r in answered):
        return True, f"every zone of area {area_id} refused the order itself: {reasons}"
    return False, f"no zone of area {area_id} accepted the order: {reasons}"
