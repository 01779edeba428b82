"""VDA 5050 vehicles in the fleet: 1000 simulated vehicles over MQTT, through nats-server's listener.

Brings the fleet up as ``make run VDA5050=N`` does (``rfos fleet gen-config --vda5050 N``, then
``launch/fleet_1000.launch.yaml vda5050:=N``: nats-server with its MQTT listener on 1883, the
fleet, the area, the zones, the vehicles' edges (``driver: vda5050``) composed in containers,
and the vehicle simulator ``rfos vda5050 sim``, one process speaking only MQTT), secured by
default. Then it measures:

- **visible**: seconds from the launch until every vehicle is ONLINE in ``GET /api/robots``
  (kind ``vda5050``, state not OFFLINE);
- **steady CPU** of the whole process tree for 10 s (fraction of one core, by part: nats,
  fleet, area, zone, edges, vehicle simulator, launch; ``_proc.part_of``) and its PSS;
- **order -> accepted**: orders POSTed to the fleet at ``--accept-rate`` (50/s) for
  ``--accept-s`` seconds; for each VDA 5050 ``order`` message on the wire, the time until the
  vehicle's first ``state`` showing its ``orderId`` (p50/p99), measured by an observer on the
  broker (one clock, this host);
- **sustained**: orders at ``--rate`` (200/s) for ``--sustain-s`` seconds: accepted/s,
  vehicle completions/s in the steady window, and after a drain: every order COMPLETED in the
  API, the executions counted from the vehicles' own ``state`` reports (an orderId
  ``<order>.<attempt>`` whose action the vehicle reported FINISHED): lost, executed twice
  (two attempts of one order both finished, or one finished twice), stuck.
- **the peer**: after the drain, a plain VDA 5050 master on the same broker (the observer's
  connection) sends orders straight to the vehicles at the accept rate for ``--raw-s``
  seconds: publish -> first state showing it, and the fleet's POST -> first state over it
  (``fleet_post_over_raw_publish``): what the four tiers add to a plain master.

The observer subscribes ``uagv.>`` (the operator's identity when secured) and validates
every message against the VDA 5050 2.1.0 schemas; any invalid message is counted with
samples. Prints one JSON line; progress on stderr. ``--vehicles 100`` for a small run.
Targets (issue 19): 1000 vehicles visible <= 30 s; accepted p99 <= 100 ms at 50 orders/s;
200 orders/s sustained; no invalid message.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from _chaos_http import Submitter
from _common import emit, progress
from _proc import cpu_by_part, cpu_seconds, free_port, pss_kib, tree

from robotfleet_nodes.vda5050 import errors as schema_errors
from robotfleet_nodes.vda5050 import validate
from robotfleet_nodes.vda5050.topics import subject, topic_of

ROOT = Path(__file__).resolve().parent.parent
RFOS = Path(sys.executable).parent / "rfos"
MQTT_PORT = 1883  # gen-config writes it into the vehicles' edges and the simulator's URL
SETTLE_S = 15.0
STEADY_S = 10.0
WARMUP_S = 5.0


class Observer:
    """Every message on ``uagv.>``: schema check, order -> first state, finished executions."""

    def __init__(self, url: str, creds: Path | None, ca: Path | None) -> None:
        self.url = url
        self.creds = creds
        self.ca = ca
        self.lock = threading.Lock()
        self.messages: dict[str, int] = {}
        self.invalid = 0
        self.invalid_samples: list[str] = []
        self.not_json = 0
        self.order_seen: dict[str, float] = {}  # orderId -> when its order message passed
        self.accepted_s: dict[str, float] = {}  # orderId -> order -> first state showing it
        self.accepted_wall: dict[str, float] = {}  # orderId -> time.time() of that first state
        self.finished: dict[str, int] = {}  # orderId -> times a vehicle reported it done
        self.failed: dict[str, int] = {}
        self._done_reported: dict[str, str] = {}  # vehicle prefix -> last orderId seen done
        self.online: dict[str, str] = {}  # vehicle prefix -> connectionState
        self._loop: asyncio.AbstractEventLoop | None = None
        self._nc: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="observer", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError(f"observer could not subscribe: {self.error!r}")
        if self.error is not None:
            raise RuntimeError(f"observer could not subscribe: {self.error!r}")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start()
            self.error = exc
            self._ready.set()

    async def _main(self) -> None:
        import ssl

        import nats

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        options: dict[str, Any] = {"max_reconnect_attempts": -1, "pending_size": 64 * 1024 * 1024}
        if self.creds is not None:
            options["user_credentials"] = str(self.creds)
        if self.ca is not None:
            context = ssl.create_default_context(cafile=str(self.ca))
            options["tls"] = context
        nc = self._nc = await nats.connect(self.url, **options)
        await nc.subscribe("uagv.>", cb=self._on, pending_msgs_limit=1_000_000, pending_bytes_limit=-1)
        await nc.flush()
        self._ready.set()
        await self._stop.wait()
        await nc.close()

    def raw_orders(self, vehicles: list[tuple[str, str]], rate: float, seconds: float) -> dict[str, float]:
        """The peer: a plain VDA 5050 master on the same broker (this observer's connection)
        sends ``order`` messages straight to the vehicles, round robin, at ``rate`` for
        ``seconds``; returns orderId -> when it was published (time.time())."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._raw_orders(vehicles, rate, seconds), self._loop)
        return future.result(seconds + 30)

    async def _raw_orders(
        self, vehicles: list[tuple[str, str]], rate: float, seconds: float
    ) -> dict[str, float]:
        sent: dict[str, float] = {}
        began = time.monotonic()
        k = 0
        while time.monotonic() - began < seconds:
            delay = began + k / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            manufacturer, serial = vehicles[k % len(vehicles)]
            order_id = f"raw-{k:06d}.1"
            message = raw_order(k, manufacturer, serial, order_id)
            sent[order_id] = time.time()
            await self._nc.publish(
                subject(f"uagv/v2/{manufacturer}/{serial}/order"), json.dumps(message).encode()
            )
            k += 1
        await self._nc.flush()
        return sent

    async def _on(self, msg: Any) -> None:
        now = time.monotonic()
        tokens = msg.subject.split(".")
        topic = tokens[-1]
        prefix = ".".join(tokens[:-1])
        try:
            body = json.loads(msg.data)
        except ValueError:
            with self.lock:
                self.not_json += 1
            return
        problems = schema_errors(topic, body) if isinstance(body, dict) else ["not an object"]
        with self.lock:
            self.messages[topic] = self.messages.get(topic, 0) + 1
            if problems:
                self.invalid += 1
                if len(self.invalid_samples) < 5:
                    self.invalid_samples.append(f"{topic_of(msg.subject)}: {problems[0]}")
            if not isinstance(body, dict):
                return
            if topic == "order":
                self.order_seen.setdefault(str(body.get("orderId")), now)
            elif topic == "connection":
                self.online[prefix] = str(body.get("connectionState"))
            elif topic == "state":
                self._on_state(prefix, body, now)

    def _on_state(self, prefix: str, state: dict[str, Any], now: float) -> None:
        order_id = str(state.get("orderId") or "")
        if not order_id:
            return
        sent = self.order_seen.get(order_id)
        if sent is not None and order_id not in self.accepted_s:
            self.accepted_s[order_id] = now - sent
            self.accepted_wall[order_id] = time.time()
        actions = state.get("actionStates") or []
        ours = [a for a in actions if a.get("actionType") not in ("cancelOrder", "startPause", "stopPause")]
        if not ours or state.get("nodeStates") or state.get("edgeStates"):
            return
        statuses = {a.get("actionStatus") for a in ours}
        if statuses <= {"FINISHED", "FAILED"} and self._done_reported.get(prefix) != order_id:
            self._done_reported[prefix] = order_id  # one count per (vehicle, order): states repeat
            table = self.finished if statuses == {"FINISHED"} else self.failed
            table[order_id] = table.get(order_id, 0) + 1


def raw_order(k: int, manufacturer: str, serial: str, order_id: str) -> dict[str, Any]:
    """The plain master's ``order``: as the edge sends one without a target (one node, one
    HARD action), validated against the 2.1.0 schema."""
    message = {
        "headerId": k,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "version": "2.1.0",
        "manufacturer": manufacturer,
        "serialNumber": serial,
        "orderId": order_id,
        "orderUpdateId": 0,
        "nodes": [
            {
                "nodeId": f"raw-node-{k}",
                "sequenceId": 0,
                "released": True,
                "nodePosition": {"x": 0.0, "y": 0.0, "theta": 0.0, "mapId": "map"},
                "actions": [{"actionId": f"raw-action-{k}", "actionType": "pick", "blockingType": "HARD"}],
            }
        ],
        "edges": [],
    }
    validate("order", message)
    return message


def _get(base: str, path: str, headers: dict[str, str], timeout: float = 10) -> Any:
    request = urllib.request.Request(f"{base}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _vehicles_online(base: str, headers: dict[str, str]) -> int:
    rows = _get(base, "/api/robots", headers)
    return sum(1 for r in rows if r.get("kind") == "vda5050" and r.get("state") != "OFFLINE")


def _ms(samples: list[float]) -> dict[str, float] | None:
    if not samples:
        return None
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1e3, 1),
        "p99_ms": round(p99 * 1e3, 1),
        "max_ms": round(ordered[-1] * 1e3, 1),
    }


_STATES = ("PENDING", "DISPATCHED", "ASSIGNED", "EXECUTING", "COMPLETED", "FAILED", "CANCELLED")
_FINAL = ("COMPLETED", "FAILED", "CANCELLED")


def _state_totals(base: str, headers: dict[str, str]) -> dict[str, int]:
    """How many orders the API holds in each state (``GET /api/work-orders?state=S`` totals)."""
    return {s: int(_get(base, f"/api/work-orders?state={s}&limit=1", headers)["total"]) for s in _STATES}


def _submit(port: int, rate: float, seconds: float, prefix: str, token: str | None) -> Submitter:
    submitter = Submitter(ports=[port], rate=rate, prefix=prefix, token=token)
    submitter.start()
    time.sleep(seconds)
    submitter.stop()
    return submitter


def run(args: argparse.Namespace) -> dict[str, Any]:
    vehicles = int(args.vehicles)
    secure = args.secure == "on"
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nats-server binds
        try:
            probe.bind(("127.0.0.1", MQTT_PORT))
        except OSError:
            sys.exit(f"vda5050 benchmark: port {MQTT_PORT} is taken (the vehicles' configs name it); free it")
    with tempfile.TemporaryDirectory(prefix="rfos-vda-") as tmp:
        deploy = Path(tmp) / "deploy"
        containers = max(1, round(vehicles / 250))
        subprocess.run(
            [
                str(RFOS), "fleet", "gen-config",
                "--robots", str(args.robots), "--zones", str(args.zones),
                "--vda5050", str(vehicles), "--containers", str(containers),
                "--out", str(deploy), *([] if secure else ["--insecure"]),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        headers: dict[str, str] = {}
        token = None
        if secure:
            token = (deploy / "secrets" / "api-admin.token").read_text().strip()
            headers["Authorization"] = f"Bearer {token}"
        nats_port, http = free_port(), free_port()
        base = f"http://127.0.0.1:{http}"
        env = {**os.environ, "RFOS_LOG_DIR": str(Path(tmp) / "logs")}
        env.pop("MESSAGING_URL", None)
        started = time.monotonic()
        launcher = subprocess.Popen(
            [
                str(RFOS), "launch", str(ROOT / "launch" / "fleet_1000.launch.yaml"),
                f"robots:={args.robots}", f"zones:={args.zones}", f"vda5050:={vehicles}",
                f"containers:={containers}", f"config_dir:={deploy}",
                f"nats_port:={nats_port}", f"cluster_port:={free_port()}", f"mqtt_port:={MQTT_PORT}",
                f"http_port:={http}", f"state_dir:={Path(tmp) / 'nats'}",
                f"journal_dir:={Path(tmp) / 'journal'}", f"secure:={'true' if secure else 'false'}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        observer = None
        try:
            scheme = "tls" if secure else "nats"
            observer = Observer(
                f"{scheme}://localhost:{nats_port}",
                deploy / "secrets" / "operator.creds" if secure else None,
                deploy / "secrets" / "ca.pem" if secure else None,
            )
            deadline = time.monotonic() + 60
            while True:  # the broker comes up first
                try:
                    observer.start()
                    break
                except RuntimeError:
                    if time.monotonic() > deadline:
                        raise
                    observer = Observer(observer.url, observer.creds, observer.ca)
                    time.sleep(0.5)
            visible_s = None
            seen = 0
            while time.monotonic() - started < args.timeout:
                try:
                    seen = _vehicles_online(base, headers)
                except OSError:
                    seen = 0
                if seen >= vehicles:
                    visible_s = time.monotonic() - started
                    break
                progress(f"{seen}/{vehicles} vehicles ONLINE after {time.monotonic() - started:.1f} s")
                time.sleep(0.5)
            progress(f"visible: {visible_s} s; settling {SETTLE_S:.0f} s")
            time.sleep(SETTLE_S)
            pids = set(tree(launcher.pid))
            parts, alive = cpu_by_part(pids, STEADY_S)
            pss = sum(pss_kib(pid) for pid in alive) / 1024

            phases: dict[str, Any] = {}
            all_ids: set[str] = set()
            for name, rate, seconds in (
                ("accept", args.accept_rate, args.accept_s),
                ("sustain", args.rate, args.sustain_s),
            ):
                progress(f"{name}: {rate} orders/s for {seconds} s")
                with observer.lock:
                    finished_before = sum(observer.finished.values())
                cpu_before = {pid: cpu_seconds(pid) for pid in alive}
                p0 = time.monotonic()
                submitter = _submit(http, rate, seconds, f"{name}-{int(rate)}", token)
                p1 = time.monotonic()
                cpu = sum(cpu_seconds(pid) - cpu_before[pid] for pid in alive) / (p1 - p0)
                ids = set(submitter.accepted)
                all_ids |= ids
                with observer.lock:
                    latencies = [s for oid, s in observer.accepted_s.items() if oid.rsplit(".", 1)[0] in ids]
                    post_to_accepted = [
                        at - submitter.sent_when[oid.rsplit(".", 1)[0]]
                        for oid, at in observer.accepted_wall.items()
                        if oid.rsplit(".", 1)[0] in ids
                    ]
                    finished_during = sum(observer.finished.values()) - finished_before
                phases[name] = {
                    "rate": rate,
                    "seconds": seconds,
                    **submitter.summary(),
                    "accepted_per_s": round(len(ids) / (p1 - p0), 1),
                    "vehicle_completions_per_s": round(finished_during / (p1 - p0), 1),
                    "order_to_accepted": _ms(latencies),
                    "post_to_accepted": _ms(post_to_accepted),
                    "cpu_fraction_of_core": round(cpu, 3),
                }
                progress(f"{name}: {json.dumps(phases[name])}")
            # drain: every order final in the API
            drain_deadline = time.monotonic() + args.drain_s
            totals = _state_totals(base, headers)
            while time.monotonic() < drain_deadline:
                totals = _state_totals(base, headers)
                open_orders = sum(n for s, n in totals.items() if s not in _FINAL)
                if not open_orders:
                    break
                progress(f"drain: {open_orders} orders not final")
                time.sleep(2.0)
            # the peer: a plain VDA 5050 master publishing orders straight to the vehicles
            progress(f"raw master: {args.accept_rate} orders/s for {args.raw_s} s")
            with (deploy / "vda5050" / "vehicles.csv").open() as f:
                table = list(csv.DictReader(f))
            raw_sent = observer.raw_orders(
                [(row["manufacturer"], row["serial_number"]) for row in table], args.accept_rate, args.raw_s
            )
            raw_deadline = time.monotonic() + 10
            while time.monotonic() < raw_deadline:
                with observer.lock:
                    if all(oid in observer.accepted_wall for oid in raw_sent):
                        break
                time.sleep(0.2)
            with observer.lock:
                raw = [
                    observer.accepted_wall[oid] - t
                    for oid, t in raw_sent.items()
                    if oid in observer.accepted_wall
                ]
            fleet_path = phases["accept"]["post_to_accepted"]
            raw_path = _ms(raw)
            peer = {
                "raw_master": {
                    "rate": args.accept_rate,
                    "seconds": args.raw_s,
                    "sent": len(raw_sent),
                    "publish_to_accepted": raw_path,
                },
                "fleet_post_over_raw_publish": {
                    q: round(fleet_path[q] / raw_path[q], 2) for q in ("p50_ms", "p99_ms")
                }
                if fleet_path and raw_path
                else None,
            }
            progress(f"raw master: {json.dumps(peer)}")
            with observer.lock:
                done_by_order: dict[str, list[str]] = {}
                for oid, count in observer.finished.items():
                    if oid.startswith("raw-"):
                        continue
                    done_by_order.setdefault(oid.rsplit(".", 1)[0], []).extend([oid] * count)
                invalid = observer.invalid
                invalid_samples = list(observer.invalid_samples)
                messages = dict(observer.messages)
                not_json = observer.not_json
            vda_ids = {i for i in all_ids if i in done_by_order}
            result = {
                "vehicles": vehicles,
                "robots": args.robots,
                "zones": args.zones,
                "secure": "on" if secure else "off",
                "visible_s": round(visible_s, 1) if visible_s is not None else None,
                "vehicles_online_seen": seen,
                "steady_cpu_fraction_of_core": round(sum(parts.values()), 3),
                "steady_cpu_by_part": {k: round(v, 3) for k, v in sorted(parts.items())},
                "total_pss_mib": round(pss),
                "phases": phases,
                "peer": peer,
                "orders_accepted": len(all_ids),
                "api_states": {s: n for s, n in totals.items() if n},
                "orders_run_by_vehicles": len(vda_ids),
                "lost": len(all_ids) - totals["COMPLETED"],
                "stuck": sum(n for s, n in totals.items() if s not in _FINAL),
                "executed_twice": sum(1 for v in done_by_order.values() if len(v) > 1),
                "uagv_messages": messages,
                "uagv_invalid": invalid,
                "uagv_invalid_samples": invalid_samples,
                "uagv_not_json": not_json,
            }
        finally:
            if observer is not None:
                observer.stop()
            launcher.send_signal(signal.SIGINT)
            try:
                launcher.wait(60)
            except subprocess.TimeoutExpired:
                launcher.kill()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument(
        "--robots", type=int, default=None, help="simulated robots besides (default: one per zone)"
    )
    parser.add_argument("--zones", type=int, default=5)
    parser.add_argument("--secure", choices=("on", "off"), default="on")
    parser.add_argument("--accept-rate", type=float, default=50.0)
    parser.add_argument("--accept-s", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--sustain-s", type=float, default=60.0)
    parser.add_argument("--drain-s", type=float, default=90.0)
    parser.add_argument("--raw-s", type=float, default=20.0, help="seconds of the plain master (the peer)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for all vehicles")
    args = parser.parse_args()
    if args.robots is None:
        args.robots = args.zones
    t0 = time.monotonic()
    result = run(args)
    emit({"benchmark": "vda5050", "result": result, "wall_s": round(time.monotonic() - t0, 1)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
