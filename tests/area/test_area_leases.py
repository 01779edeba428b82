"""The area's zone grants and take-back of a silent zone's orders (docs/fleet.md), on real NATS.

Zones are :class:`FakeZone` stand-ins announcing short leases; the orders a silent zone
"holds" are put in the real order bucket by the test, as the fleet would have stored them.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import eventually

from robotfleet_nodes.area.leases import TAKEN_BACK_NOTE
from robotfleet_nodes.area.node import AreaNode
from robotfleet_nodes.config import AreaConfig, LeaseConfig
from robotfleet_nodes.fleet.protocol import OrderEvents, OrderStore, area_name, nats_transport_of, now_stamp
from robotfleet_nodes.idl.codec import deserialize
from robotfleet_nodes.msg import LeaseRenewal, WorkOrder, WorkOrderEvent, WorkOrderUpdate
from robotfleet_nodes.node import Context, Node

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fleet"))
from topology import AssignWorkOrder, CancelWorkOrder, FakeZone, fleet_service, nats_context

D, A, E = WorkOrder.STATE_DISPATCHED, WorkOrder.STATE_ASSIGNED, WorkOrder.STATE_EXECUTING
#: Short leases: a silent zone's orders move 1.2 s after its last grant.
SHORT = LeaseConfig(zone_lease_s=0.5, robot_lease_s=0.5, margin_s=0.2, renew_period_s=0.2)
#: Leases long enough to look at the orders well before they may move (2.4 s).
LONGER = LeaseConfig(zone_lease_s=1.0, robot_lease_s=1.0, margin_s=0.4, renew_period_s=0.4)
PERIOD = 0.1


def area_config(zones: list[str], area_id: str = "area-1") -> AreaConfig:
    return AreaConfig(
        area_id=area_id,
        zones=zones,
        zone_silence_timeout_s=0.4,
        assign_timeout_s=2.0,
        summary_period_s=PERIOD,
    )


class Grants:
    """The area's grants as a listener receives them."""

    def __init__(self) -> None:
        self.received: list[LeaseRenewal] = []

    def __call__(self, msg: LeaseRenewal) -> None:
        self.received.append(msg)

    async def next(self, after: int | None = None) -> LeaseRenewal:
        """The first grant with a seq above ``after`` (default: above the latest received)."""
        floor = after if after is not None else (self.received[-1].seq if self.received else 0)
        return await eventually(
            lambda: next((g for g in self.received if g.seq > floor), None), what=f"a grant after {floor}"
        )


@asynccontextmanager
async def started(ctx: Context, *nodes: Node) -> AsyncIterator[None]:
    for node in nodes:
        await node.start()
    try:
        yield
    finally:
        for node in reversed(nodes):
            await node.destroy_node()


async def store_of(ctx: Context) -> OrderStore:
    store = OrderStore(nats_transport_of(ctx.transport))
    await store.ensure()
    return store


async def put_orders(store: OrderStore, *orders: WorkOrder) -> None:
    for order in orders:
        _stored, created = await store.create(order)
        assert created


def held(order_id: str, state: int, attempts: int, zone: str = "zone-1", area: str = "area-1") -> WorkOrder:
    """An order as the fleet stores it while ``zone`` holds it."""
    return WorkOrder(
        id=order_id,
        area_id=area,
        zone_id=zone,
        robot_id="robot-1" if state != D else "",
        state=state,
        attempts=attempts,
        created=now_stamp(),
        history=[WorkOrderEvent(state=state, stamp=now_stamp(), by=zone)],
    )


async def stored(store: OrderStore, order_id: str) -> WorkOrder:
    found = await store.get(order_id)
    assert found is not None, order_id
    return found[0]


async def last_event(ctx: Context, order_id: str) -> WorkOrderUpdate:
    events = OrderEvents(nats_transport_of(ctx.transport))
    await events.ensure()
    msg = await events.js.get_last_msg(events.stream, events.order_filter(order_id))
    return deserialize(WorkOrderUpdate, msg.data)


def taken_back_events(order: WorkOrder) -> list[WorkOrderEvent]:
    return [e for e in order.history if e.note.startswith(TAKEN_BACK_NOTE)]


async def held_when_read_before(store: OrderStore, order_id: str, deadline: float) -> bool | None:
    """Whether ``order_id`` is still DISPATCHED/ASSIGNED/EXECUTING at zone-1 (None: read too late).

    The order is read first, the clock after: a read that finished before ``deadline`` saw
    the state from before it, whatever the machine's load.
    """
    order = await stored(store, order_id)
    if time.monotonic() >= deadline:
        return None
    return order.zone_id == "zone-1" and order.state in (D, A, E)


# -- grants ----------------------------------------------------------------------------------
async def test_grants_list_exactly_the_live_zones(nats_url: str, unique: str) -> None:
    async with nats_context(nats_url, unique) as ctx:
        z1 = FakeZone("zone-1", context=ctx, leases=SHORT)
        z2 = FakeZone("zone-2", context=ctx, leases=SHORT)
        area = AreaNode(area_config(["zone-1", "zone-2", "zone-3"]), context=ctx)  # zone-3 never runs
        listener = Node("listener", context=ctx)
        grants = Grants()
        async with started(ctx, z1, z2, area, listener):
            await listener.create_subscription(LeaseRenewal, area_name("area-1", "leases"), grants, 10)
            await eventually(lambda: len(area.live_zones()) == 2, what="zone-1 and zone-2 live")
            grant = await grants.next()
            assert grant.granter == "area-1" and grant.lease_s == 0.0
            assert grant.holders == ["zone-1", "zone-2"]
            assert not grant.order_ids and not grant.attempts and not grant.status_seqs
            assert not grant.revoked_holders and not grant.revoked_order_ids and not grant.revoked_attempts
            later = await grants.next(grant.seq)
            assert later.seq > grant.seq  # one per period, numbered

            z2.publishing = False
            await eventually(lambda: area.silent_zones() == ["zone-2", "zone-3"], what="zone-2 silent")
            only = await grants.next()
            assert only.holders == ["zone-1"]
            assert z1.grants and z1.grants[-1].holders in (["zone-1"], ["zone-1", "zone-2"])
            assert area.granted_at("zone-1") > area.granted_at("zone-2")


# -- take-back ---------------------------------------------------------------------------------
async def test_a_silent_zone_s_orders_are_taken_back_once_and_handed_over(nats_url: str, unique: str) -> None:
    async with nats_context(nats_url, unique) as ctx:
        z1 = FakeZone("zone-1", context=ctx, leases=LONGER)
        z2 = FakeZone("zone-2", context=ctx, leases=SHORT, capacity=10)
        area = AreaNode(area_config(["zone-1", "zone-2"]), context=ctx)
        listener = Node("listener", context=ctx)
        grants = Grants()
        store = await store_of(ctx)
        queued, running, working = held("q-1", D, 0), held("a-1", A, 1), held("e-1", E, 2)
        done = held("c-1", WorkOrder.STATE_COMPLETED, 1)
        elsewhere = held("z2-1", E, 1, zone="zone-2")
        other_area = held("o-1", E, 1, area="area-2")
        await put_orders(store, queued, running, working, done, elsewhere, other_area)
        async with started(ctx, z1, z2, area, listener):
            await listener.create_subscription(LeaseRenewal, area_name("area-1", "leases"), grants, 10)
            await eventually(lambda: len(area.live_zones()) == 2, what="both zones live")
            assert area.lease_terms("zone-1").total_s == pytest.approx(2.4)

            z1.publishing = False
            await eventually(lambda: "zone-1" in area.silent_zones(), what="zone-1 silent")
            due = area.granted_at("zone-1") + area.lease_terms("zone-1").total_s
            # well before the sum: nothing moved (read the orders, then the clock)
            await eventually(lambda: time.monotonic() >= due - 1.0, what="half-way to the deadline")
            for order_id in ("q-1", "a-1", "e-1"):
                still = await held_when_read_before(store, order_id, due)
                assert still is not False, f"{order_id} moved before zone-1's leases ran out"
                assert still is not None, "the machine was too slow to look before the deadline"
            assert not z2.calls and not area.waiting

            # after it: each taken back once, at attempt + 1, and handed to zone-2
            await eventually(lambda: len(z2.assigned) == 3, timeout=15, what="three orders handed to zone-2")
            assert time.monotonic() >= due
            keys = sorted(r.idempotency_key for r in z2.assigned)
            assert keys == ["a-1/2/takeback-zone-1", "e-1/3/takeback-zone-1", "q-1/1/takeback-zone-1"]
            for request in z2.assigned:
                assert request.by == "area-1" and request.order.zone_id == "zone-2"
                assert request.order.state == D and request.order.robot_id == ""
            for order_id, attempts in (("q-1", 1), ("a-1", 2), ("e-1", 3)):
                order = await eventually(
                    lambda i=order_id: _named(store, i, "zone-2"), what=f"{order_id} stored with zone-2"
                )
                assert (order.state, order.attempts, order.robot_id) == (D, attempts, "")
                [event] = taken_back_events(order)
                assert event.by == "area-1" and event.note.startswith("taken back from silent zone-1 (")
                update = await last_event(ctx, order_id)
                assert (update.state, update.attempt, update.by) == (D, attempts, "area-1")
                assert update.note == event.note
                assert area.zone_of(order_id) == "zone-2"
            # the revocations are in the grants: (zone-1, order, the attempt it held)
            grant = await grants.next()
            revoked = set(
                zip(grant.revoked_holders, grant.revoked_order_ids, grant.revoked_attempts, strict=True)
            )
            assert revoked == {("zone-1", "q-1", 0), ("zone-1", "a-1", 1), ("zone-1", "e-1", 2)}
            assert grant.holders == ["zone-2"]

            # exactly once: later grants and take-back passes move nothing again
            await grants.next(grant.seq + 5)
            assert len(z2.calls) == 3
            for order_id, attempts in (("q-1", 1), ("a-1", 2), ("e-1", 3)):
                order = await stored(store, order_id)
                assert order.attempts == attempts and len(taken_back_events(order)) == 1
            assert await stored(store, "c-1") == done
            assert await stored(store, "z2-1") == elsewhere
            assert await stored(store, "o-1") == other_area


async def _named(store: OrderStore, order_id: str, zone: str) -> WorkOrder | None:
    order = await stored(store, order_id)
    return order if order.zone_id == zone else None


async def test_finish_zones_keep_their_orders(nats_url: str, unique: str) -> None:
    finish = SHORT.model_copy(update={"on_lease_loss": "finish"})
    async with nats_context(nats_url, unique) as ctx:
        z1 = FakeZone("zone-1", context=ctx, leases=finish)
        z2 = FakeZone("zone-2", context=ctx, leases=SHORT, capacity=10)
        area = AreaNode(area_config(["zone-1", "zone-2"]), context=ctx)
        store = await store_of(ctx)
        order = held("f-1", E, 1)
        await put_orders(store, order)
        async with started(ctx, z1, z2, area):
            await eventually(lambda: len(area.live_zones()) == 2, what="both zones live")
            assert area.lease_terms("zone-1").finish
            z1.publishing = False
            await eventually(lambda: "zone-1" in area.silent_zones(), what="zone-1 silent")
            due = area.granted_at("zone-1") + area.lease_terms("zone-1").total_s
            await eventually(lambda: time.monotonic() > due + 10 * PERIOD, what="well past the leases")
            assert await stored(store, "f-1") == order
            assert not z2.calls and not area.waiting


async def test_a_restarted_area_waits_the_whole_sum_again(nats_url: str, unique: str) -> None:
    async with nats_context(nats_url, unique) as ctx:
        z1 = FakeZone("zone-1", context=ctx, leases=SHORT)
        z2 = FakeZone("zone-2", context=ctx, leases=SHORT, capacity=10)
        first = AreaNode(area_config(["zone-1", "zone-2"]), context=ctx)
        store = await store_of(ctx)
        await put_orders(store, held("r-1", E, 1))
        async with started(ctx, z1, z2):
            await first.start()
            await eventually(lambda: len(first.live_zones()) == 2, what="both zones live")
            z1.publishing = False
            await eventually(lambda: "zone-1" in first.silent_zones(), what="zone-1 silent")
            old_due = first.granted_at("zone-1") + first.lease_terms("zone-1").total_s
            await first.destroy_node()  # the area stops before zone-1's leases ran out
            assert await held_when_read_before(store, "r-1", old_due) is not False

            await eventually(lambda: time.monotonic() > old_due + 5 * PERIOD, what="past the first deadline")
            second = AreaNode(area_config(["zone-1", "zone-2"]), context=ctx)
            async with started(ctx, second):
                start = second.granted_at("zone-1")
                # zone-1 never reported to this area: LeaseConfig()'s sum counts, from its start
                total = second.lease_terms("zone-1").total_s
                assert total == pytest.approx(sum((15.0, 10.0, 2.0)))
                await eventually(lambda: "zone-2" in second.live_zones(), what="zone-2 live")
                watch_until = time.monotonic() + 2 * SHORT.zone_lease_s + 2 * SHORT.robot_lease_s
                while time.monotonic() < watch_until:  # many passes: nothing moves
                    assert await held_when_read_before(store, "r-1", start + total) is not False
                    await asyncio.sleep(PERIOD)
                assert not z2.calls and not second.waiting


async def test_taken_back_orders_wait_for_the_first_zone_live_again(nats_url: str, unique: str) -> None:
    async with nats_context(nats_url, unique) as ctx:
        z1 = FakeZone("zone-1", context=ctx, leases=SHORT, capacity=10)
        area = AreaNode(area_config(["zone-1"]), context=ctx)
        caller = Node("caller", context=ctx)
        store = await store_of(ctx)
        await put_orders(store, held("w-1", A, 1), held("w-2", D, 0))
        async with started(ctx, z1, area, caller):
            await eventually(lambda: area.live_zones() == ["zone-1"], what="zone-1 live")
            z1.publishing = False
            await eventually(
                lambda: sorted(area.waiting) == ["w-1", "w-2"], timeout=15, what="both taken back and waiting"
            )
            order = await stored(store, "w-1")
            assert (order.state, order.attempts, order.zone_id) == (D, 2, "")
            assert not z1.calls
            # a waiting order is cancelled at the area: no zone holds it, so none is asked
            cancel = await caller.create_client(CancelWorkOrder, area_name("area-1", "cancel"))
            answer = await cancel.call(CancelWorkOrder.Request(id="w-2", reason="test"), timeout=10.0)
            assert answer.accepted and area.waiting == ["w-1"] and not z1.cancels

            z1.publishing = True  # the silent zone reports again: it is the first live zone
            await eventually(lambda: z1.assigned, what="w-1 handed to zone-1 again")
            assert [r.idempotency_key for r in z1.assigned] == ["w-1/2/takeback-zone-1"]  # w-2 stays
            assert any(("zone-1", "w-1", 1) in zip(*revoked_of(g), strict=True) for g in z1.grants)
            await eventually(lambda: _named(store, "w-1", "zone-1"), what="w-1 stored with zone-1")
            assert not area.waiting


def revoked_of(grant: LeaseRenewal) -> tuple[list[str], list[str], list[int]]:
    return list(grant.revoked_holders), list(grant.revoked_order_ids), list(grant.revoked_attempts)


async def test_the_fleet_takes_the_bumped_attempt_and_names_the_new_zone(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet, nats_context(nats_url, unique) as ctx:
        z1 = FakeZone("zone-1", context=ctx, leases=SHORT, capacity=1)
        z2 = FakeZone("zone-2", context=ctx, leases=SHORT, capacity=0)
        area = AreaNode(area_config(["zone-1", "zone-2"]), context=ctx)
        store = await store_of(ctx)
        async with started(ctx, z1, z2, area):
            await eventually(lambda: len(area.live_zones()) == 2, what="both zones live")
            _order, created = await fleet.service.submit(area_id="area-1", task="pick", order_id="fw-1")
            assert created
            await eventually(lambda: _named(store, "fw-1", "zone-1"), what="fw-1 dispatched to zone-1")

            z2.capacity = 5
            z1.publishing = False
            await eventually(lambda: z2.assigned, timeout=15, what="fw-1 handed to zone-2")
            assert z2.assigned[0].idempotency_key == "fw-1/1/takeback-zone-1"
            await eventually(
                lambda: fleet.service.orders["fw-1"].attempts == 1, what="the fleet applying the take-back"
            )
            seen = fleet.service.orders["fw-1"]
            assert seen.state == D and len(taken_back_events(seen)) == 1
            final = await eventually(lambda: _named(store, "fw-1", "zone-2"), what="fw-1 stored with zone-2")
            assert (final.state, final.attempts) == (D, 1) and len(taken_back_events(final)) == 1


# -- refusals ----------------------------------------------------------------------------------
async def test_order_refused_only_when_every_zone_refused_the_order(nats_url: str, unique: str) -> None:
    async with nats_context(nats_url, unique) as ctx:
        z1 = FakeZone("zone-1", context=ctx, leases=SHORT)
        z2 = FakeZone("zone-2", context=ctx, leases=SHORT)
        area = AreaNode(area_config(["zone-1", "zone-2"]), context=ctx)
        caller = Node("caller", context=ctx)
        async with started(ctx, z1, z2, area, caller):
            await eventually(lambda: len(area.live_zones()) == 2, what="both zones live")
            client = await caller.create_client(AssignWorkOrder, area_name("area-1", "dispatch"))
            assert await client.wait_for_service(5.0)

            async def dispatch(key: str) -> Any:
                order = WorkOrder(id="r-1", area_id="area-1", task="fly")
                request = AssignWorkOrder.Request(
                    idempotency_key=key, by="fleet", target_id="area-1", order=order
                )
                return await client.call(request, timeout=10.0)

            z1.refuse_order = "target (9, 9) is outside zone-1"
            z2.refuse_order = "unknown task 'fly'"
            answer = await dispatch("r-1/0")
            assert not answer.accepted and answer.order_refused
            assert "zone-1: target (9, 9) is outside zone-1" in answer.error
            assert "zone-2: unknown task 'fly'" in answer.error

            z2.refuse_order = ""
            z2.capacity = 0  # refuses for want of capacity: another time it may take it
            answer = await dispatch("r-1/1")
            assert not answer.accepted and not answer.order_refused
            assert "zone-1: target" in answer.error and "zone-2: no capacity" in answer.error


async def test_a_restarted_area_hands_over_what_was_taken_back_before(nats_url: str, unique: str) -> None:
    async with nats_context(nats_url, unique) as ctx:
        z2 = FakeZone("zone-2", context=ctx, leases=SHORT, capacity=10)
        area = AreaNode(area_config(["zone-1", "zone-2"]), context=ctx)
        listener = Node("listener", context=ctx)
        grants = Grants()
        store = await store_of(ctx)
        # as the fleet stores it after applying the take-back: its copy still names zone-1
        before = held("t-1", E, 1)
        taken = before.model_copy(
            update={
                "state": D,
                "attempts": 2,
                "history": [
                    *before.history,
                    WorkOrderEvent(state=D, by="area-1", note=TAKEN_BACK_NOTE + "zone-1 (no grant)"),
                ],
            }
        )
        await put_orders(store, taken)
        async with started(ctx, z2, listener):
            await listener.create_subscription(LeaseRenewal, area_name("area-1", "leases"), grants, 10)
            async with started(ctx, area):
                await eventually(lambda: z2.assigned, what="t-1 handed to zone-2")
                assert [r.idempotency_key for r in z2.assigned] == ["t-1/2/takeback-zone-1"]
                order = await eventually(lambda: _named(store, "t-1", "zone-2"), what="t-1 at zone-2")
                assert (order.state, order.attempts) == (D, 2)  # not taken back a second time
                grant = await grants.next()
                assert ("zone-1", "t-1", 1) in set(zip(*revoked_of(grant), strict=True))
