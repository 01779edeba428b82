"""``rfos doctor``: is the installation healthy? Broker, JetStream, clocks, types, QoS, consumers.

``dropping subscriptions`` names the subscriptions (node, topic) whose bounded queue dropped
messages because their callback falls behind its publishers: each participant reports them
in its graph answer (``EntityStats.dropped``).

Each check prints one line, ``[ok]``, ``[FAIL]`` or ``[skip]`` (a check that cannot run here
says why and does not fail the run), then a one-line summary. Exit 0 when nothing failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from robotfleet_nodes.cli._common import (
    EXIT_FAILURE,
    EXIT_OK,
    AsyncVerb,
    CliError,
    Endpoint,
    Graph,
    add_common,
    connect,
    query_graph,
)
from robotfleet_nodes.cli._verb import expose_verb
from robotfleet_nodes.qos import incompatibilities

if TYPE_CHECKING:
    from robotfleet_nodes.transport.nats import NatsTransport

__all__ = ["DoctorVerb", "Report"]

log = logging.getLogger(__name__)

#: Clock differences (seconds) beyond which ``doctor`` fails.
MAX_SKEW = 1.0
_VARZ = "$SYS.REQ.SERVER.PING.VARZ"


@dataclass
class Report:
    """Check results: (status, check, detail) in order."""

    lines: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, status: str, check: str, detail: str) -> None:
        """Record and print one check."""
        self.lines.append((status, check, detail))
        print(f"[{status}]{' ' * (5 - len(status))}{check}: {detail}", flush=True)

    def count(self, status: str) -> int:
        """How many checks ended with ``status``."""
        return sum(1 for s, _, _ in self.lines if s == status)


@expose_verb("doctor")
class DoctorVerb(AsyncVerb):
    """``rfos doctor``: health checks of the broker and the graph."""

    help = "check the broker, JetStream, clocks, type hashes, QoS, slow consumers and dropping subscriptions"
    epilog = """examples:
  rfos doctor
  rfos doctor --url nats://broker:4222 && echo healthy
  rfos doctor --report     # also list every endpoint checked
"""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        add_common(parser)
        parser.add_argument("--report", action="store_true", help="also print the topics checked")

    async def arun(self, args: argparse.Namespace) -> int:
        report = Report()
        try:
            async with connect(args) as transport:
                await _check_broker(transport, report)
                await _check_jetstream(transport, report)
                varz = await _varz(transport)
                _check_clock(varz, report)
                graph = await query_graph(transport, args)
                _check_hashes(graph, report, verbose=args.report)
                _check_qos(graph, report)
                _check_slow_consumers(varz, report)
                _check_dropping(graph, report)
        except CliError as exc:
            report.add("FAIL", "broker", str(exc))
        failed, ok, skipped = report.count("FAIL"), report.count("ok"), report.count("skip")
        verdict = "healthy" if not failed else "problems found"
        print(f"summary: {verdict}: {ok} ok, {failed} failed, {skipped} skipped")
        return EXIT_FAILURE if failed else EXIT_OK


async def _check_broker(transport: NatsTransport, report: Report) -> None:
    start = time.perf_counter()
    await transport.flush(2.0)
    rtt = (time.perf_counter() - start) * 1000
    server = transport.server_info()
    report.add(
        "ok", "broker", f"{server.url} reachable, nats-server {server.version}, round trip {rtt:.1f} ms"
    )


async def _check_jetstream(transport: NatsTransport, report: Report) -> None:
    try:
        account = await asyncio.wait_for(transport.jetstream().account_info(), 2.0)
    except Exception as exc:
        report.add(
            "FAIL", "jetstream", f"not available ({type(exc).__name__}: {exc}); run nats-server with -js"
        )
        return
    report.add("ok", "jetstream", f"enabled ({account.streams} streams, {account.consumers} consumers)")


async def _varz(transport: NatsTransport) -> dict[str, Any] | None:
    """The server's VARZ via the system account, or None when this user may not ask."""
    with contextlib.suppress(Exception):
        sent = time.time()
        msg = await transport.request(_VARZ, timeout=0.5)
        data = json.loads(msg.data)
        varz: dict[str, Any] = data.get("data", data)
        varz["_rtt"] = time.time() - sent
        varz["_received"] = time.time()
        return varz
    return None


def _check_clock(varz: dict[str, Any] | None, report: Report) -> None:
    if varz is None or "now" not in varz:
        report.add(
            "skip",
            "clock skew",
            "unknown: the broker's $SYS account is not reachable with these credentials, and "
            "participants do not publish their clocks (graph started_at is a start time, not a clock)",
        )
        return
    try:
        server_now = datetime.fromisoformat(str(varz["now"]).replace("Z", "+00:00")).timestamp()
    except ValueError:
        report.add("skip", "clock skew", f"the broker's time {varz['now']!r} is unreadable")
        return
    skew = server_now - (varz["_received"] - varz["_rtt"] / 2)
    status = "ok" if abs(skew) <= MAX_SKEW else "FAIL"
    report.add(status, "clock skew", f"this host vs broker: {skew * 1000:+.1f} ms (limit {MAX_SKEW:g} s)")


def _check_hashes(graph: Graph, report: Report, *, verbose: bool) -> None:
    problems: list[str] = []
    checked = 0
    for kind, tables in (
        ("topic", (graph.publishers, graph.subscribers)),
        ("service", (graph.servers, graph.clients)),
    ):
        by_name: dict[str, list[Endpoint]] = {}
        for table in tables:
            for name, eps in table.items():
                by_name.setdefault(name, []).extend(eps)
        for name, eps in sorted(by_name.items()):
            checked += 1
            hashes: dict[str, list[str]] = {}
            for ep in eps:
                hashes.setdefault(f"{ep.info.type_name} {ep.info.type_hash}", []).append(ep.node)
            if len(hashes) > 1:
                detail = "; ".join(f"{h} by {', '.join(sorted(set(n)))}" for h, n in sorted(hashes.items()))
                problems.append(f"{kind} {name}: {detail}")
            elif verbose:
                print(f"       {kind} {name}: {next(iter(hashes))}")
    if problems:
        report.add("FAIL", "type hashes", f"{len(problems)} mismatched: " + " | ".join(problems))
    else:
        report.add("ok", "type hashes", f"{checked} topics and services, one type each")


def _check_qos(graph: Graph, report: Report) -> None:
    problems: list[str] = []
    pairs = 0
    for name, pubs in sorted(graph.publishers.items()):
        for sub in graph.subscribers.get(name, []):
            for pub in pubs:
                pairs += 1
                reasons = incompatibilities(pub.info.qos, sub.info.qos)
                if reasons:
                    problems.append(f"{name}: {pub.node} -> {sub.node}: {'; '.join(reasons)}")
    if problems:
        report.add("FAIL", "qos", f"{len(problems)} incompatible: " + " | ".join(problems))
    else:
        report.add("ok", "qos", f"{pairs} publisher/subscription pairs compatible")


def _check_slow_consumers(varz: dict[str, Any] | None, report: Report) -> None:
    if varz is None:
        report.add(
            "skip",
            "slow consumers",
            "the broker's $SYS account (VARZ) is not reachable with these credentials; "
            "check the server's monitoring port (/varz slow_consumers) instead",
        )
        return
    slow = int(varz.get("slow_consumers", 0))
    report.add("ok" if slow == 0 else "FAIL", "slow consumers", f"{slow} since the server started")


def _check_dropping(graph: Graph, report: Report) -> None:
    dropping = sorted(
        (node, topic, stats) for (node, topic), stats in graph.troubled.items() if stats.dropped
    )
    if not dropping:
        report.add("ok", "dropping subscriptions", "no subscription's queue dropped messages")
        return
    detail = " | ".join(
        f"{node or '?'} {topic}: {stats.dropped} dropped of {stats.received} received"
        for node, topic, stats in dropping
    )
    report.add(
        "FAIL",
        "dropping subscriptions",
        f"{len(dropping)} fall behind their publishers (callback too slow; KEEP_LAST keeps the newest): "
        + detail,
    )
