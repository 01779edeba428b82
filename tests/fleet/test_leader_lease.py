"""The fleet leader lease (fleet/_leader.py) and a new leader's consumer take-over, on real NATS.

Each lease runs on a NATS connection of its own, like an instance in its own process; a
"crash" stops its task without releasing (what ``kill -9`` leaves behind).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import prometheus_client as prometheus
import pytest
from topology import eventually, nats_context

from robotfleet_nodes._callbacks import cancel_and_wait
from robotfleet_nodes.config import FailoverConfig, FleetConfig
from robotfleet_nodes.fleet._consumer import OrderEventConsumer
from robotfleet_nodes.fleet._leader import LEADER_KEY, LeaderLease, LeaderRecord
from robotfleet_nodes.fleet.protocol import OrderEvents, OrderStore, nats_transport_of, now_stamp
from robotfleet_nodes.fleet.service import FleetService, NotLeader
from robotfleet_nodes.msg import WorkOrder, WorkOrderUpdate

LEASE_S = 1.5
PERIOD_S = 0.15


@asynccontextmanager
async def leases(nats_url: str, root: str, *instances: str) -> AsyncIterator[list[LeaderLease]]:
    """A lease per instance id (started in order), each on its own connection."""
    async with AsyncExitStack() as stack:
        made: list[LeaderLease] = []
        for instance in instances:
            context = await stack.enter_async_context(nats_context(nats_url, root))
            config = FailoverConfig(instance_id=instance, lease_s=LEASE_S, renew_period_s=PERIOD_S)
            lease = LeaderLease(
                nats_transport_of(context.transport), config, url=lambda i=instance: f"http://{i}"
            )
            await lease.start()
            stack.push_async_callback(lease.stop)
            made.append(lease)
        yield made


async def crash(lease: LeaderLease) -> None:
    """Stop ``lease`` as ``kill -9`` (or a stall) would: no renewal, no release. Its
    :meth:`~LeaderLease.holds` still says what the dead instance would have believed."""
    assert lease._task is not None
    await cancel_and_wait(lease._task, retry_s=PERIOD_S)
    lease._task = None


async def renewals_seen(standby: LeaderLease, count: int) -> None:
    """Wait until ``standby`` has seen ``count`` more revisions of the lease, never leading."""
    start = standby._revision

    def seen() -> bool:
        assert not standby.is_leader, "the standby took over a lease that was being renewed"
        return standby._revision >= start + count

    await eventually(seen, timeout=30, what=f"{count} renewals seen by the standby")


async def test_one_leads_the_other_takes_over_only_after_the_lease(nats_url: str, unique: str) -> None:
    async with leases(nats_url, unique, "fleet-a", "fleet-b") as (a, b):
        assert a.is_leader and a.holds() and a.epoch == 1
        assert not b.is_leader and not b.holds()
        await eventually(lambda: b.leader_url == "http://fleet-a", timeout=5, what="b sees a and its URL")
        assert b.leader == "fleet-a"
        error = b.not_leader("work order not submitted")
        assert (error.leader, error.leader_url) == ("fleet-a", "http://fleet-a")
        assert "fleet-a (http://fleet-a): send writes there" in str(error)
        await renewals_seen(b, round(2 * LEASE_S / PERIOD_S))  # renewed all along: b waits
        assert a.is_leader
        await crash(a)
        await eventually(lambda: b.is_leader, timeout=10, what="b takes over")
        # never two leaders: by its own clock, the dead leader had stopped already
        assert not a.holds()
        assert b.epoch == 2  # a take-over: the fencing token grows


async def test_a_clean_stop_hands_over_at_once(nats_url: str, unique: str) -> None:
    async with leases(nats_url, unique, "fleet-a", "fleet-b") as (a, b):
        await a.stop()  # writes the lease vacant: a standby takes it at its next look
        vacant = LeaderRecord.decode((await b._kv.get(LEADER_KEY)).value)
        assert vacant is not None and (vacant.instance, vacant.epoch) == ("", 1)
        await eventually(lambda: b.is_leader, timeout=10, what="b takes over a vacant lease")
        assert b.epoch == 2


async def test_the_same_instance_takes_its_own_lease_back_on_restart(nats_url: str, unique: str) -> None:
    async with leases(nats_url, unique, "fleet-a", "fleet-b") as (a, b):
        await crash(a)
        async with leases(nats_url, unique, "fleet-a") as (again,):
            assert again.is_leader and again.epoch == 2  # at its start, not a lease later
            await renewals_seen(b, 3)
            assert b.leader == "fleet-a" and b.record is not None and b.record.epoch == 2


async def test_a_leader_whose_last_renewal_landed_unanswered_takes_its_lease_back_at_once(
    nats_url: str, unique: str
) -> None:
    """The broker died between storing a renewal and answering it: the deposed leader sees a
    revision it did not write, but it is its own record of its own epoch; it takes the lease
    back at its next look (a whole lease later, the chaos benchmark's broker restart took
    5.1-5.3 s to a new order instead of 2-3 s)."""
    async with leases(nats_url, unique, "fleet-a") as (a,):
        await crash(a)
        assert a.record is not None
        entry = await a._kv.get(LEADER_KEY)
        await a._kv.update(LEADER_KEY, a.record.encode(), last=entry.revision)  # the renewal that landed
        a._depose()  # what failed renewals do
        assert not a.is_leader
        await a._look()
        assert a.is_leader and a.epoch == 2
        # another instance's take-over (epoch + 1 under another name) is never taken back early
        entry = await a._kv.get(LEADER_KEY)
        await a._kv.update(LEADER_KEY, LeaderRecord("fleet-b", 3, "", 0.0).encode(), last=entry.revision)
        a._depose()
        await a._look()
        assert not a.is_leader


async def test_stop_ends_the_lease_even_when_a_cancel_is_swallowed(nats_url: str, unique: str) -> None:
    """Python 3.11's ``wait_for`` returns a reply that lands together with a cancel and drops
    the cancel: ``stop()`` must end the lease's task anyway (it hung under load)."""
    async with leases(nats_url, unique, "fleet-a") as (a,):
        step = a._step
        inside, swallowed = asyncio.Event(), asyncio.Event()

        async def step_that_swallows_one_cancel() -> None:
            await step()
            inside.set()
            try:
                await asyncio.sleep(3600)  # a renewal whose reply is on its way
            except asyncio.CancelledError:
                if swallowed.is_set():
                    raise
                swallowed.set()  # the reply won: the cancel is gone

        a._step = step_that_swallows_one_cancel  # type: ignore[method-assign]
        await asyncio.wait_for(inside.wait(), timeout=10)
        await asyncio.wait_for(a.stop(), timeout=10)
        assert swallowed.is_set() and a._task is None and not a.is_leader


async def test_a_leader_that_lost_its_lease_stands_down_at_once(nats_url: str, unique: str) -> None:
    """Another writer took the key (its compare-and-set won): the old leader's next renewal
    fails and it stops leading; ``holds()`` is False from then on."""
    async with leases(nats_url, unique, "fleet-a") as (a,):
        kv = a._kv
        entry = await kv.get(LEADER_KEY)
        await kv.update(LEADER_KEY, LeaderRecord("fleet-x", 7, "", 0.0).encode(), last=entry.revision)
        await eventually(lambda: not a.is_leader, timeout=10, what="a stands down")
        assert not a.holds()
        await eventually(lambda: a.leader == "fleet-x", timeout=10, what="a sees fleet-x")
        # fleet-x never renews: a takes over after a whole lease
        await eventually(lambda: a.is_leader, timeout=10, what="a takes the lapsed lease")
        assert a.epoch == 8


@pytest.mark.timeout(30)
async def test_a_new_leader_gets_the_events_the_old_one_fetched_and_never_acked(
    nats_url: str, unique: str
) -> None:
    """Without the take-over they would come again only after the consumer's ack wait (30 s)."""
    async with nats_context(nats_url, unique) as old, nats_context(nats_url, unique) as new:
        events = OrderEvents(nats_transport_of(old.transport), "zone-1")
        await events.ensure(create=True)
        received = prometheus.Counter("t_events", "test", registry=prometheus.CollectorRegistry())
        applied: list[str] = []

        async def apply_all(order_id: str, updates: list[object], sources: list[str | None]) -> None:
            applied.append(order_id)

        first = OrderEventConsumer(events, fleet_id="fleet", apply_all=apply_all, received=received)
        sub = await first.subscribe()
        for i in range(3):
            update = WorkOrderUpdate(
                order_id=f"o-{i}",
                attempt=1,
                state=WorkOrder.STATE_ASSIGNED,
                zone_id="zone-1",
                stamp=now_stamp(),
            )
            await events.publish(update)
        fetched = await sub.fetch(batch=3, timeout=5)  # the old leader dies holding these
        assert len(fetched) == 3

        new_events = OrderEvents(nats_transport_of(new.transport))
        second = OrderEventConsumer(new_events, fleet_id="fleet", apply_all=apply_all, received=received)
        running = True
        task = asyncio.create_task(second.run(await second.subscribe(take_over=True), lambda: running))
        try:
            await eventually(lambda: sorted(applied) == ["o-0", "o-1", "o-2"], timeout=5, what="events again")
        finally:
            running = False
            await asyncio.wait_for(task, 5)


async def test_a_new_leader_takes_no_write_until_it_has_loaded_the_bucket(
    nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An order accepted while the bucket is read would be lost from the index (and from the
    dispatch queue) when the snapshot replaces it: writes wait for the load (found by
    benchmarks/cluster.py: 5 orders accepted at a take-over were never dispatched)."""
    loading, release = asyncio.Event(), asyncio.Event()
    read_all = OrderStore.load_all

    async def slow_load_all(self: OrderStore) -> list[WorkOrder]:
        orders = await read_all(self)
        loading.set()
        await release.wait()
        return orders

    monkeypatch.setattr(OrderStore, "load_all", slow_load_all)
    async with nats_context(nats_url, unique) as context:
        config = FleetConfig(
            failover=FailoverConfig(instance_id="fleet-a", lease_s=LEASE_S, renew_period_s=PERIOD_S)
        )
        service = FleetService(config, context)
        starting = asyncio.create_task(service.start())
        try:
            await asyncio.wait_for(loading.wait(), 10)
            with pytest.raises(NotLeader):
                await service.submit(area_id="area-1", task="pick", order_id="during-load")
            release.set()
            await asyncio.wait_for(starting, 10)
            order, created = await service.submit(area_id="area-1", task="pick", order_id="after-load")
            assert created and service.get(order.id) is not None
            assert service.queued("area-1") == ["after-load"]
        finally:
            release.set()
            await asyncio.gather(starting, return_exceptions=True)
            await service.stop()
