"""The vendored VDA 5050 2.1.0 schemas (robotfleet_nodes/vda5050) and message validation."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from robotfleet_nodes import vda5050
from robotfleet_nodes.errors import RobotFleetError, Vda5050SchemaError

#: The reference copy the project was given (``../shared/vda5050`` beside the checkout, else
#: /work/shared/vda5050); RFOS_VDA5050_REFERENCE names another.
_CANDIDATES = [Path(__file__).resolve().parents[3] / "shared" / "vda5050", Path("/work/shared/vda5050")]
REFERENCE = Path(
    os.environ.get("RFOS_VDA5050_REFERENCE", next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0]))
)
VENDORED = Path(str(resources.files("robotfleet_nodes.vda5050").joinpath("schemas")))


def _header(**fields: Any) -> dict[str, Any]:
    return {
        "headerId": 1,
        "timestamp": "2026-12-05T12:00:00.00Z",
        "version": "2.1.0",
        "manufacturer": "Acme",
        "serialNumber": "SN.1",
        **fields,
    }


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"no reference copy at {REFERENCE}")
def test_the_vendored_schemas_and_license_are_the_reference_copy_unchanged() -> None:
    reference = sorted(p.name for p in (REFERENCE / "2.1.0").glob("*.schema"))
    vendored = sorted(p.name for p in (VENDORED / "2.1.0").glob("*.schema"))
    assert vendored == reference == sorted(f"{t}.schema" for t in vda5050.TOPICS)
    for name in reference:
        assert (VENDORED / "2.1.0" / name).read_bytes() == (REFERENCE / "2.1.0" / name).read_bytes(), name
    assert (VENDORED / "LICENSE.txt").read_bytes() == (REFERENCE / "LICENSE.txt").read_bytes()


def test_valid_messages_pass() -> None:
    vda5050.validate("connection", _header(connectionState="ONLINE"))
    vda5050.validate(
        "instantActions",
        _header(actions=[{"actionId": "cancel-1", "actionType": "cancelOrder", "blockingType": "HARD"}]),
    )


@pytest.mark.parametrize(
    ("topic", "message", "where"),
    [
        ("connection", _header(connectionState="SLEEPING"), "connectionState"),
        (
            "connection",
            {k: v for k, v in _header(connectionState="ONLINE").items() if k != "serialNumber"},
            "(the message)",
        ),
        ("connection", _header(connectionState="ONLINE", headerId="one"), "headerId"),
        (
            "instantActions",
            _header(actions=[{"actionId": "a", "actionType": "x", "blockingType": "SOFTISH"}]),
            "actions[0].blockingType",
        ),
    ],
)
def test_invalid_messages_are_refused_naming_the_field(
    topic: str, message: dict[str, Any], where: str
) -> None:
    with pytest.raises(Vda5050SchemaError) as caught:
        vda5050.validate(topic, message)
    assert isinstance(caught.value, RobotFleetError) and isinstance(caught.value, ValueError)
    assert f"invalid VDA 5050 {topic} message: {where}:" in str(caught.value)
    assert vda5050.errors(topic, message)


def test_an_unknown_topic_is_refused_with_the_known_ones() -> None:
    with pytest.raises(Vda5050SchemaError, match="expected one of order, instantActions, state"):
        vda5050.validate("orders", {})


def test_schema_returns_a_copy() -> None:
    first = vda5050.schema("state")
    first["required"] = []
    assert vda5050.schema("state")["required"]
    assert vda5050.SCHEMA_VERSION == "2.1.0"
