"""``rfos security``: init, list, add-node, revoke offline (then a server started from the
config refuses the revoked identity), token (when the token store exists)."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import nats
import pytest
from secured_server import SecuredServer

from robotfleet_nodes.cli.main import main as rfos
from robotfleet_nodes.config.generate import generate_deployment


@pytest.fixture
def deploy(tmp_path: Path) -> Path:
    generate_deployment(tmp_path / "d", robots=8, zones=2, areas=1)
    return tmp_path / "d"


def test_init_is_idempotent_and_list_shows_everyone(deploy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rfos(["security", "init", "--out", str(deploy)]) == 0
    assert "(0 written)" in capsys.readouterr().out
    assert rfos(["security", "list", "--out", str(deploy)]) == 0
    listing = capsys.readouterr().out
    for name in ("robot-8", "zone-2", "area-1", "fleet", "operator", "viewer", "robots-7-8"):
        assert f"\n{name} " in f"\n{listing}"


async def test_revoke_offline_then_the_server_refuses(
    deploy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(rfos, ["security", "revoke", "robot-3", "--out", str(deploy)]) == 0
    assert "robots-3-4" in capsys.readouterr().out
    server = SecuredServer(deploy / "secrets" / "nats-server.conf")
    server.start()
    try:
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await server.connect("robot-3")
        ok = await server.connect("robots-3-4")  # re-issued without robot-3
        await ok.close()
    finally:
        server.close()


async def test_add_node_gets_exactly_its_topics(deploy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["security", "add-node", "cam", "--out", str(deploy), "--publish", "/camera/image"]
    assert await asyncio.to_thread(rfos, [*args, "--subscribe", "/robots/robot-1/status"]) == 0
    assert "cam.creds" in capsys.readouterr().out
    server = SecuredServer(deploy / "secrets" / "nats-server.conf")
    server.start()
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    try:
        nc = await server.connect("cam", error_cb=on_error)
        await nc.publish("rfos.0.t.camera.image", b"{}")
        await nc.subscribe("rfos.0.t.robots.robot-1.status")
        await nc.publish("rfos.0.t.robots.robot-1.status", b"{}")
        await nc.flush()
        await nc.flush()
        await nc.close()
    finally:
        server.close()
    assert [e for e in errors if "violation" in e.lower()] == [
        'nats: permissions violation for publish to "rfos.0.t.robots.robot-1.status"'
    ]


def test_add_node_refuses_a_tier_name(deploy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rfos(["security", "add-node", "robot-1", "--out", str(deploy)]) != 0
    assert "already a robot identity" in capsys.readouterr().err


@pytest.mark.skipif(
    importlib.util.find_spec("robotfleet_nodes.security.tokens") is None, reason="token store not merged yet"
)
def test_tokens(deploy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rfos(["security", "token", "create", "alice", "--role", "operator", "--out", str(deploy)]) == 0
    token = capsys.readouterr().out.strip()
    assert token and token not in (deploy / "secrets" / "api-tokens.json").read_text()
    assert rfos(["security", "token", "list", "--out", str(deploy)]) == 0
    assert "alice" in capsys.readouterr().out
    assert rfos(["security", "token", "revoke", "alice", "--out", str(deploy)]) == 0
    assert (deploy / "secrets" / "api-admin.token").stat().st_mode & 0o777 == 0o600
