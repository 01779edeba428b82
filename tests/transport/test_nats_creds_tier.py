"""A tier process connects with the credentials and CA its YAML names (paths relative to it).

Real processes: ``python -m robotfleet_nodes.edge.main`` with ``EDGE_CONFIG`` pointing at a
generated-style ``deploy/edge/robot-1.yaml`` whose ``messaging.credentials`` is
``../secrets/robot-1.creds``, against a nats-server in JWT mode with TLS.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _creds_broker import SecureBroker

_SCRUBBED = (
    "MESSAGING_URL",
    "MESSAGING_CREDS",
    "MESSAGING_TLS_CA",
    "MESSAGING_TLS_CERT",
    "MESSAGING_TLS_KEY",
    "RFOS_INSECURE",
    "EDGE_CONFIG",
    "EDGE_ROBOT_ID",
    "EDGE_ZONE_ID",
    "RFOS_CONNECT_WAIT",
    "RFOS_TRANSPORT",
)


@pytest.fixture(scope="module")
def deploy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SecureBroker, Path]]:
    root = tmp_path_factory.mktemp("deploy")
    broker = SecureBroker(root / "secrets", tls=True)
    broker.issue("robot-1")  # permissions are helper A's tables; here: the identity itself
    broker.start()
    (root / "edge").mkdir()
    yield broker, root
    broker.stop()


def _edge(config: Path, url: str, **env: str) -> subprocess.Popen[str]:
    base = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
    return subprocess.Popen(
        [sys.executable, "-m", "robotfleet_nodes.edge.main"],
        env={
            **base,
            "EDGE_CONFIG": str(config),
            "MESSAGING_URL": url,
            "EDGE_JOURNAL_DIR": str(config.parent),
            **env,
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_until(proc: subprocess.Popen[str], needle: str, timeout: float = 30.0) -> list[str]:
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line.rstrip())
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} not logged; got:\n" + "\n".join(seen))


@pytest.mark.slow
def test_an_edge_connects_as_the_identity_its_yaml_names(deploy: tuple[SecureBroker, Path]) -> None:
    broker, root = deploy
    config = root / "edge" / "robot-1.yaml"
    config.write_text(
        "robot_id: robot-1\nzone_id: zone-1\n"
        "messaging:\n  credentials: ../secrets/robot-1.creds\n  tls_ca: ../secrets/ca.pem\n"
    )
    proc = _edge(config, broker.url)
    try:
        lines = _read_until(proc, "connected to NATS")
        assert "identity robot-1" in lines[-1]
    finally:
        proc.terminate()  # may come before its signal handlers: the exit status says nothing here
        proc.communicate(timeout=30)


@pytest.mark.slow
def test_an_edge_without_credentials_is_refused_in_one_line(deploy: tuple[SecureBroker, Path]) -> None:
    broker, root = deploy
    config = root / "edge" / "robot-2.yaml"
    config.write_text("robot_id: robot-2\nzone_id: zone-1\nmessaging:\n  tls_ca: ../secrets/ca.pem\n")
    proc = _edge(config, broker.url)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("edge: cannot start: the NATS server at nats://127.0.0.1:")
    assert "requires credentials" in last and "MESSAGING_CREDS" in last
    assert "Traceback" not in err
