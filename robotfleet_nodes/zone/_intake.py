"""A zone's order services: :class:`Intake` answers ``assign`` and ``cancel``.

- ``/zones/<id>/assign`` (AssignWorkOrder): the order must belong to this zone's area, have
  a valid id, a finite target inside ``bounds`` (:meth:`Intake.target_error`; else
  ``order_refused``) and find a robot online. Answers are remembered by
  ``idempotency_key``; a newer attempt of an order the zone holds drops the old one.
  Accepting queues the order, publishes DISPATCHED and asks for an assignment pass.
- ``/zones/<id>/cancel`` (CancelWorkOrder): a queued order is dropped, a running one is
  released from its robot (goal cancel and a revocation); publishes CANCELLED.

:class:`~robotfleet_nodes.zone.node.ZoneNode` serves both and sets :attr:`Intake.ready`
as it starts and stops; the orders themselves live in
:class:`~robotfleet_nodes.zone._executions.Executions`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterator

from robotfleet_nodes.config import ZoneConfig
from robotfleet_nodes.fleet.protocol import FINAL_STATES, ORDER_ID_RE, state_name
from robotfleet_nodes.msg import WorkOrder
from robotfleet_nodes.srv import AssignWorkOrder, CancelWorkOrder
from robotfleet_nodes.zone._executions import Executions
from robotfleet_nodes.zone._slots import OrderSlot, printable, remember

__all__ = ["MAX_TARGET_M", "Intake"]

#: Largest |x| or |y| of a target [m] (the API refuses more; a zone checks again).
MAX_TARGET_M = 1e6


class Intake:
    """The ``assign`` and ``cancel`` services of one zone (see the module doc).

    ``seq`` numbers the accepted orders (FIFO within a priority); ``assign_soon`` asks the
    node for an assignment pass right after this loop turn.
    """

    def __init__(
        self,
        executions: Executions,
        config: ZoneConfig,
        *,
        seq: Iterator[int],
        assign_soon: Callable[[], None],
    ) -> None:
        self.ready = False  #: whether the zone takes orders (set by the node)
        self.zone_id = config.zone_id
        self._ex = executions
        self._config = config
        self._log = executions.log
        self._seq = seq
        self._assign_soon = assign_soon
        # key -> (accepted, zone_id, robot_id, error): a tuple of strings, which the garbage
        # collector stops tracking (10 000 response messages would be 30 000 objects it walks)
        self._answers: OrderedDict[str, tuple[bool, str, str, str]] = OrderedDict()

    def on_assign(self, request: AssignWorkOrder.Request) -> AssignWorkOrder.Response:
        """Accept (queue) the order or say why not; a repeated key gets the first answer."""
        wo = request.order
        key = request.idempotency_key or f"{wo.id}/{wo.attempts}"
        first = self._answers.get(key)
        if first is not None:
            accepted, zone_id, robot_id, error = first
            return AssignWorkOrder.Response(
                accepted=accepted, duplicate=True, zone_id=zone_id, robot_id=robot_id, error=error
            )

        def refuse(error: str, *, order_refused: bool = False) -> AssignWorkOrder.Response:
            self._log.info("%s: refused %s: %s", self.zone_id, wo.id, error)
            return AssignWorkOrder.Response(accepted=False, error=error, order_refused=order_refused)

        if not self.ready:
            return refuse(f"zone {self.zone_id} is starting")
        if not ORDER_ID_RE.fullmatch(wo.id):
            return refuse(f"invalid order id {wo.id!r}", order_refused=True)
        if request.target_id and request.target_id != self.zone_id:
            return refuse(f"this is zone {self.zone_id}, not {request.target_id}")
        if wo.area_id != self._config.area_id:
            return refuse(
                f"order {wo.id} belongs to area {wo.area_id!r}; zone {self.zone_id} "
                f"is in {self._config.area_id}"
            )
        if wo.state in FINAL_STATES:
            return refuse(f"order {wo.id} is {state_name(wo.state)}")
        target_error = self.target_error(wo)
        if target_error:
            return refuse(target_error, order_refused=True)
        final = self._ex.finished.get(wo.id)
        if final is not None:
            return refuse(f"order {wo.id} is {state_name(final)} already")
        held = self._ex.orders.get(wo.id)
        if held is not None and int(wo.attempts) > held.attempt:  # moved on without this zone knowing
            self._log.warning(
                "%s: %s comes back at attempt %d: dropping attempt %d",
                self.zone_id,
                wo.id,
                wo.attempts,
                held.attempt,
            )
            self._ex.release(held, f"superseded by attempt {wo.attempts}")
            self._ex.forget(held)
        if wo.id not in self._ex.orders:
            if not any(r.online for r in self._ex.robots.values()):
                return refuse(f"zone {self.zone_id} has no live robots")
            self._accept(wo)
            self._assign_soon()
        remember(self._answers, key, (True, self.zone_id, "", ""))
        return AssignWorkOrder.Response(accepted=True, duplicate=False, zone_id=self.zone_id)

    def target_error(self, wo: WorkOrder) -> str:
        """Why this zone cannot take ``wo``'s target ("" when it can)."""
        if not wo.has_target:
            return ""
        x, y = float(wo.target_x), float(wo.target_y)
        if not (math.isfinite(x) and math.isfinite(y)) or max(abs(x), abs(y)) > MAX_TARGET_M:
            return f"target ({x}, {y}) must be finite with |x|, |y| <= {MAX_TARGET_M:g} m"
        bounds = self._config.bounds
        if bounds is not None and not (bounds[0] <= x <= bounds[2] and bounds[1] <= y <= bounds[3]):
            return f"target ({x:g}, {y:g}) is outside zone {self.zone_id}'s bounds {bounds}"
        return ""

    def _accept(self, wo: WorkOrder) -> None:
        order = OrderSlot(
            order=wo.model_copy(update={"zone_id": self.zone_id}),
            seq=next(self._seq),
            attempt=int(wo.attempts),
        )
        self._ex.orders[order.order_id] = order
        self._ex.queue.append(order.order_id)
        self._ex.emit(order, WorkOrder.STATE_DISPATCHED)
        self._log.info(
            "%s: accepted %s (task=%s, priority=%d)",
            self.zone_id,
            wo.id,
            printable(wo.task),
            wo.priority,
        )

    def on_cancel(self, request: CancelWorkOrder.Request) -> CancelWorkOrder.Response:
        """Cancel the order (queued or running); an order already ended says how it ended."""
        order = self._ex.orders.get(request.id)
        if order is None:
            final = self._ex.finished.get(request.id)
            if final == WorkOrder.STATE_CANCELLED:
                return CancelWorkOrder.Response(accepted=True, order=WorkOrder(id=request.id, state=final))
            if final is not None:
                return CancelWorkOrder.Response(
                    accepted=False,
                    order=WorkOrder(id=request.id, state=final),
                    error=f"order {request.id} is {state_name(final)} already",
                )
            error = f"zone {self.zone_id} does not hold order {request.id!r}"
            return CancelWorkOrder.Response(accepted=False, error=error)
        reason = request.reason or "cancelled"
        order.cancelling = reason
        if order.robot_id:
            self._ex.release(order, reason)
        self._ex.finish(order, WorkOrder.STATE_CANCELLED, reason)
        self._log.info("%s: cancelled %s: %s", self.zone_id, request.id, printable(reason))
        return CancelWorkOrder.Response(
            accepted=True,
            order=order.order.model_copy(
                update={"state": WorkOrder.STATE_CANCELLED, "error": reason, "attempts": order.attempt}
            ),
        )
