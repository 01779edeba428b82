"""``Vda5050Driver``: a VDA 5050 2.1.0 vehicle, mastered over MQTT (``driver: vda5050``).

The edge runs on the fleet's side; the vehicle is remote and speaks JSON over MQTT to
nats-server's MQTT listener. The driver reads and writes the vehicle's topics as NATS
subjects on the edge's own connection (one subscription per vehicle,
``<interface>.<major>.<manufacturer>.<serial>.*``; a ``.`` in a level is ``//``, see
:mod:`robotfleet_nodes.vda5050.topics`).

Vehicle -> fleet
    * ``connection``: ONLINE -> online; OFFLINE / CONNECTIONBROKEN (the broker's last will)
      -> OFFLINE. At start the retained ``connection`` message is read once through MQTT (a
      NATS subscriber never gets retained messages), in the background, see
      :mod:`~robotfleet_nodes.edge._vda5050_retained`. Newest wins: the subscription is
      made before the read, so a live message is newer than the retained one, which counts
      only when none came (a last will's timestamp is the time its vehicle connected, so
      timestamps cannot decide).
    * ``state`` -> :class:`~robotfleet_nodes.edge.driver.DriverStatus`: ``agvPosition``
      (x, y, theta, mapId; kept when ``positionInitialized`` is false), ``batteryState``,
      ``driving`` and ``velocity``, ``operatingMode``, ``errors`` (a FATAL one: ERROR),
      ``paused``, ``lastNodeId``, ``loads``; our order's progress from ``orderId``,
      ``nodeStates`` and ``actionStates``. Values are rounded (1 mm, 1 mrad, 0.01 m/s,
      0.1 %) so noise makes no change. No ``state`` for ``state_timeout_s`` while ONLINE:
      OFFLINE too.
    * ``factsheet`` -> :attr:`Vda5050Driver.factsheet` (validated; a new object per change);
      a vehicle that comes ONLINE without one known is sent ``factsheetRequest`` once.

Fleet -> vehicle
    * :meth:`~Vda5050Driver.start_task` checks what it can (online, not ERROR, AUTOMATIC or
      SEMIAUTOMATIC, not busy), accepts locally (EXECUTING) and publishes the ``order`` in the
      background: ``orderId`` ``<task id>.<attempt>``, a start node at the vehicle's position
      (its ``lastNodeId`` when known) and the target node joined by one edge; the target node
      carries one HARD action of the task's name. No target: one node with the action. The
      task ``charge`` without a target is the instant action ``startCharging`` (done when
      the vehicle reports charging); with a target, an order whose action is
      ``startCharging``. ``headerId`` counts per topic from a wall-clock seed.
    * The order runs once a ``state`` shows its ``orderId``; not within
      ``order_ack_timeout_s``, or refused (an error referencing it): the task fails with
      the vehicle's ``errorDescription``. Done (last node reached, no nodes or edges left,
      our action FINISHED) -> success, once; our action FAILED -> failure with its text.
    * :meth:`~Vda5050Driver.cancel_task` ends the task at once and sends ``cancelOrder``;
      :meth:`~Vda5050Driver.pause_task` / :meth:`~Vda5050Driver.resume_task` send
      ``startPause`` / ``stopPause``.

The vehicle drops (last will, or silence)
    VDA 5050 has no lease and a vehicle cannot pause itself. Idle, it is OFFLINE at once
    (the edge publishes state OFFLINE: :attr:`reports_offline`). With an order the order is
    *kept*: the edge goes on heartbeating (state OFFLINE, the order still current) so the
    zone keeps its lease and does not reassign it. The vehicle reports again with it: it goes
    on; without it: the task fails. ``offline_reassign_s`` set and passed: the task fails
    ("order given up") so the zone reassigns it; if the vehicle later reports that order as
    running it is sent ``cancelOrder`` (fencing).

Malformed input (not JSON, not an object, schema errors, another vehicle's serial number in
the header) is dropped, logged once per kind, and counted in :attr:`Vda5050Driver.malformed`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from robotfleet_nodes.config import Vda5050DriverConfig
from robotfleet_nodes.edge._vda5050_inbox import Inbox
from robotfleet_nodes.edge._vda5050_msgs import HeaderIds, VehicleState, instant_actions, read_state
from robotfleet_nodes.edge._vda5050_order import VdaOrder, judge, new_order, running, shown
from robotfleet_nodes.edge._vda5050_retained import endpoint_for, read_retained_forever
from robotfleet_nodes.edge.driver import (
    DriverEvent,
    DriverRejected,
    DriverStatus,
    OperatingMode,
    Pose2D,
    RobotState,
    SnapshotDriver,
    TaskFinished,
    TaskOutcome,
    TaskProgress,
    TaskRejected,
    TaskRequest,
)
from robotfleet_nodes.vda5050.topics import VehicleTopics

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

    from robotfleet_nodes.node.context import Context
    from robotfleet_nodes.transport import Transport
    from robotfleet_nodes.transport.nats import RawPublisher

__all__ = ["Vda5050Driver"]

log = logging.getLogger(__name__)

_ORIGIN = Pose2D(0.0, 0.0, 0.0)
_REMEMBERED = 64  # given-up orderIds kept for fencing
_TAKES_ORDERS = (OperatingMode.AUTOMATIC, OperatingMode.SEMIAUTOMATIC)
_READ_TOPICS = ("state", "connection", "factsheet")

#: Called with (orderId, seconds from publishing the order to the first state showing it).
AcceptObserver = Callable[[str, float], None]


class Vda5050Driver(SnapshotDriver):
    """The master of one VDA 5050 vehicle (see the module docstring for the mapping).

    Args:
        robot_id: the fleet's id of the vehicle.
        config: the edge's ``vda5050:`` section.
        transport: the edge's transport (a NATS one, maybe wrapped), shared with the edge.
        context: instead of ``transport``: the context whose transport to use (read at
            :meth:`start`, when the context is started).
        tls_ca: the CA the MQTT listener's certificate is checked with (``mqtts://``).
        clock: monotonic seconds, the clock ``step(now)`` is called with (tests).
    """

    kind = "vda5050"
    reports_offline = True
    #: Called for every order any driver's vehicle accepted (benchmarks: append to it).
    accept_observers: ClassVar[list[AcceptObserver]] = []

    def __init__(
        self,
        robot_id: str,
        config: Vda5050DriverConfig,
        transport: Transport | None,
        *,
        context: Context | None = None,
        tls_ca: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(robot_id)
        self._cfg = config
        self._topics = VehicleTopics(
            config.manufacturer, config.serial_number, config.interface_name, config.major_version
        )
        self._transport = transport
        self._context = context
        self._tls_ca = tls_ca
        self._clock = clock
        self._ids = HeaderIds()
        self._sub: Subscription | None = None
        self._pubs: dict[str, RawPublisher] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        # what the vehicle said
        self._conn_live = False  #: a live connection message came (it beats the retained one)
        self._online = False
        self._last_state_at = 0.0
        self._state: VehicleState | None = None
        self._pose = _ORIGIN
        self._map_id = config.map_id
        self._factsheet: dict[str, Any] | None = None
        self._factsheet_asked = False
        self._state_asked = False
        self._inbox = Inbox(robot_id, self._topics)
        # orders
        self._order: VdaOrder | None = None
        #: orderIds we ended (the vehicle must not run them) -> sent cancelOrder for it; the
        #: newest _REMEMBERED only (a vehicle reports its current order, not old ones)
        self._given_up: dict[str, bool] = {}
        #: orders accepted by the vehicle (a counter for benchmarks and tests)
        self.orders_accepted = 0

    # -- properties --------------------------------------------------------------------
    @property
    def config(self) -> Vda5050DriverConfig:
        """The ``vda5050:`` settings this driver was built with."""
        return self._cfg

    @property
    def topics(self) -> VehicleTopics:
        """The vehicle's topics and subjects."""
        return self._topics

    @property
    def factsheet(self) -> Mapping[str, Any] | None:
        """The vehicle's last valid ``factsheet`` (a new object per change), or None."""
        return self._factsheet

    @property
    def malformed(self) -> int:
        """Messages dropped as malformed or schema-invalid (see the module docstring)."""
        return self._inbox.malformed

    @property
    def online(self) -> bool:
        """Whether the vehicle is connected and reporting."""
        return self._online

    # -- RobotDriver -------------------------------------------------------------------
    def _snapshot(self, seq: int) -> DriverStatus:
        st = self._state
        order = self._order
        return DriverStatus(
            seq=seq,
            pose=self._pose,
            battery_percent=st.battery_percent if st is not None else 0.0,
            charging=st.charging if st is not None else False,
            state=self._robot_state(),
            mode=st.mode if st is not None else OperatingMode.AUTOMATIC,
            current_task_id=order.request.task_id if order is not None else None,
            progress=order.progress if order is not None else 0.0,
            velocity=st.velocity if st is not None and self._online else 0.0,
            errors=st.errors if st is not None else (),
            last_node_id=st.last_node_id if st is not None else "",
            map_id=self._map_id,
            loads=st.loads if st is not None else 0,
            driving=(st.driving and self._online) if st is not None else None,
        )

    def _robot_state(self) -> RobotState:
        st = self._state
        if not self._online:
            return RobotState.OFFLINE
        if st is not None and any(e.level == "FATAL" for e in st.errors):
            return RobotState.ERROR
        if self._order is not None:
            return RobotState.EXECUTING
        return RobotState.CHARGING if st is not None and st.charging else RobotState.IDLE

    def start_task(self, req: TaskRequest) -> None:
        """Accept ``req`` and publish its ``order`` in the background (see the module docstring).

        Raises:
            DriverBusy: a task is running.
            DriverRejected: the vehicle is OFFLINE, has not reported yet, is in ERROR or in a
                manual mode, or the driver is not started.
            TaskRejected: an empty task id or task name.
        """
        if not req.task_id or not req.task:
            raise TaskRejected("task_id and task must not be empty")
        if self._sub is None:
            raise DriverRejected(f"robot {self._id}: the VDA 5050 driver is not started")
        st = self._state
        if not self._online or st is None:
            raise DriverRejected(
                f"robot {self._id} is OFFLINE (VDA 5050 vehicle {self._topics.prefix} "
                f"{'has not reported a state' if self._online else 'is not connected'})"
            )
        if st.mode not in _TAKES_ORDERS:
            raise DriverRejected(f"robot {self._id} is in {st.mode.value} mode; it takes orders in AUTOMATIC")
        self._refuse_unless_free(st.errors, self._order.request.task_id if self._order else None)
        t = self._topics
        order = new_order(
            req,
            self._ids,
            t.manufacturer,
            t.serial_number,
            at=(st.last_node_id, self._pose),
            map_id=self._map_id or self._cfg.map_id,
            now=self._clock(),
        )
        self._order = order
        self._dirty = True
        self._send("instantActions" if order.instant else "order", order.message)

    def cancel_task(self, task_id: str) -> bool:
        """End ``task_id`` now ("cancelled") and send ``cancelOrder`` in the background."""
        order = self._order
        if order is None or order.request.task_id != task_id:
            return False
        self._finish(order, False, "cancelled")
        if not order.instant:
            self._fence(order.order_id)
        return True

    def pause_task(self, task_id: str) -> bool:
        """Send ``startPause``; True if ``task_id`` was running (and not paused)."""
        order = self._order
        if order is None or order.request.task_id != task_id or order.paused:
            return False
        order.paused = True
        self._instant("startPause")
        return True

    def resume_task(self, task_id: str) -> bool:
        """Send ``stopPause``; True if ``task_id`` was paused."""
        order = self._order
        if order is None or order.request.task_id != task_id or not order.paused:
            return False
        order.paused = False
        self._instant("stopPause")
        return True

    def step(self, now: float) -> list[DriverEvent]:
        """Check state silence, the order's acknowledgement and ``offline_reassign_s`` at ``now``."""
        cfg = self._cfg
        if self._online and now - self._last_state_at > cfg.state_timeout_s:
            self._go_offline(f"no state for {cfg.state_timeout_s:g} s")
        order = self._order
        if order is not None:
            if not self._online:
                since = order.offline_since
                limit = cfg.offline_reassign_s
                if since is not None and limit is not None and now - since >= limit:
                    self._finish(
                        order,
                        False,
                        f"vehicle offline for {now - since:.0f} s; order given up (offline_reassign_s)",
                    )  # (given up: fenced should the vehicle come back running it)
            elif order.accepted_at is None and now - order.sent_at > cfg.order_ack_timeout_s:
                what = "charging" if order.instant else f"order {order.order_id}"
                self._finish(
                    order,
                    False,
                    f"the vehicle did not take {what} within {cfg.order_ack_timeout_s:g} s",
                )
        return self._step_result(self._pending)

    async def start(self) -> None:
        """Subscribe the vehicle's subjects and read the retained ``connection`` (background)."""
        if self._sub is not None:
            return
        if self._closed:
            raise RuntimeError(f"robot {self._id}: the VDA 5050 driver is closed")
        if self._transport is None and self._context is not None:
            self._transport = self._context.transport
        if self._transport is None:
            raise DriverRejected(
                f"robot {self._id}: driver: vda5050 needs the edge's NATS transport; build it with "
                "driver_from_config(config, context)"
            )
        from robotfleet_nodes.fleet.protocol import nats_transport_of

        nats = nats_transport_of(self._transport)
        prefix = self._topics.subject_prefix
        self._pubs = {
            name: await nats.raw_publisher(f"{prefix}.{name}") for name in ("order", "instantActions")
        }
        self._sub = await nats.subscribe_raw(f"{prefix}.*", self._on_msg)
        self._spawn(self._read_retained(nats.url))
        log.info("%s: VDA 5050 master of %s", self._id, self._topics.prefix)

    async def close(self) -> None:
        """Unsubscribe and stop background work; idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except Exception:  # the connection may be closed already
                log.debug("%s: unsubscribe failed", self._id, exc_info=True)

    # -- the vehicle's messages ---------------------------------------------------------
    async def _read_retained(self, nats_url: str | None) -> None:
        try:
            endpoint = endpoint_for(self._cfg, self._id, nats_url, self._tls_ca)
        except Exception as exc:
            log.error("%s: cannot read the vehicle's retained connection: %s", self._id, exc)  # noqa: TRY400
            return
        topic = self._topics.topic("connection")
        for payload in await read_retained_forever(endpoint, topic, self._id):
            self._on_payload("connection", payload, live=False)

    async def _on_msg(self, msg: Msg) -> None:
        name = msg.subject.rsplit(".", 1)[-1]
        if name in _READ_TOPICS:
            self._on_payload(name, msg.data)

    def _on_payload(self, topic: str, payload: bytes, *, live: bool = True) -> None:
        msg = self._inbox.check(topic, payload)
        if msg is None:
            return
        try:
            if topic == "state":
                self._on_state(read_state(msg))
            elif topic == "connection":
                self._on_connection(msg, live)
            else:
                self._on_factsheet(msg)
        except Exception:  # a bug here must not kill the subscription
            log.exception("%s: could not handle a %s message", self._id, topic)

    def _on_connection(self, msg: Mapping[str, Any], live: bool) -> None:
        # The subscription is made before the retained read starts: whatever the vehicle
        # published since comes live, so the retained message counts only if nothing did.
        # (Timestamps cannot decide: a last will carries the time the vehicle connected.)
        if live:
            self._conn_live = True
        elif self._conn_live:
            return
        state = msg["connectionState"]
        if state == "ONLINE":
            self._go_online("connection ONLINE")
        else:
            self._go_offline(f"connection {state}")

    def _on_factsheet(self, msg: dict[str, Any]) -> None:
        if msg != self._factsheet:
            self._factsheet = msg
            log.info("%s: factsheet received", self._id)

    def _go_online(self, why: str) -> None:
        self._last_state_at = self._clock()
        if self._online:
            return
        self._online = True
        self._dirty = True
        log.info("%s: vehicle %s is ONLINE (%s)", self._id, self._topics.prefix, why)
        if self._factsheet is None and not self._factsheet_asked:
            self._factsheet_asked = True
            self._instant("factsheetRequest")
        if self._state is None and not self._state_asked:
            self._state_asked = True
            self._instant("stateRequest")
        order = self._order
        if order is not None and order.accepted_at is None and order.resend:
            order.resend = False
            order.sent_at = self._clock()
            self._send("instantActions" if order.instant else "order", order.message)

    def _go_offline(self, why: str) -> None:
        if not self._online:
            return
        self._online = False
        self._dirty = True
        order = self._order
        if order is not None:
            order.offline_since = self._clock()
            order.resend = order.accepted_at is None
            log.warning(
                "%s: vehicle is OFFLINE (%s); keeping task %s (offline_reassign_s %s)",
                self._id,
                why,
                order.request.task_id,
                self._cfg.offline_reassign_s,
            )
        else:
            log.warning("%s: vehicle is OFFLINE (%s)", self._id, why)

    def _on_state(self, st: VehicleState) -> None:
        previous = self._state
        self._state = st
        self._go_online("state")
        if st.pose is not None and st.pose != self._pose:
            self._pose = st.pose
            self._dirty = True
        if st.map_id and st.map_id != self._map_id:
            self._map_id = st.map_id
            self._dirty = True
        if previous is None or shown(previous) != shown(st):
            self._dirty = True
        order = self._order
        if order is not None:
            order.offline_since = None
            self._follow(order, st)
        if self._given_up.get(st.order_id) is False and running(st):
            log.warning(
                "%s: the vehicle runs order %s, which was given up: cancelling it", self._id, st.order_id
            )
            self._fence(st.order_id)

    def _follow(self, order: VdaOrder, st: VehicleState) -> None:
        verdict = judge(order, st)
        if verdict.accepted and order.accepted_at is None:
            order.accepted_at = self._clock()
            self.orders_accepted += 1
            latency = order.accepted_at - order.sent_at
            for observer in self.accept_observers:
                observer(order.order_id, latency)
        if verdict.success is not None:
            self._finish(order, verdict.success, verdict.message)
        elif verdict.progress > order.progress:
            order.progress = verdict.progress
            self._dirty = True
            self._emit(TaskProgress(order.request.task_id, verdict.progress))

    # -- orders ---------------------------------------------------------------------------
    def _finish(self, order: VdaOrder, success: bool, message: str) -> None:
        """Report ``order`` finished, once."""
        if order is not self._order:
            return
        if success and order.progress < 1.0:
            order.progress = 1.0
            self._emit(TaskProgress(order.request.task_id, 1.0))
        self._emit(TaskFinished(TaskOutcome(order.request.task_id, success, message, self._pose)))
        self._order = None
        self._dirty = True
        if not success:
            self._give_up(order.order_id)
            log.info("%s: task %s ended: %s", self._id, order.request.task_id, message)

    def _give_up(self, order_id: str, *, fenced: bool = False) -> None:
        given = self._given_up
        given[order_id] = fenced or given.get(order_id, False)
        if len(given) > _REMEMBERED:
            del given[next(iter(given))]

    def _fence(self, order_id: str) -> None:
        self._give_up(order_id, fenced=True)
        self._instant("cancelOrder")

    def _instant(self, action_type: str) -> None:
        t = self._topics
        self._send("instantActions", instant_actions(self._ids, t.manufacturer, t.serial_number, action_type))

    def _send(self, topic: str, message: dict[str, Any]) -> None:
        pub = self._pubs.get(topic)
        if pub is None or self._closed:
            return
        self._spawn(self._publish(pub, topic, json.dumps(message, separators=(",", ":")).encode()))

    async def _publish(self, pub: RawPublisher, topic: str, payload: bytes) -> None:
        try:
            await pub.publish(payload)
        except Exception as exc:
            log.warning("%s: could not publish %s: %s", self._id, topic, exc)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
