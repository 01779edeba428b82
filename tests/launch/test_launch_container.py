"""A container process loading two example components that talk over the test broker."""

from __future__ import annotations

import asyncio

from launch_helpers import ServiceFactory

from robotfleet_nodes.launch import (
    ComposableNode,
    ComposableNodeContainer,
    LaunchDescription,
    SetEnvironmentVariable,
)


async def test_container_runs_talker_and_listener(
    service: ServiceFactory, nats_url: str, unique: str
) -> None:
    desc = LaunchDescription(
        [
            SetEnvironmentVariable("MESSAGING_URL", nats_url),
            SetEnvironmentVariable("RFOS_SUBJECT_ROOT", unique),
            ComposableNodeContainer(
                "demo_container",
                "/demo",
                composable_nodes=[
                    ComposableNode("robotfleet_nodes.examples.talker:Talker", name="talker"),
                    ComposableNode("robotfleet_nodes.examples.listener:Listener", name="listener"),
                ],
            ),
        ]
    )
    svc, out = service(desc)
    task = asyncio.create_task(svc.run_async())
    await out.wait_for("I heard", timeout=20)
    svc.shutdown("test")
    assert await asyncio.wait_for(task, 15) == 0
    assert svc.processes[0].returncode == 0, out.getvalue()
    assert "[demo_container-1]" in out.getvalue()
