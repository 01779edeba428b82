"""``rfos security revoke robot-7`` on a running server: robot-7's connection is closed and
its reconnects refused, the container holding robot-7 is re-keyed without it, no other
connection drops; ``reissue`` brings robot-7 back. Polls with timeouts, no timing asserts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import nats
import pytest
from secured_server import SecuredServer

from robotfleet_nodes.security.jwt import decode_jwt
from robotfleet_nodes.security.revocation import reissue, revoke

TIMEOUT = 10.0


def _key(secrets: Path, name: str) -> str:
    return str(json.loads((secrets / "identities.json").read_text())["identities"][name]["key"])


async def _watched(server: SecuredServer, name: str) -> tuple[Any, asyncio.Event]:
    closed = asyncio.Event()

    async def on_closed() -> None:
        closed.set()

    async def on_error(exc: Exception) -> None:  # the revoked client's close reason lands here
        pass

    nc = await server.connect(name, closed_cb=on_closed, error_cb=on_error)
    return nc, closed


async def test_revoke_closes_and_refuses_reissue_brings_back(deployment: Path, server: SecuredServer) -> None:
    secrets = deployment / "secrets"
    robot7, robot7_closed = await _watched(server, "robot-7")
    robot8, robot8_closed = await _watched(server, "robot-8")
    holder, holder_closed = await _watched(server, "robots-6-10")  # holds robot-7
    other, other_closed = await _watched(server, "robots-11-15")
    zone, zone_closed = await _watched(server, "zone-1")
    old7, old_holder = _key(secrets, "robot-7"), _key(secrets, "robots-6-10")
    try:
        result = await revoke(deployment, "robot-7", url=server.url)
        assert result.pushed
        assert result.reissued == ["robots-6-10"]
        await asyncio.wait_for(robot7_closed.wait(), TIMEOUT)
        await asyncio.wait_for(holder_closed.wait(), TIMEOUT)  # its old key is revoked too
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await server.connect("robot-7")
        # The others never dropped (one round trip each proves the connection is alive).
        for nc, closed in ((robot8, robot8_closed), (other, other_closed), (zone, zone_closed)):
            await nc.flush(timeout=TIMEOUT)
            assert nc.is_connected and not closed.is_set()
        # The account JWT lists both old keys; the new container creds no longer carry robot-7.
        account = decode_jwt(
            _account_jwt(secrets),
            kind="account",
        )
        assert {old7, old_holder} <= set(account["nats"]["revocations"])
        holder_jwt = _user_jwt(secrets / "robots-6-10.creds")
        subjects = json.dumps(decode_jwt(holder_jwt)["nats"])
        assert "robot-7." not in subjects and "robot-6." in subjects
        new_holder = await server.connect("robots-6-10")  # re-reads the new creds file
        assert new_holder.is_connected
        await new_holder.close()

        result = await reissue(deployment, "robot-7", url=server.url)
        assert result.reissued[0] == "robot-7" and "robots-6-10" in result.reissued
        assert _key(secrets, "robot-7") != old7
        back = await server.connect("robot-7")
        assert back.is_connected
        await back.close()
        assert "robot-7." in json.dumps(decode_jwt(_user_jwt(secrets / "robots-6-10.creds"))["nats"])
    finally:
        for nc in (robot7, robot8, holder, other, zone):
            if not nc.is_closed:
                await nc.close()


def _account_jwt(secrets: Path) -> str:
    key = (secrets / "account-RFOS.nk").read_text().strip()
    from robotfleet_nodes.security._nkeys import key_from_seed

    return (secrets / "jwt" / f"{key_from_seed(key).public_key}.jwt").read_text().strip()


def _user_jwt(creds: Path) -> str:
    return creds.read_text().split("-----BEGIN NATS USER JWT-----\n")[1].split("\n")[0]


async def test_revoking_an_unknown_identity_says_so(deployment: Path) -> None:
    from robotfleet_nodes.errors import ConfigError

    with pytest.raises(ConfigError, match="no identity named 'robot-99'"):
        await revoke(deployment, "robot-99")
