"""Codec throughput: encode+decode round trips per second of a RobotStatus-sized message.

Compares our JSON and CDR codecs with plain pydantic JSON (a hand-written equivalent model)
and rosbags' CDR, all measured in this run. Prints one JSON line on stdout; progress on
stderr. Run: ``.venv/bin/python benchmarks/codec.py``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import pydantic
from rosbags.typesys import Stores, get_typestore

from robotfleet_nodes.idl._registry import default_registry
from robotfleet_nodes.idl.codec import Encoding, deserialize, serialize

TYPE_NAME = "fleet_bench/msg/RobotStatus"
DEFINITION = """\
string robot_id
string zone_id
geometry_msgs/Pose2D pose
float32 battery
uint8 state
string current_order
string[] errors
builtin_interfaces/Time stamp
float64 linear_velocity
float64 angular_velocity
bool charging
bool estop
bool localized
"""
VALUES: dict[str, object] = {
    "robot_id": "amr-0042",
    "zone_id": "warehouse-b/aisle-17",
    "battery": 0.8125,
    "state": 3,
    "current_order": "order-2026-11-26-000981",
    "errors": ["lidar_degraded", "wheel_slip"],
    "linear_velocity": 1.25,
    "angular_velocity": -0.125,
    "charging": False,
    "estop": False,
    "localized": True,
}
POSE = {"x": 12.5, "y": -3.75, "theta": 1.5707963267948966}
STAMP = {"sec": 1_795_000_000, "nanosec": 123_456_789}

SECONDS = 1.0
REPEATS = 5


class Pose2D(pydantic.BaseModel):
    x: float
    y: float
    theta: float


class Time(pydantic.BaseModel):
    sec: int
    nanosec: int


class PlainRobotStatus(pydantic.BaseModel):
    """The same message as a plain hand-written pydantic model."""

    robot_id: str
    zone_id: str
    pose: Pose2D
    battery: float
    state: int
    current_order: str
    errors: list[str]
    stamp: Time
    linear_velocity: float
    angular_velocity: float
    charging: bool
    estop: bool
    localized: bool


def measure(name: str, round_trip: Callable[[], object]) -> float:
    """Round trips per second of one run lasting about SECONDS."""
    count = 0
    start = now = time.perf_counter()
    deadline = start + SECONDS
    while now < deadline:
        for _ in range(100):
            round_trip()
        count += 100
        now = time.perf_counter()
    per_second = count / (now - start)
    print(f"  {name}: {per_second:,.0f} round trips/s", file=sys.stderr)
    return per_second


def main() -> None:
    registry = default_registry()
    registry.add_text(TYPE_NAME, DEFINITION)
    cls = registry.get_class(TYPE_NAME)
    msg = cls(
        **VALUES,
        pose=registry.get_class("geometry_msgs/msg/Pose2D")(**POSE),
        stamp=registry.get_class("builtin_interfaces/msg/Time")(**STAMP),
    )
    plain = PlainRobotStatus(**VALUES, pose=Pose2D(**POSE), stamp=Time(**STAMP))

    store = get_typestore(Stores.LATEST)
    store.register({TYPE_NAME: store_fields(store)})
    types = store.types
    rosbags_msg = types[TYPE_NAME](
        **VALUES,
        pose=types["geometry_msgs/msg/Pose2D"](**POSE),
        stamp=types["builtin_interfaces/msg/Time"](**STAMP),
    )
    ours_cdr = serialize(msg, Encoding.CDR)
    theirs_cdr = bytes(store.serialize_cdr(rosbags_msg, TYPE_NAME))
    if ours_cdr != theirs_cdr:
        raise SystemExit("our CDR differs from rosbags' for the benchmark message")

    def ours_json_rt() -> object:
        return deserialize(cls, serialize(msg, Encoding.JSON), Encoding.JSON)

    def ours_cdr_rt() -> object:
        return deserialize(cls, serialize(msg, Encoding.CDR), Encoding.CDR)

    def pydantic_rt() -> object:
        return PlainRobotStatus.model_validate_json(plain.model_dump_json())

    def rosbags_rt() -> object:
        return store.deserialize_cdr(store.serialize_cdr(rosbags_msg, TYPE_NAME), TYPE_NAME)

    print(f"codec benchmark: {TYPE_NAME}, {len(ours_cdr)} bytes CDR", file=sys.stderr)
    contenders = {
        "ours_json": ours_json_rt,
        "ours_cdr": ours_cdr_rt,
        "pydantic_json": pydantic_rt,
        "rosbags_cdr": rosbags_rt,
    }
    for fn in contenders.values():
        fn()  # warm up (and compile)
    # Interleaved runs, best of REPEATS each: load changes on the machine hit all alike.
    rates = dict.fromkeys(contenders, 0.0)
    for attempt in range(REPEATS):
        print(f"run {attempt + 1}/{REPEATS}", file=sys.stderr)
        for name, fn in contenders.items():
            rates[name] = max(rates[name], measure(name, fn))
    result = {
        "benchmark": "codec_round_trip",
        "message": TYPE_NAME,
        "cdr_bytes": len(ours_cdr),
        "json_bytes": len(serialize(msg, Encoding.JSON)),
        "unit": "round_trips_per_second",
        **{name: round(value) for name, value in rates.items()},
        "ours_cdr_vs_rosbags_cdr": round(rates["ours_cdr"] / rates["rosbags_cdr"], 3),
        "ours_json_vs_pydantic_json": round(rates["ours_json"] / rates["pydantic_json"], 3),
    }
    print(json.dumps(result))


def store_fields(store: object) -> tuple[list[object], list[object]]:
    """The RobotStatus definition in rosbags' fielddefs form."""
    from rosbags.interfaces import Nodetype

    base, name, seq = Nodetype.BASE, Nodetype.NAME, Nodetype.SEQUENCE
    return (
        [],
        [
            ("robot_id", (base, ("string", 0))),
            ("zone_id", (base, ("string", 0))),
            ("pose", (name, "geometry_msgs/msg/Pose2D")),
            ("battery", (base, ("float32", 0))),
            ("state", (base, ("uint8", 0))),
            ("current_order", (base, ("string", 0))),
            ("errors", (seq, ((base, ("string", 0)), 0))),
            ("stamp", (name, "builtin_interfaces/msg/Time")),
            ("linear_velocity", (base, ("float64", 0))),
            ("angular_velocity", (base, ("float64", 0))),
            ("charging", (base, ("bool", 0))),
            ("estop", (base, ("bool", 0))),
            ("localized", (base, ("bool", 0))),
        ],
    )


if __name__ == "__main__":
    main()
