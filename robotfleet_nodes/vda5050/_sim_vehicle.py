"""One simulated VDA 5050 vehicle: its MQTT session, the messages it takes, the state it sends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import aiomqtt

from robotfleet_nodes.errors import TransportError
from robotfleet_nodes.vda5050 import errors
from robotfleet_nodes.vda5050._sim_factsheet import factsheet_body
from robotfleet_nodes.vda5050._sim_link import MqttLink
from robotfleet_nodes.vda5050._sim_model import OrderOutcome, VehicleModel, error_entry
from robotfleet_nodes.vda5050._sim_work import OrderWorker, SimCounters
from robotfleet_nodes.vda5050.topics import (
    DEFAULT_INTERFACE,
    DEFAULT_MAJOR_VERSION,
    VehicleTopics,
    default_robot_id,
)

__all__ = ["Listener", "VehicleSim"]

_log = logging.getLogger(__name__)
#: Called with (topic name, raw payload) for every message the vehicle receives.
Listener = Callable[[str, bytes], None]
_CHARGE_PER_S = 1.0  # battery percent gained per second of charging


class VehicleSim:
    """A simulated VDA 5050 2.1.0 vehicle speaking MQTT only (it stands for a third-party AGV).

    ``await start()`` connects (last will: ``connection`` CONNECTIONBROKEN, retained), publishes
    ``connection`` ONLINE (retained) and the ``factsheet`` (retained), subscribes ``order`` and
    ``instantActions``, and sends ``state`` on every change and at least every
    ``state_period_s``. ``await stop()`` says OFFLINE and disconnects; ``await drop()`` closes the
    socket without DISCONNECT, so the broker publishes the will. A connection lost any other way
    is re-established with back-off. See ``docs/fleet.md`` ("The VDA 5050 vehicle simulator").

    Args:
        manufacturer, serial_number, interface_name, major_version: the topic levels
            (``<interface>/<major>/<manufacturer>/<serial>/<topic>``).
        mqtt_url: ``mqtt://host:port`` or ``mqtts://host:port`` (then ``tls_ca`` verifies the
            broker; without it the system's CAs do).
        username, password: the MQTT login (password alone: the username is the client id).
        client_id: the MQTT client id; default ``default_robot_id(manufacturer, serial_number)``.
        speed: m/s; work_time_s: seconds each action runs; state_period_s: the longest gap
            between two ``state`` messages; start, map_id, battery: where it begins.
        validate: also check every message it sends against the schemas (received ones are
            always checked); a failure is logged and counted (``counters.invalid_sent``).
    """

    def __init__(
        self,
        manufacturer: str,
        serial_number: str,
        *,
        mqtt_url: str,
        interface_name: str = DEFAULT_INTERFACE,
        major_version: str = DEFAULT_MAJOR_VERSION,
        username: str | None = None,
        password: str | None = None,
        tls_ca: str | None = None,
        client_id: str | None = None,
        speed: float = 1.0,
        work_time_s: float = 0.5,
        state_period_s: float = 5.0,
        start: tuple[float, float, float] = (0.0, 0.0, 0.0),
        map_id: str = "map",
        battery: float = 100.0,
        validate: bool = False,
    ) -> None:
        self.topics = VehicleTopics(manufacturer, serial_number, interface_name, major_version)
        self.client_id = client_id or default_robot_id(manufacturer, serial_number)
        self.state_period_s = state_period_s
        self.model = VehicleModel(x=start[0], y=start[1], theta=start[2], map_id=map_id, battery=battery)
        self._counters = SimCounters()
        self._link = MqttLink(
            self.topics,
            mqtt_url=mqtt_url,
            client_id=self.client_id,
            username=username,
            password=password,
            tls_ca=tls_ca,
            validate=validate,
        )
        self._factsheet = factsheet_body(speed=speed, work_time_s=work_time_s, state_period_s=state_period_s)
        self._go = asyncio.Event()
        self._go.set()
        self._halt = asyncio.Event()
        self._dirty = asyncio.Event()
        self._worker = OrderWorker(
            self.model,
            self._counters,
            speed=speed,
            work_time_s=work_time_s,
            go=self._go,
            halt=self._halt,
            changed=self._dirty.set,
        )
        self._listeners: list[Listener] = []
        self._run_task: asyncio.Task[None] | None = None
        self._order_task: asyncio.Task[None] | None = None
        self._charge_task: asyncio.Task[None] | None = None
        self._state_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._ending = False
        self.connected = asyncio.Event()  #: set while the MQTT session is up (after ONLINE)

    @property
    def counters(self) -> SimCounters:
        """What the vehicle did so far (the same object, kept up to date)."""
        self._counters.messages_sent = self._link.sent
        self._counters.invalid_sent = self._link.invalid_sent
        return self._counters

    @property
    def manufacturer(self) -> str:
        """The vehicle's manufacturer (a topic level)."""
        return self.topics.manufacturer

    @property
    def serial_number(self) -> str:
        """The vehicle's serialNumber (a topic level)."""
        return self.topics.serial_number

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(topic_name, payload)`` for every message received (tests use it)."""
        self._listeners.append(listener)

    # -- life cycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect and go ONLINE; raises :class:`TransportError` if the first connect fails."""
        if self._run_task is not None and not self._run_task.done():
            return
        self._ending = False
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._run_task = asyncio.create_task(self._run(ready), name=f"vda5050-sim {self.client_id}")
        try:
            await ready
        except BaseException:
            await self._cancel(self._run_task)
            raise
        if self.model.has_active_order:  # stopped or dropped mid-order: carry on where it stands
            self._resume_order()

    async def stop(self) -> None:
        """Graceful end: ``connection`` OFFLINE (QoS 1, retained), then MQTT DISCONNECT."""
        self._ending = True
        await self._halt_work()
        if self.connected.is_set():
            await self._link.publish("connection", {"connectionState": "OFFLINE"}, qos=1, retain=True)
        await self._cancel(self._run_task)
        self.connected.clear()

    async def drop(self) -> None:
        """Ungraceful end: the socket closes without DISCONNECT, so the broker sends the will."""
        self._ending = True
        await self._halt_work()
        self._link.drop()
        if self._run_task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._run_task), 10)
        await self._cancel(self._run_task)
        self.connected.clear()

    async def _halt_work(self) -> None:
        """Cancel everything that publishes, so OFFLINE is the vehicle's last word."""
        for task in (self._order_task, self._charge_task, self._state_task, *self._background):
            await self._cancel(task)

    @staticmethod
    async def _cancel(task: asyncio.Task[None] | None) -> None:
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, ready: asyncio.Future[None]) -> None:
        try:
            await self._serve(ready)
        except BaseException as exc:
            if not ready.done():  # start() must not wait for ever on an unexpected failure
                ready.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            _log.exception("%s: the simulated vehicle stopped", self.client_id)
        finally:
            self.connected.clear()

    async def _serve(self, ready: asyncio.Future[None]) -> None:
        backoff = 0.5
        while True:
            client = self._link.make_client()
            try:
                async with client:
                    await self._link.publish_online()
                    await self._link.publish("factsheet", self._factsheet, qos=1, retain=True)
                    await client.subscribe(self.topics.topic("order"), qos=0)
                    await client.subscribe(self.topics.topic("instantActions"), qos=0)
                    self.connected.set()
                    if not ready.done():
                        ready.set_result(None)
                    backoff = 0.5
                    self._state_task = asyncio.create_task(self._state_loop())
                    try:
                        async for message in client.messages:
                            try:
                                self._dispatch(str(message.topic), message.payload)
                            except Exception:  # a simulator bug must not take the vehicle down
                                _log.exception(
                                    "%s: handling a %s message failed", self.client_id, message.topic
                                )
                    finally:
                        self.connected.clear()
                        await self._cancel(self._state_task)
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                if not ready.done():
                    ready.set_exception(
                        TransportError(
                            f"VDA 5050 vehicle {self.client_id}: cannot connect to MQTT at "
                            f"{self._link.url}: {exc}; check the broker's MQTT listener and the credentials"
                        )
                    )
                    return
                if self._ending:
                    return
                _log.warning(
                    "%s: MQTT connection lost (%s); reconnecting in %.1f s", self.client_id, exc, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _state_loop(self) -> None:
        self._dirty.set()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.state_period_s):
                    await self._dirty.wait()
            self._dirty.clear()
            await self._link.publish("state", self.model.state(self.manufacturer, self.serial_number))

    # -- receiving ---------------------------------------------------------------------------
    def _dispatch(self, topic: str, payload: Any) -> None:
        name = topic.rsplit("/", 1)[-1]
        raw = payload if isinstance(payload, bytes) else str(payload).encode()
        self._counters.messages_received += 1
        for listener in self._listeners:
            listener(name, raw)
        message = self._decode(name, raw)
        if message is None:
            return
        if name == "order":
            self._on_order(message)
        elif name == "instantActions":
            self._on_instant(message)

    def _decode(self, name: str, raw: bytes) -> dict[str, Any] | None:
        refs = {"topic": name}
        try:
            message = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self._refuse(f"{name} message is not JSON: {exc}", refs)
        if not isinstance(message, dict):
            return self._refuse(f"{name} message is not a JSON object", refs)
        if isinstance(message.get("headerId"), int):
            refs["headerId"] = str(message["headerId"])
        if isinstance(message.get("orderId"), str):
            refs["orderId"] = message["orderId"]
        problems = errors(name, message)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            return self._refuse(f"{name} message breaks the VDA 5050 schema: {problems[0]}{more}", refs)
        return message

    def _refuse(self, text: str, refs: dict[str, str]) -> dict[str, Any] | None:
        _log.warning("%s: %s", self.client_id, text)
        self._counters.schema_errors += 1
        if refs["topic"] == "order":
            self._counters.orders_rejected += 1
        self.model.add_error(error_entry("validationError", text, refs))
        self._dirty.set()
        return None

    def _on_order(self, order: dict[str, Any]) -> None:
        outcome = self.model.take_order(order)
        if outcome is OrderOutcome.IGNORED:
            self._counters.orders_ignored += 1
            return
        if outcome is OrderOutcome.REJECTED:
            self._counters.orders_rejected += 1
            _log.info(
                "%s: order %s refused: %s",
                self.client_id,
                order["orderId"],
                self.model.errors[-1]["errorDescription"],
            )
        else:
            if outcome is OrderOutcome.ACCEPTED:
                self._counters.orders_accepted += 1
                if self._charge_task is not None:
                    self._charge_task.cancel()
            else:
                self._counters.orders_updated += 1
            self._resume_order()
        self._dirty.set()

    def _resume_order(self) -> None:
        """Run the order (again): after it was accepted or extended, or after a restart."""
        if self._order_task is None or self._order_task.done():
            self._order_task = asyncio.create_task(self._worker.run())
            self._order_task.add_done_callback(self._log_failure)

    def _on_instant(self, message: dict[str, Any]) -> None:
        for action in message["actions"]:
            self._counters.instant_actions += 1
            self.model.add_instant(action)
            self._instant(action)
        self._dirty.set()

    def _instant(self, action: dict[str, Any]) -> None:
        m, kind, action_id = self.model, action["actionType"], action["actionId"]
        refs = {"actionId": action_id}
        if kind == "cancelOrder":
            if self._order_task is not None:
                self._order_task.cancel()  # it ends at its next await; the next order gets a new one
                self._order_task = None
            if m.cancel():
                self._counters.orders_cancelled += 1
                m.set_action(action_id, "FINISHED", "order cancelled")
            else:
                m.add_error(error_entry("noOrderToCancel", "cancelOrder: there is no order to cancel", refs))
                m.set_action(action_id, "FAILED", "no order to cancel")
        elif kind in ("startPause", "stopPause"):
            pause = kind == "startPause"
            m.paused = pause
            (self._go.clear if pause else self._go.set)()
            (self._halt.set if pause else self._halt.clear)()
            if pause:
                m.driving = False
            m.set_action(action_id, "FINISHED", "paused" if pause else "resumed")
        elif kind == "startCharging":
            if m.has_active_order or m.driving:
                text = "startCharging refused: the vehicle is executing an order (cancel it or wait)"
                m.add_error(error_entry("chargingError", text, refs))
                m.set_action(action_id, "FAILED", text)
            else:
                m.charging = True
                if self._charge_task is None or self._charge_task.done():
                    self._charge_task = asyncio.create_task(self._charge())
                m.set_action(action_id, "FINISHED", "charging")
        elif kind == "stopCharging":
            m.charging = False
            if self._charge_task is not None:
                self._charge_task.cancel()
            m.set_action(action_id, "FINISHED", "charging stopped")
        elif kind == "factsheetRequest":
            self._spawn(self._link.publish("factsheet", self._factsheet, qos=1, retain=True))
            m.set_action(action_id, "FINISHED", "factsheet sent")
        elif kind == "stateRequest":
            m.set_action(action_id, "FINISHED", "state sent")
        else:
            text = f"instant action {kind!r} is not supported by the simulator"
            m.add_error(error_entry("unsupportedInstantAction", text, refs))
            m.set_action(action_id, "FAILED", text)
            self._counters.actions_failed += 1

    def _log_failure(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            _log.error(
                "%s: executing order %s failed",
                self.client_id,
                self.model.order_id,
                exc_info=task.exception(),
            )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _charge(self) -> None:
        try:
            while self.model.charging:
                await asyncio.sleep(1.0)
                self.model.battery = min(100.0, self.model.battery + _CHARGE_PER_S)
        finally:
            self.model.charging = False
            self._dirty.set()
