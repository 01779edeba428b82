"""A composed edge (one transport on the container identity ``robots-6-10``) through the
revocation of robot-7: the server drops its connection (the old container key is revoked),
the transport reconnects with the re-issued creds file, keeps speaking for robot-6 and may
no longer speak for robot-7; ``reissue`` gives robot-7 back to it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from secured_server import SecuredServer
from shared_helpers import eventually

from robotfleet_nodes.security.revocation import reissue, revoke
from robotfleet_nodes.transport import NatsTransport

P = "rfos.0"


async def test_container_transport_survives_revocation(deployment: Path, server: SecuredServer) -> None:
    secrets = deployment / "secrets"
    transport = NatsTransport(
        server.url, credentials=secrets / "robots-6-10.creds", tls_ca=secrets / "ca.pem", reconnect_wait=0.1
    )
    watcher = await server.connect("operator")
    got: dict[str, list[bytes]] = {"robot-6": [], "robot-7": []}

    async def on_status(msg: Any) -> None:
        got[msg.subject.split(".")[4]].append(msg.data)

    await watcher.subscribe(f"{P}.t.robots.*.status", cb=on_status)
    await watcher.flush()
    await transport.connect()
    try:
        assert transport.identity == "robots-6-10"
        robot6 = await transport.raw_publisher(f"{P}.t.robots.robot-6.status")
        robot7 = await transport.raw_publisher(f"{P}.t.robots.robot-7.status")

        async def delivered(publisher: Any, robot: str) -> bool:
            before = len(got[robot])
            try:
                await publisher.publish(b"{}")
                await transport.flush(timeout=0.5)
            except Exception:  # reconnecting: try again
                return False
            await asyncio.sleep(0.05)
            return len(got[robot]) > before

        await eventually(lambda: delivered(robot6, "robot-6"), what="robot-6 status before")
        await revoke(deployment, "robot-7", url=server.url)
        await eventually(lambda: transport.credential_refusals > 0, what="the old container key dropped")
        await eventually(lambda: delivered(robot6, "robot-6"), what="robot-6 status after the re-issue")
        violations = transport.permission_violations
        await robot7.publish(b"{}")
        await eventually(lambda: transport.permission_violations > violations, what="robot-7 refused")

        await reissue(deployment, "robot-7", url=server.url)
        await eventually(lambda: delivered(robot7, "robot-7"), what="robot-7 status after reissue")
    finally:
        await transport.close()
        await watcher.close()
