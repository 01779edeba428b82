"""CDR bytes and defaults agree with real ROS 2 (rclpy in the `.venv-ros2` oracle).

For every message the ROS 2 wheels describe, and the ``_Request`` / ``_Response`` / ``_Event``
of every service and the goal, result and feedback of every action: real rclpy serializes a
default-constructed message and we decode it to our default-constructed message; we serialize
ours and rclpy decodes it to its default. Bytes are not compared directly: Fast DDS leaves
alignment padding uninitialised. Equal in both directions means the same layout, the same
defaults (``test_msgs/Defaults``, bounded and fixed arrays, strings, wstrings).
"""

from __future__ import annotations

import json
import subprocess

from robotfleet_nodes.idl import default_registry
from robotfleet_nodes.idl.codec import Encoding, deserialize, serialize
from tests.idl.test_ros2_hashes import EXCEPTIONS
from tests.ros2_oracle import oracle

#: Types whose CDR differs from rmw_fastrtps's on purpose, and why.
CDR_EXCEPTIONS = {
    # wstring: rmw_fastrtps writes 4-byte characters, rmw_cyclonedds_cpp (our DDS transport's
    # peer) UTF-16 code units; we write the latter (robotfleet_nodes/idl/_cdr.py).
    "test_msgs/msg/WStrings": "wstring: UTF-16 units (Cyclone) here, 4-byte characters in Fast DDS",
}

#: Runs under real rclpy: reads {name: our CDR hex}, prints {name: [rclpy CDR hex, ours == default]}.
_ORACLE_SCRIPT = r"""
import importlib, json, sys
from rclpy.serialization import deserialize_message, serialize_message


def ros_class(name):
    package, kind, short = name.split("/")
    module = importlib.import_module(f"{package}.{kind}")
    base, _, part = short.partition("_")
    cls = getattr(module, base)
    return getattr(cls, part) if part else cls

out = {}
for name, ours in json.load(sys.stdin).items():
    cls = ros_class(name)
    mine = serialize_message(cls())
    try:
        equal = deserialize_message(bytes.fromhex(ours), cls) == cls()
    except Exception as exc:  # one line per type that rclpy cannot decode
        equal = f"{type(exc).__name__}: {exc}".splitlines()[0]
    out[name] = [mine.hex(), equal]
print(json.dumps(out))
"""


def _names() -> list[str]:
    names: list[str] = []
    for described in oracle().types():
        kind = described.name.split("/")[1]
        if described.name in EXCEPTIONS or described.name in CDR_EXCEPTIONS:
            continue
        if kind == "msg":
            names.append(described.name)
        elif kind == "srv":
            names.extend(f"{described.name}_{part}" for part in ("Request", "Response", "Event"))
        else:
            names.extend(f"{described.name}_{part}" for part in ("Goal", "Result", "Feedback"))
    return names


def test_default_messages_cross_decode_with_real_rclpy() -> None:
    ros2 = oracle()
    names = _names()
    assert len(names) > 200
    registry = default_registry()
    ours = {name: serialize(registry.get_class(name)(), Encoding.CDR).hex() for name in names}
    run = subprocess.run(
        [str(ros2.python), "-c", _ORACLE_SCRIPT],
        input=json.dumps(ours),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    theirs: dict[str, list[object]] = json.loads(run.stdout)
    assert sorted(theirs) == sorted(names)
    rclpy_refused = {name: equal for name, (_, equal) in sorted(theirs.items()) if equal is not True}
    assert rclpy_refused == {}, "rclpy decoded our default to something else (or failed)"
    we_differ = []
    for name, (data, _) in sorted(theirs.items()):
        cls = registry.get_class(name)
        try:
            if deserialize(cls, bytes.fromhex(str(data)), Encoding.CDR) != cls():
                we_differ.append(name)
        except ValueError as exc:
            we_differ.append(f"{name}: {exc}")
    assert we_differ == [], "we decoded rclpy's default to something else"
