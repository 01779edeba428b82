"""``/fleet/fleet``: the fleet tier's node, a thin front of :class:`FleetService`.

It publishes ``FleetSummary`` on ``/fleet/summary`` once per ``summary_period_s`` and
serves ``/fleet/submit``, ``/fleet/cancel`` and ``/fleet/get``; on the same tick it audits
credential revocations and re-issues made with ``rfos security`` (:mod:`._credential_audit`);
:class:`~robotfleet_nodes.fleet.service.FleetService` creates and starts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.errors import BrokerUnavailable
from robotfleet_nodes.fleet._audit import Command
from robotfleet_nodes.fleet._credential_audit import CredentialWatch
from robotfleet_nodes.fleet.orders import SubmitError
from robotfleet_nodes.msg import FleetSummary, WorkOrder
from robotfleet_nodes.node import Context, Node
from robotfleet_nodes.srv import CancelWorkOrder, GetWorkOrder, SubmitWorkOrder

if TYPE_CHECKING:
    from robotfleet_nodes.fleet.service import FleetService

__all__ = ["FleetNode"]


class FleetNode(Node):
    """``/fleet/fleet``: publishes ``/fleet/summary`` and serves submit, cancel and get."""

    def __init__(self, service: FleetService, *, context: Context, **options: Any) -> None:
        super().__init__("fleet", context=context, namespace="/fleet", **options)
        self.service = service

    async def on_start(self) -> None:
        """Create the summary publisher, its timer and the three services."""
        self._summary = await self.create_publisher(FleetSummary, "/fleet/summary", 10)
        await self.create_service(SubmitWorkOrder, "/fleet/submit", self._on_submit)
        await self.create_service(CancelWorkOrder, "/fleet/cancel", self._on_cancel)
        await self.create_service(GetWorkOrder, "/fleet/get", self._on_get)
        self.create_timer(self.service.config.summary_period_s, self._tick)
        tokens_file = self.service.config.http.tokens_file
        # `rfos security revoke/reissue` change the identities next to the API tokens
        self._credentials = (
            CredentialWatch(self.service.audit, Path(tokens_file).parent) if tokens_file else None
        )

    async def _tick(self) -> None:
        self.service.tick()
        if self._credentials is not None:
            self._credentials.poll()
        await self._summary.publish(self.service.fleet_summary())
        self.service.m_out.labels("fleet_summary").inc()

    def _audit(self, action: str, target: str, **params: Any) -> Command:
        return Command(
            self.service.audit, action, actor="nats", source="nats", via="nats", target=target, params=params
        )

    async def _on_submit(self, request: Any) -> Any:
        target = (request.target_x, request.target_y) if request.has_target else None
        with self._audit("submit", request.id, area_id=request.area_id, task=request.task) as audit:
            try:
                order, _ = await self.service.submit(
                    area_id=request.area_id,
                    task=request.task,
                    priority=int(request.priority),
                    order_id=request.id,
                    target=target,
                )
            except (SubmitError, BrokerUnavailable) as exc:  # the same checks as POST /api/work-orders
                audit.ok, audit.error = False, str(exc)
                return SubmitWorkOrder.Response(accepted=False, error=str(exc))
            audit.target = order.id
        return SubmitWorkOrder.Response(accepted=True, order=order)

    async def _on_cancel(self, request: Any) -> Any:
        with self._audit("cancel", request.id, reason=request.reason) as audit:
            try:
                result = await self.service.cancel(request.id, request.reason)
            except BrokerUnavailable as exc:
                audit.ok, audit.error = False, str(exc)
                return CancelWorkOrder.Response(accepted=False, error=str(exc))
            audit.ok, audit.error = result.accepted, result.error
        return CancelWorkOrder.Response(
            accepted=result.accepted,
            order=result.order if result.order is not None else WorkOrder(),
            error=result.error,
        )

    async def _on_get(self, request: Any) -> Any:
        order = self.service.get(request.id)
        if order is None:
            return GetWorkOrder.Response(found=False, error=f"unknown work order {request.id!r}")
        return GetWorkOrder.Response(found=True, order=order)
