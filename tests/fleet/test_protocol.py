"""The tiers' shared protocol: order-state rules and the JetStream order store and events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from robotfleet_nodes.fleet.protocol import (
    OrderEvents,
    OrderStore,
    accepts_from,
    advances,
    apply_update,
    now_stamp,
)
from robotfleet_nodes.idl.codec import deserialize
from robotfleet_nodes.msg import WorkOrder, WorkOrderUpdate
from robotfleet_nodes.transport import NatsTransport
from robotfleet_nodes.transport.nats._subjects import SubjectMapper


@pytest.fixture
async def transport(nats_url: str, unique: str) -> AsyncIterator[NatsTransport]:
    nats = NatsTransport(nats_url, mapper=SubjectMapper(root=unique))
    await nats.connect()
    yield nats
    await nats.close()


def _update(state: int, attempt: int = 0, **kw: object) -> WorkOrderUpdate:
    return WorkOrderUpdate(
        order_id="wo-1", state=state, attempt=attempt, stamp=now_stamp(), by="zone-1", **kw
    )


def test_updates_only_move_orders_forward() -> None:
    order = WorkOrder(id="wo-1", state=WorkOrder.STATE_ASSIGNED, attempts=1)
    assert advances(order, _update(WorkOrder.STATE_EXECUTING, 1))
    assert not advances(order, _update(WorkOrder.STATE_DISPATCHED, 1)), "a late event is ignored"
    assert not advances(order, _update(WorkOrder.STATE_ASSIGNED, 1)), "a repeated event is ignored"
    assert advances(order, _update(WorkOrder.STATE_ASSIGNED, 2)), "a reassignment starts a new attempt"
    assert advances(order, _update(WorkOrder.STATE_CANCELLED, 0)), "cancel wins over any live state"
    done = order.model_copy(update={"state": WorkOrder.STATE_COMPLETED})
    assert not advances(done, _update(WorkOrder.STATE_CANCELLED, 5)), "final states are final"


def test_apply_update_records_history_and_placement() -> None:
    order = WorkOrder(id="wo-1", area_id="area-1")
    moved = apply_update(order, _update(WorkOrder.STATE_ASSIGNED, 1, zone_id="zone-1", robot_id="robot-3"))
    assert (moved.state, moved.zone_id, moved.robot_id, moved.attempts) == (2, "zone-1", "robot-3", 1)
    assert [e.state for e in moved.history] == [WorkOrder.STATE_ASSIGNED]
    assert moved.history[0].by == "zone-1"
    assert order.history == [], "the original is not changed"


def test_an_order_taken_back_names_no_zone_and_no_robot() -> None:
    held = WorkOrder(id="wo-1", area_id="area-1", zone_id="zone-1", robot_id="robot-3", attempts=2, state=3)
    back = apply_update(held, _update(WorkOrder.STATE_DISPATCHED, 3, area_id="area-1"))
    assert (back.state, back.zone_id, back.robot_id, back.attempts) == (1, "", "", 3)
    same = apply_update(held, _update(WorkOrder.STATE_EXECUTING, 2, progress=0.5))
    assert (same.zone_id, same.robot_id) == ("zone-1", "robot-3"), "empty ids keep the order's otherwise"


async def test_store_creates_once_and_loads_everything(transport: NatsTransport) -> None:
    store = OrderStore(transport)
    await store.ensure()
    first, created = await store.create(WorkOrder(id="wo-1", task="pick"))
    again, created_again = await store.create(WorkOrder(id="wo-1", task="other"))
    assert created and not created_again
    assert again.task == "pick", "a repeated submission returns the stored order"
    await store.put(first.model_copy(update={"state": WorkOrder.STATE_DISPATCHED}))
    await store.create(WorkOrder(id="wo-2"))
    loaded = {o.id: o for o in await store.load_all()}
    assert set(loaded) == {"wo-1", "wo-2"}
    assert loaded["wo-1"].state == WorkOrder.STATE_DISPATCHED
    assert await store.get("missing") is None


async def test_events_are_deduplicated_by_order_attempt_state(transport: NatsTransport) -> None:
    events = OrderEvents(transport)
    await events.ensure()
    await events.ensure()  # idempotent
    for _ in range(3):
        await events.publish(_update(WorkOrder.STATE_EXECUTING, 1))
    await events.publish(_update(WorkOrder.STATE_COMPLETED, 1))
    js = transport.jetstream()
    info = await js.stream_info(events.stream)
    assert info.state.messages == 2
    sub = await js.subscribe(events.wildcard, ordered_consumer=True)
    got = [deserialize(WorkOrderUpdate, (await sub.next_msg(timeout=5)).data).state for _ in range(2)]
    await sub.unsubscribe()
    assert got == [WorkOrder.STATE_EXECUTING, WorkOrder.STATE_COMPLETED]


async def test_event_subjects_come_from_the_subject_mapper(transport: NatsTransport, unique: str) -> None:
    """Kind ``w`` of docs/subjects.md; the wire subjects are those of docs/fleet.md."""
    events = OrderEvents(transport)
    assert events.subject("wo-1") == f"{unique}.0.w.orders.wo-1" == transport.mapper.work("orders", "wo-1")
    assert events.wildcard == f"{unique}.0.w.orders.>"
    assert transport.mapper.to_name(events.subject("wo-1")) == ("w", "/orders/wo-1", None)
    await events.ensure()
    info = await transport.jetstream().stream_info(events.stream)
    assert info.config.subjects == [events.wildcard]


def _order(area: str = "area-1", zone: str = "", attempts: int = 1) -> WorkOrder:
    return WorkOrder(
        id="wo-1", area_id=area, zone_id=zone, attempts=attempts, state=WorkOrder.STATE_DISPATCHED
    )


def _event(zone: str, attempt: int = 1, state: int = WorkOrder.STATE_COMPLETED) -> WorkOrderUpdate:
    return WorkOrderUpdate(order_id="wo-1", attempt=attempt, state=state, zone_id=zone, by=zone)


@pytest.mark.parametrize(
    ("order", "event", "source", "accepted"),
    [
        (_order(zone="zone-1"), _event("zone-1"), "zone-1", True),  # its own order
        (_order(zone="zone-1"), _event("zone-2"), "zone-2", False),  # another zone's order
        (_order(zone="zone-1"), _event("zone-1"), "zone-2", False),  # naming another zone
        (_order(zone="zone-1", attempts=3), _event("zone-2", attempt=2), "zone-2", True),  # stale: noted only
        (_order(), _event("zone-2"), "zone-2", True),  # held by no zone, zone-2 is in area-1
        (_order(), _event("zone-9"), "zone-9", False),  # held by no zone, zone-9 is in area-2
        (_order(), _event("zone-5"), "zone-5", True),  # a zone no area reported yet
        (_order(area="area-1", zone="zone-1"), _event(""), "area-1", True),  # its area
        (_order(area="area-2", zone="zone-9"), _event(""), "area-1", False),  # another area's order
        (_order(zone="zone-1"), _event("zone-7"), "fleet", True),  # the fleet itself
        (_order(zone="zone-1"), _event("zone-7"), None, True),  # stored before sources existed
    ],
)
def test_accepts_from_binds_events_to_the_tier_holding_the_order(
    order: WorkOrder, event: WorkOrderUpdate, source: str | None, accepted: bool
) -> None:
    zone_area = {"zone-1": "area-1", "zone-2": "area-1", "zone-9": "area-2"}
    assert (
        accepts_from(order, event, source, fleet_id="fleet", areas=["area-1", "area-2"], zone_area=zone_area)
        is accepted
    )


def test_event_subjects_name_their_source() -> None:
    transport = NatsTransport("nats://127.0.0.1:1", mapper=SubjectMapper(root="r"))
    zone = OrderEvents(transport, "zone-1")
    assert zone.subject("wo-1") == "r.0.w.orders.zone-1.wo-1"
    assert zone.parse("r.0.w.orders.zone-1.wo-1") == ("zone-1", "wo-1")
    assert zone.parse("r.0.w.orders.wo-1") == (None, "wo-1")
    assert zone.parse("r.0.w.orders.a.b.c") is None
    assert zone.parse("r.0.t.orders.wo-1") is None
    assert zone.order_filter("wo-1") == "r.0.w.orders.*.wo-1"
