"""The three NATS pods of ``rfos fleet gen-k8s``, run here from their generated files.

Each pod is simulated (k8s_pods: its env and its mounted ConfigMap and Secrets) and its
container's command runs on loopback, the pod DNS names ``nats-<i>.nats`` swapped for
127.0.0.1 ports. They must form a JetStream cluster from the generated configuration alone,
take a stream at 3 replicas, and let a robot pod's identity connect with TLS verifying the
server's name as ``nats-<i>.nats``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.errors
import pytest
from k8s_pods import by_kind_and_name, load_documents, start_pod
from nats.js.errors import ServiceUnavailableError
from shared_helpers import eventually, free_port, get_json, poll_until

from robotfleet_nodes.broker import find_nats_server
from robotfleet_nodes.config import load_config
from robotfleet_nodes.config.k8s import generate_k8s

pytestmark = pytest.mark.timeout(120)


@dataclass
class _Pod:
    name: str
    client: int
    route: int
    monitor: int
    root: Path
    proc: subprocess.Popen[bytes] | None = None


def _healthy(pod: _Pod) -> bool:
    """``/healthz`` of the pod's monitor port: 200 once JetStream (meta leader) is up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{pod.monitor}/healthz", timeout=2) as response:
            return bool(response.status == 200 and json.loads(response.read())["status"] == "ok")
    except urllib.error.HTTPError:
        return False


def _on_loopback(text: str, pod: _Pod, pods: list[_Pod]) -> str:
    """The pod's nats-server.conf with its paths under its root and its ports on 127.0.0.1."""
    text = text.replace('"/etc/nats/', f'"{pod.root}/etc/nats/').replace('"/data/', f'"{pod.root}/data/')
    text = text.replace("\nport: 4222\n", f"\nhost: 127.0.0.1\nport: {pod.client}\n")
    text = text.replace("\nhttp_port: 8222\n", f"\nhttp: 127.0.0.1:{pod.monitor}\n")
    text = text.replace("\n  port: 6222\n", f"\n  host: 127.0.0.1\n  port: {pod.route}\n")
    for i, other in enumerate(pods):
        text = text.replace(f"nats-route://nats-{i}.nats:6222", f"nats-route://127.0.0.1:{other.route}")
    assert "4222" not in text and "6222" not in text and "8222" not in text, text
    return text


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Path, list[_Pod]]]:
    out = tmp_path / "deploy"
    generate_k8s(out, robots=4, zones=2)
    objects = by_kind_and_name(load_documents(out / "k8s"))
    (container,) = objects[("StatefulSet", "nats")]["spec"]["template"]["spec"]["containers"]
    pods = [
        _Pod(f"nats-{i}", free_port(), free_port(), free_port(), tmp_path / f"nats-{i}") for i in range(3)
    ]
    try:
        for pod in pods:
            env, root = start_pod(objects, ("StatefulSet", "nats"), pod.name, pod.root)
            conf = root / "etc" / "nats" / "nats-server.conf"
            conf.write_text(_on_loopback(conf.read_text(), pod, pods))
            command = [find_nats_server() if part == "nats-server" else part for part in container["command"]]
            command = [str(conf) if part == "/etc/nats/nats-server.conf" else part for part in command]
            with (root / "server.log").open("wb") as log:  # the child keeps its own descriptor
                pod.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        for pod in pods:
            poll_until(lambda pod=pod: _healthy(pod), f"{pod.name} /healthz (JetStream up)", timeout=60)
        yield out, pods
    finally:
        for pod in pods:
            if pod.proc is not None:
                pod.proc.terminate()
        for pod in pods:
            if pod.proc is not None:
                try:
                    pod.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pod.proc.kill()
                    pod.proc.wait(5)


async def test_nats_pods_form_a_jetstream_cluster_robots_can_join(
    cluster: tuple[Path, list[_Pod]], tmp_path: Path
) -> None:
    out, pods = cluster
    names = {pod.name for pod in pods}

    async def meshed() -> bool:  # every server has routes to the two others
        for pod in pods:
            routez = await asyncio.to_thread(get_json, f"http://127.0.0.1:{pod.monitor}/routez")
            if {route["remote_name"] for route in routez["routes"]} != names - {pod.name}:
                return False
        return True

    await eventually(meshed, timeout=30, what="a full mesh of routes")
    servers = [f"nats://127.0.0.1:{pod.client}" for pod in pods]
    tls = ssl.create_default_context(cafile=str(out / "secrets" / "ca.pem"))

    operator = await nats.connect(
        servers=servers,
        tls=tls,
        tls_hostname="nats-0.nats",
        user_credentials=str(out / "secrets" / "operator.creds"),
        connect_timeout=5,
        allow_reconnect=False,
    )
    try:
        js = operator.jetstream(timeout=10)

        async def created() -> bool:  # JetStream answers once the cluster elected its meta leader
            try:
                await js.add_stream(name="K8S_R3", subjects=["k8s.r3.>"], num_replicas=3)
            except (ServiceUnavailableError, nats.errors.TimeoutError):
                return False
            return True

        await eventually(created, timeout=30, what="JetStream to answer (a meta leader elected)")
        info = await asyncio.wait_for(js.stream_info("K8S_R3"), 10)
        assert info.cluster is not None and info.cluster.leader in names
        assert len(info.cluster.replicas or []) == 2  # the leader plus two followers
        ack = await js.publish("k8s.r3.x", b"1")
        assert ack.seq == 1
    finally:
        await operator.close()

    # A robot pod: its identity from the projected robot-creds Secret, its CA from rfos-ca.
    objects = by_kind_and_name(load_documents(out / "k8s"))
    env, _ = start_pod(objects, ("StatefulSet", "robot"), "robot-3", tmp_path / "robot-3")
    edge = load_config("edge", environ=env)
    assert edge.messaging.credentials is not None and edge.messaging.tls_ca is not None
    robot = await nats.connect(
        servers=servers[1:],
        tls=ssl.create_default_context(cafile=edge.messaging.tls_ca),
        tls_hostname="nats-1.nats",
        user_credentials=edge.messaging.credentials,
        inbox_prefix=b"_INBOX.robot-3",
        connect_timeout=5,
        allow_reconnect=False,
    )
    try:
        await robot.flush(timeout=5)
        assert robot.is_connected
    finally:
        await robot.close()
