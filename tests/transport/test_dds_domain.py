"""The process's DDS domain: Fast DDS compatibility added to whatever CYCLONEDDS_URI says.

That the setting is applied (not only built) is proven by tests/transport/test_ros2_dds_interop.py:
``LOOPBACK_CONFIG`` no longer carries it, and nested sensor types from real ROS 2 (Fast DDS)
only match with it.
"""

from __future__ import annotations

import pytest

pytest.importorskip("cyclonedds")

from robotfleet_nodes.transport.dds import FASTDDS_COMPATIBILITY, LOOPBACK_CONFIG
from robotfleet_nodes.transport.dds._domain import domain_config


def test_the_compatibility_fragment_follows_the_user_configuration() -> None:
    config = domain_config(LOOPBACK_CONFIG + ",")
    first, second = config.split("</CycloneDDS>,", 1)
    assert first + "</CycloneDDS>" == LOOPBACK_CONFIG
    assert FASTDDS_COMPATIBILITY in second and FASTDDS_COMPATIBILITY not in LOOPBACK_CONFIG


def test_without_a_user_configuration_only_the_fragment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CYCLONEDDS_URI", raising=False)
    assert domain_config() == f"<CycloneDDS><Domain>{FASTDDS_COMPATIBILITY}</Domain></CycloneDDS>"
    monkeypatch.setenv("CYCLONEDDS_URI", "file:///etc/robot/cyclonedds.xml")
    assert domain_config().startswith("file:///etc/robot/cyclonedds.xml,<CycloneDDS>")
