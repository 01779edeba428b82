"""The three NATS pods of ``rfos fleet gen-k8s``, run here from their generated files.

Each pod is simulated (k8s_pods: its env and its mounted ConfigMap and Secrets) and its
container's command runs on loopback, the pod DNS names ``nats-<i>.nats:<port>`` (in the
config and in the env it advertises) swapped for 127.0.0.1 ports. They must form a
JetStream cluster over mutual-TLS routes from the generated configuration alone, take a
stream at 3 replicas, tell a client given one server the other two (so the tiers' automatic
replicas are 3), let a robot pod's identity connect with TLS verifying the server's name as
``nats-<i>.nats``, and refuse a fourth server whose route certificate the CA signed but the
configuration does not pin (the same server with the pinned certificate joins).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from k8s_pods import Objects, by_kind_and_name, load_documents, start_pod
from nats.js.errors import ServiceUnavailableError
from shared_helpers import eventually, free_port, get_json, poll_until

from robotfleet_nodes.broker import find_nats_server
from robotfleet_nodes.config import load_config
from robotfleet_nodes.config.k8s import generate_k8s
from robotfleet_nodes.security.tls import issue_certificate
from robotfleet_nodes.transport.nats._replicas import stream_replicas

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


def _dns(text: str, pods: list[_Pod], host: str = "127.0.0.1") -> str:
    """``nats-<i>.nats:4222`` / ``:6222`` -> ``host`` and the loopback ports of pod i (what DNS
    would resolve)."""
    for i, other in enumerate(pods):
        text = text.replace(f"nats-{i}.nats:4222", f"{host}:{other.client}")
        text = text.replace(f"nats-{i}.nats:6222", f"{host}:{other.route}")
    return text


def _on_loopback(text: str, pod: _Pod, pods: list[_Pod]) -> str:
    """The pod's nats-server.conf with its paths under its root and its ports on 127.0.0.1."""
    text = text.replace('"/etc/nats/', f'"{pod.root}/etc/nats/').replace('"/data/', f'"{pod.root}/data/')
    text = text.replace("\nport: 4222\n", f"\nhost: 127.0.0.1\nport: {pod.client}\n")
    text = text.replace("\nhttp_port: 8222\n", f"\nhttp: 127.0.0.1:{pod.monitor}\n")
    text = text.replace("\n  port: 6222\n", f"\n  host: 127.0.0.1\n  port: {pod.route}\n")
    text = _dns(text, pods)
    settings = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    # whole numbers only: a free port such as 42221 may hold the digits 4222
    assert not re.search(r"\b(4222|6222|8222)\b", settings), settings
    return text


def _start(
    objects: Objects, container: dict[str, Any], pod: _Pod, pods: list[_Pod], *, route_tls: Path | None = None
) -> None:
    """Start ``pod`` of the NATS StatefulSet (env, volumes, command) on loopback; ``route_tls``:
    a directory whose route-cert.pem / route-key.pem replace the Secret's."""
    env, root = start_pod(objects, ("StatefulSet", "nats"), pod.name, pod.root)
    # what the pod advertises is its name: here "localhost" (also a name of both certificates),
    # so a client's discovered servers are told apart from its configured 127.0.0.1 ones
    env = {name: _dns(value, pods, "localhost") for name, value in env.items()}
    assert env["CLIENT_ADVERTISE"] == f"localhost:{pod.client}", env  # was <pod>.nats:4222
    etc = root / "etc" / "nats"
    conf = etc / "nats-server.conf"
    conf.write_text(_on_loopback(conf.read_text(), pod, pods))
    if route_tls is not None:
        for name in ("route-cert.pem", "route-key.pem"):
            shutil.copyfile(route_tls / name, etc / name)
    command = [find_nats_server() if part == "nats-server" else part for part in container["command"]]
    command = [str(conf) if part == "/etc/nats/nats-server.conf" else part for part in command]
    with (root / "server.log").open("wb") as log:  # the child keeps its own descriptor
        pod.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def _route_names(pod: _Pod) -> set[str]:
    routez = get_json(f"http://127.0.0.1:{pod.monitor}/routez")
    return {route["remote_name"] for route in routez["routes"]}


def _stop(pods: list[_Pod]) -> None:
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


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Path, Objects, list[_Pod]]]:
    out = tmp_path / "deploy"
    generate_k8s(out, robots=4, zones=2)
    objects = by_kind_and_name(load_documents(out / "k8s"))
    (container,) = objects[("StatefulSet", "nats")]["spec"]["template"]["spec"]["containers"]
    pods = [
        _Pod(f"nats-{i}", free_port(), free_port(), free_port(), tmp_path / f"nats-{i}") for i in range(3)
    ]
    try:
        for pod in pods:
            _start(objects, container, pod, pods)
        for pod in pods:
            poll_until(lambda pod=pod: _healthy(pod), f"{pod.name} /healthz (JetStream up)", timeout=60)
        yield out, objects, pods
    finally:
        _stop(pods)


async def test_nats_pods_form_a_jetstream_cluster_robots_can_join(
    cluster: tuple[Path, Objects, list[_Pod]], tmp_path: Path
) -> None:
    out, objects, pods = cluster
    names = {pod.name for pod in pods}

    async def meshed() -> bool:  # every server has routes to the two others
        for pod in pods:
            if await asyncio.to_thread(_route_names, pod) != names - {pod.name}:
                return False
        return True

    await eventually(meshed, timeout=30, what="a full mesh of routes")
    for pod in pods:  # over mutual TLS
        varz = await asyncio.to_thread(get_json, f"http://127.0.0.1:{pod.monitor}/varz")
        assert varz["cluster"]["tls_required"] and varz["cluster"]["tls_verify"], varz["cluster"]
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

    # A robot pod: its identity from the projected robot-creds Secret, its CA from rfos-ca;
    # given one server only (as through the Service nats-client), it learns the other two
    # from client_advertise, so the automatic replicas are 3 without MESSAGING_JETSTREAM_REPLICAS.
    env, _ = start_pod(objects, ("StatefulSet", "robot"), "robot-3", tmp_path / "robot-3")
    edge = load_config("edge", environ=env)
    assert edge.messaging.credentials is not None and edge.messaging.tls_ca is not None
    robot = await nats.connect(
        servers=[servers[1]],
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
        discovered = {f"nats://{srv.netloc}" for srv in robot.discovered_servers}
        assert discovered == {f"nats://localhost:{pod.client}" for pod in pods}  # CLIENT_ADVERTISE
        assert stream_replicas(robot) == 3
    finally:
        await robot.close()


async def test_a_route_certificate_that_is_not_pinned_cannot_join(
    cluster: tuple[Path, Objects, list[_Pod]], tmp_path: Path
) -> None:
    """A fourth server from the same generated config with a route certificate the CA signed
    (server and client use, the right names) but not pinned: refused; with the pinned one it joins."""
    out, objects, pods = cluster
    (container,) = objects[("StatefulSet", "nats")]["spec"]["template"]["spec"]["containers"]
    other_ca = tmp_path / "issuer"  # the deployment's CA, a new key pair
    other_ca.mkdir()
    for name in ("ca.pem", "ca-key.pem"):
        shutil.copyfile(out / "secrets" / name, other_ca / name)
    hosts = ["localhost", "127.0.0.1", "nats-3.nats"]
    issue_certificate(other_ca, "route", common_name="nats-route", hosts=hosts, route=True)
    names = {pod.name for pod in pods}

    refused = "TLS route handshake error: certificate not pinned"
    assert not any(refused in (pod.root / "server.log").read_text() for pod in pods)
    intruder = _Pod("nats-3", free_port(), free_port(), free_port(), tmp_path / "intruder")
    try:
        _start(objects, container, intruder, [*pods, intruder], route_tls=other_ca)
        # it dials the three routes: each pod refuses the handshake on its pin check
        await eventually(
            lambda: all(refused in (pod.root / "server.log").read_text() for pod in pods),
            timeout=30,
            what="every pod to refuse the intruder's route",
        )
        varz = f"http://127.0.0.1:{intruder.monitor}/varz"
        await asyncio.to_thread(poll_until, lambda: get_json(varz), "the intruder's monitor", 30)
        assert await asyncio.to_thread(_route_names, intruder) == set()
        for pod in pods:
            assert await asyncio.to_thread(_route_names, pod) == names - {pod.name}
    finally:
        _stop([intruder])

    genuine = _Pod("nats-3", free_port(), free_port(), free_port(), tmp_path / "genuine")
    try:
        _start(objects, container, genuine, [*pods, genuine])
        await asyncio.to_thread(
            poll_until,
            lambda: _route_names(genuine) == names,
            "the server with the pinned route certificate to join",
            30,
        )
    finally:
        _stop([genuine])
