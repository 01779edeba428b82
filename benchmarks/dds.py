"""DDS: our DdsTransport vs raw cyclonedds-python, on the same messages, in one run.

Two participants in one process on a private domain (Cyclone delivers between them
without the network; the figures are the Python-side cost of each stack):

- ``raw``: cyclonedds-python with hand-written ``IdlStruct`` types, ``DataWriter.write``
  of a typed sample and ``DataReader.take`` of typed samples (its own (de)serializer).
- ``ours``: a DdsTransport publisher and subscription of the ROS message class (our CDR
  codec, the waitset thread, the event loop and a callback per message).

Messages: ``std_msgs/String`` (``data="hello world"``) and a RobotStatus-sized struct.
Throughput: N messages written back to back, timed until the last one is received.
Latency: one message at a time, from write until the receiver has it. Raw has two: the
receiver spinning on ``take()`` (``p50_us``: no wake-up at all, a lower bound) and blocked in
a ``WaitSet`` (``waitset_p50_us``: woken by Cyclone, as an event-driven program is); ours
is event-driven (the waitset thread wakes the event loop).
Rounds are interleaved; each figure is the best of its rounds. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import ctypes as ct
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _common import VALUES, emit, percentiles_us, progress, ros_status_class

from robotfleet_nodes.transport.dds import LOOPBACK_CONFIG

os.environ.setdefault("CYCLONEDDS_URI", LOOPBACK_CONFIG)

from cyclonedds.core import InstanceState, Policy, Qos, ReadCondition, SampleState, ViewState, WaitSet
from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import make_idl_struct
from cyclonedds.idl import types as t
from cyclonedds.internal import DDS
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import type_hash_of
from robotfleet_nodes.transport import EndpointInfo
from robotfleet_nodes.transport.dds import DdsTransport

_C: Any = DDS._dll_handle  # Cyclone's C API
N = int(os.environ.get("BENCH_N", "20000"))
LATENCY_N = int(os.environ.get("BENCH_LATENCY_N", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
DOMAIN = random.randint(100, 200)

RawString: Any = make_idl_struct("String_", "std_msgs::msg::dds_::String_", {"data": str})
RawStatus: Any = make_idl_struct(
    "Status_",
    "fleet_bench::msg::dds_::Status_",
    {
        "robot_id": str,
        "zone_id": str,
        "x": t.float64,
        "y": t.float64,
        "theta": t.float64,
        "battery": t.float32,
        "state": t.uint8,
        "current_order": str,
        "errors": t.sequence[str],
        "stamp_ns": t.int64,
    },
)


@dataclass
class Case:
    name: str
    ros_cls: Any
    raw_cls: Any
    values: dict[str, Any]


def _qos() -> Qos:
    return Qos(
        Policy.Reliability.Reliable(100_000_000),
        Policy.History.KeepLast(65536),
        Policy.DataRepresentation(use_cdrv0_representation=True),
    )


def run_raw(case: Case, topic_name: str) -> dict[str, Any]:
    pub_dp, sub_dp = DomainParticipant(DOMAIN), DomainParticipant(DOMAIN)
    writer = DataWriter(pub_dp, Topic(pub_dp, topic_name, case.raw_cls), _qos())
    reader = DataReader(sub_dp, Topic(sub_dp, topic_name, case.raw_cls), _qos())
    time.sleep(0.2)
    got = 0
    start = time.perf_counter()
    for i in range(N):
        writer.write(case.raw_cls(**case.values))  # an application builds each sample
        if i % 256 == 255:
            got += len(reader.take(256))  # the same batching as ours
    while got < N:
        got += len(reader.take(4096))
    elapsed = time.perf_counter() - start
    latencies = []
    for _ in range(LATENCY_N):
        begin = time.perf_counter()
        writer.write(case.raw_cls(**case.values))
        while not reader.take(1):
            pass
        latencies.append(time.perf_counter() - begin)
    waitset = WaitSet(sub_dp)
    condition = ReadCondition(reader, SampleState.Any | ViewState.Any | InstanceState.Any)
    # WaitSet.attach of this binding passes a pointer where the C API takes the value.
    _C.dds_waitset_attach(waitset._ref, condition._ref, ct.c_ssize_t(0))
    woken = []
    for _ in range(LATENCY_N):
        begin = time.perf_counter()
        writer.write(case.raw_cls(**case.values))
        while not reader.take(1):
            waitset.wait(duration(seconds=1))
        woken.append(time.perf_counter() - begin)
    _C.dds_waitset_detach(waitset._ref, condition._ref)
    for entity in (condition, waitset, writer, reader, pub_dp, sub_dp):
        entity.__del__()
    waitset_us = {f"waitset_{key}": value for key, value in percentiles_us(woken).items()}
    return {"msgs_per_s": round(N / elapsed), **percentiles_us(latencies), **waitset_us}


async def run_ours(case: Case, topic_name: str) -> dict[str, Any]:
    name = "/" + topic_name.removeprefix("rt/")
    pub_t, sub_t = DdsTransport(DOMAIN), DdsTransport(DOMAIN)
    await pub_t.connect()
    await sub_t.connect()
    ep = EndpointInfo(name=name, type_name=case.ros_cls.__ros_type__, type_hash=type_hash_of(case.ros_cls))
    count = 0
    target = N
    done = asyncio.Event()

    def on_msg(msg: Any) -> None:
        nonlocal count
        count += 1
        if count >= target:
            done.set()

    await sub_t.create_subscription(ep, case.ros_cls, on_msg)
    pub = await pub_t.create_publisher(ep, case.ros_cls)
    await asyncio.sleep(0.2)
    start = time.perf_counter()
    for i in range(N):
        await pub.publish(case.ros_cls(**case.values))
        if i % 256 == 255:
            await asyncio.sleep(0)  # let the subscription drain, as a real node's loop would
    await asyncio.wait_for(done.wait(), 60)
    elapsed = time.perf_counter() - start
    latencies = []
    for _ in range(LATENCY_N):
        target = count + 1
        done.clear()
        begin = time.perf_counter()
        await pub.publish(case.ros_cls(**case.values))
        await done.wait()
        latencies.append(time.perf_counter() - begin)
    await pub_t.close()
    await sub_t.close()
    return {"msgs_per_s": round(N / elapsed), **percentiles_us(latencies)}


def _best_latencies(into: dict[str, Any], other: dict[str, Any]) -> None:
    """Keep the lower of each latency percentile of two rounds in ``into``."""
    for key, value in other.items():
        if key.endswith("_us") and key in into:
            into[key] = min(into[key], value)


async def main() -> None:
    cases = [
        Case(
            "string", default_registry().get_class("std_msgs/msg/String"), RawString, {"data": "hello world"}
        ),
        Case("status", ros_status_class(), RawStatus, dict(VALUES)),
    ]
    best: dict[str, dict[str, dict[str, Any]]] = {case.name: {} for case in cases}
    for round_no in range(1, ROUNDS + 1):
        for case in cases:
            for contender in ("raw", "ours"):
                topic = f"rt/bench_{case.name}_{contender}_{round_no}"
                progress(f"dds: round {round_no}/{ROUNDS}: {case.name} {contender} ...")
                if contender == "raw":
                    result = await asyncio.to_thread(run_raw, case, topic)
                else:
                    result = await run_ours(case, topic)
                progress(f"dds: {case.name} {contender}: {result}")
                previous = best[case.name].get(contender)
                if previous is None or result["msgs_per_s"] > previous["msgs_per_s"]:
                    merged = dict(result)
                    if previous is not None:  # best latency of the rounds too
                        _best_latencies(merged, previous)
                    best[case.name][contender] = merged
                elif previous is not None:
                    _best_latencies(previous, result)
    ratios = {
        case: {
            "throughput_ours_over_raw": round(r["ours"]["msgs_per_s"] / r["raw"]["msgs_per_s"], 3),
            "p50_ours_over_raw_spinning": round(r["ours"]["p50_us"] / r["raw"]["p50_us"], 3),
            "p50_ours_over_raw_waitset": round(r["ours"]["p50_us"] / r["raw"]["waitset_p50_us"], 3),
        }
        for case, r in best.items()
    }
    emit(
        {
            "benchmark": "dds",
            "messages": N,
            "latency_messages": LATENCY_N,
            "rounds": ROUNDS,
            "results": best,
            "ratios": ratios,
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
