"""`make run`, secured by default: launch/fleet_1000.launch.yaml with robots:=20 and the
default settings, on configs from `rfos fleet gen-config` (identities in <out>/secrets/).

Checked from the outside, as an attacker and as the site's staff would meet it:
- the broker refuses a connection without credentials;
- robot-8's credentials cannot publish robot-7's status nor subscribe to ``rfos.>``, and
  robot-8's connection stays up;
- ``POST /api/work-orders``: 401 without a token, 403 with a viewer token, 201 with an
  operator token; the order completes (counted on the robots: the API's view is enough
  here, exactly-once has its own tests), and the submission is in ``GET /api/audit``.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import ssl
import sys
from pathlib import Path
from typing import Any

import nats
import pytest
from launch_helpers import fleet_deployment, launch_fleet, stop_launch
from nats import errors as nats_errors
from shared_helpers import free_port, poll_until

from robotfleet_nodes.security.tokens import create_token

ROOT = Path(__file__).resolve().parents[2]
RFOS = Path(sys.executable).parent / "rfos"
ROBOTS = 20


def _request(
    port: int, method: str, path: str, *, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Host": f"127.0.0.1:{port}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        try:
            return response.status, json.loads(payload or b"null")
        except ValueError:
            return response.status, payload.decode(errors="replace")
    finally:
        conn.close()


def _tls(secrets: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(secrets / "ca.pem"))


async def _refused_without_credentials(url: str, secrets: Path) -> BaseException | None:
    """The error connecting without credentials, or None when the broker let us in."""
    try:
        nc = await nats.connect(
            url, tls=_tls(secrets), allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=5
        )
    except (nats_errors.Error, OSError, TimeoutError) as exc:
        return exc
    await nc.close()
    return None


async def _robot_8_attacks(url: str, secrets: Path) -> list[str]:
    """Errors the server sent robot-8 for publishing robot-7's status and subscribing to
    ``rfos.>``; the connection must stay up."""
    errors: list[str] = []
    seen = asyncio.Event()

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())  # nats-py lower-cases the server's text
        if sum("permissions violation" in e for e in errors) >= 2:
            seen.set()

    nc = await nats.connect(
        url,
        tls=_tls(secrets),
        user_credentials=str(secrets / "robot-8.creds"),
        inbox_prefix="_INBOX.robot-8",
        error_cb=on_error,
        allow_reconnect=False,
        connect_timeout=5,
    )
    try:
        received: list[bytes] = []

        async def collect(msg: Any) -> None:
            received.append(msg.data)

        await nc.subscribe("rfos.>", cb=collect)
        fake = {"robot_id": "robot-7", "x": 999.0, "battery": 1.0, "state": "ERROR"}
        await nc.publish("rfos.0.t.robots.robot-7.status", json.dumps(fake).encode())
        await nc.flush(timeout=5)
        await asyncio.wait_for(seen.wait(), 20)
        assert nc.is_connected, "robot-8's connection dropped after a refused publish"
        assert received == [], "robot-8 read traffic it may not subscribe to"
    finally:
        await nc.close()
    return errors


@pytest.mark.timeout(240)
def test_make_run_is_secured_by_default(tmp_path: Path) -> None:
    deploy = fleet_deployment(tmp_path / "deploy", ROBOTS, 2)
    secrets = deploy / "secrets"
    admin = (secrets / "api-admin.token").read_text().strip()
    viewer = create_token(secrets / "api-tokens.json", "test-viewer", "viewer")
    operator = create_token(secrets / "api-tokens.json", "test-operator", "operator")
    nats_port, http_port = free_port(), free_port()
    url = f"nats://127.0.0.1:{nats_port}"
    launcher = launch_fleet(
        tmp_path,
        deploy,
        f"robots:={ROBOTS}",
        "zones:=2",
        f"nats_port:={nats_port}",
        f"http_port:={http_port}",
    )
    try:

        def online() -> bool:
            status, body = _request(http_port, "GET", "/api/fleet", token=admin)
            return status == 200 and body["robots_online"] == ROBOTS

        poll_until(online, f"{ROBOTS} robots online", timeout=120)

        def broker_log() -> str:
            return "".join(f.read_text(errors="replace") for f in (tmp_path / "logs").glob("*/nats-*.log"))

        def broker_violations() -> list[str]:
            return [line for line in broker_log().splitlines() if "Violation" in line]

        # Every tier on its own identity: normal operation asks for nothing it may not have.
        assert broker_violations() == [], broker_violations()

        refused = asyncio.run(_refused_without_credentials(url, secrets))
        assert refused is not None, "the broker accepted a connection without credentials"

        errors = asyncio.run(_robot_8_attacks(url, secrets))
        violations = [e for e in errors if "permissions violation" in e]
        assert any("publish to" in e and "rfos.0.t.robots.robot-7.status" in e for e in violations), errors
        assert any("subscription to" in e and "rfos.>" in e for e in violations), errors
        logged = poll_until(broker_violations, "the refusals in the broker's log", timeout=20)
        assert any("rfos.0.t.robots.robot-7.status" in line for line in logged), logged

        submission = {"area_id": "area-1", "task": "pick"}
        assert _request(http_port, "POST", "/api/work-orders", body=submission)[0] == 401
        assert _request(http_port, "POST", "/api/work-orders", token=viewer, body=submission)[0] == 403
        status, order = _request(http_port, "POST", "/api/work-orders", token=operator, body=submission)
        assert status == 201, order

        def completed() -> bool:
            status, body = _request(http_port, "GET", f"/api/work-orders/{order['id']}", token=viewer)
            return status == 200 and body["state"] == "COMPLETED"

        poll_until(completed, "the operator's order completed")

        def audited() -> list[Any]:
            status, body = _request(http_port, "GET", "/api/audit?action=submit", token=admin)
            assert status == 200, body
            records = body["items"]
            return [r for r in records if order["id"] in json.dumps(r)]

        records = poll_until(audited, "the submission in the audit log", timeout=20)
        assert "test-operator" in json.dumps(records[0])
    finally:
        output = stop_launch(launcher)
    assert launcher.returncode == 0, output[-3000:]
    assert "api-admin.token" in output
    assert admin not in output, "the admin token was printed"
