"""One order of :mod:`robotfleet_nodes.edge.vda5050` (:class:`VdaOrder`) and what a vehicle's
``state`` says of it (:func:`judge`).

A task becomes an ``order`` (``orderId`` ``<task id>.<attempt>``) whose last node carries
one action of the task's name; a ``charge`` task without a target becomes the instant action
``startCharging`` instead. :func:`judge` reads one :class:`VehicleState` against the order:
accepted (the state shows our ``orderId``), progress (accepted, nodes passed, the action
finished: each a step),
done (last node reached, no nodes or edges left, our action FINISHED), failed (our action
FAILED, an error referencing our ``orderId``, or the vehicle runs another order after it had
ours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from robotfleet_nodes.edge._vda5050_msgs import (
    HeaderIds,
    VehicleState,
    fresh_action_id,
    instant_actions,
    order_message,
)
from robotfleet_nodes.edge.driver import Pose2D, TaskRequest

__all__ = ["CHARGE_TASK", "VdaOrder", "Verdict", "judge", "new_order", "order_id_of", "running", "shown"]

#: The task name that sends the vehicle to charge (``startCharging``).
CHARGE_TASK = "charge"


def order_id_of(req: TaskRequest) -> str:
    """The ``orderId`` of ``req``: ``<task id>.<attempt>`` (a vehicle ignores a repeated orderId
    with the same orderUpdateId, spec 6.6.4, so every attempt needs its own)."""
    return f"{req.task_id}.{req.attempt}"


@dataclass(slots=True)
class VdaOrder:
    """The task being handed to / executed by the vehicle."""

    request: TaskRequest
    order_id: str
    node_ids: tuple[str, ...]  #: empty for an instant ``startCharging``
    action_id: str
    message: dict[str, Any]  #: the ``order`` or ``instantActions`` message (resent on return)
    sent_at: float  #: monotonic; when it was (re)sent
    accepted_at: float | None = None
    progress: float = 0.0
    paused: bool = False
    offline_since: float | None = None
    resend: bool = False  #: send ``message`` again when the vehicle is back

    @property
    def instant(self) -> bool:
        """A ``startCharging`` instant action, not an order."""
        return not self.node_ids


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one state says of an order: ``accepted`` now, new ``progress``, and an end:
    ``success`` True/False with ``message``, or None (still running / not yet accepted)."""

    accepted: bool = False
    progress: float = 0.0
    success: bool | None = None
    message: str = ""


_WAIT = Verdict()
_FINAL = ("FINISHED", "FAILED")


def _error_text(state: VehicleState, order_id: str, fallback: str) -> str:
    ref = state.order_errors.get(order_id)
    if ref is not None:
        return ref[1]
    for error in state.errors:
        if error.description:
            return error.description
    return fallback


def judge(order: VdaOrder, state: VehicleState) -> Verdict:
    """What ``state`` says of ``order`` (see the module docstring)."""
    if order.instant:
        if state.charging:
            return Verdict(accepted=order.accepted_at is None, progress=1.0, success=True, message="charging")
        return _WAIT
    ours = state.order_id == order.order_id
    if not ours:
        ref = state.order_errors.get(order.order_id)
        if ref is not None:
            code, text = ref
            return Verdict(success=False, message=f"the vehicle refused the order ({code}): {text}")
        if order.accepted_at is not None:
            return Verdict(
                success=False,
                message=(
                    f"the vehicle no longer has order {order.order_id} "
                    f"(it reports order {state.order_id!r}): it lost it"
                ),
            )
        return _WAIT
    accepted = order.accepted_at is None
    status, result = state.actions.get(order.action_id, ("", ""))
    if status == "FAILED":
        text = result or _error_text(state, order.order_id, f"action {order.request.task!r} failed")
        return Verdict(accepted=accepted, progress=order.progress, success=False, message=text)
    ref = state.order_errors.get(order.order_id)
    if ref is not None:
        code, text = ref
        return Verdict(accepted=accepted, progress=order.progress, success=False, message=f"{code}: {text}")
    remaining = set(state.node_ids)
    passed = sum(1 for n in order.node_ids if n not in remaining)
    finished = status == "FINISHED"
    total = len(order.node_ids) + 2  # accepted, each node passed, the action finished
    if finished and state.last_node_id == order.node_ids[-1] and not state.node_ids and state.edge_count == 0:
        return Verdict(accepted=accepted, progress=1.0, success=True, message=result or "completed")
    progress = min((1 + passed + (1 if finished else 0)) / total, 0.99)
    return Verdict(accepted=accepted, progress=max(progress, order.progress))


def new_order(
    req: TaskRequest,
    ids: HeaderIds,
    manufacturer: str,
    serial: str,
    *,
    at: tuple[str, Pose2D],
    map_id: str,
    now: float,
) -> VdaOrder:
    """The order (or ``startCharging``) for ``req``, the vehicle being at node ``at`` (its
    ``lastNodeId``, empty when unknown, and its pose); see the module docstring."""
    order_id = order_id_of(req)
    action_id = fresh_action_id(order_id)
    if req.task == CHARGE_TASK and req.target is None:
        message = instant_actions(ids, manufacturer, serial, "startCharging")
        return VdaOrder(req, order_id, (), action_id, message, now)
    last_node, pose = at
    nodes = [(last_node or f"{order_id}-start", pose)]
    if req.target is not None:
        nodes.append((f"{order_id}-target", req.target))
    message = order_message(
        ids,
        manufacturer,
        serial,
        order_id=order_id,
        nodes=nodes,
        map_id=map_id,
        action_type="startCharging" if req.task == CHARGE_TASK else req.task,
        action_id=action_id,
    )
    return VdaOrder(req, order_id, tuple(n for n, _ in nodes), action_id, message, now)


def shown(st: VehicleState) -> tuple[Any, ...]:
    """The fields of a state that show in the status (a change of any is a status change)."""
    return (
        st.battery_percent,
        st.charging,
        st.driving,
        st.velocity,
        st.mode,
        st.errors,
        st.last_node_id,
        st.loads,
        st.paused,
    )


def running(st: VehicleState) -> bool:
    """Whether the vehicle still works on its order (nodes to pass, actions not ended)."""
    return bool(st.node_ids) or any(status not in _FINAL for status, _ in st.actions.values())
