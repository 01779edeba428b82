"""The audit trail: commands over HTTP and over NATS land in the stream and in GET /api/audit.

A real fleet on a real nats-server with a tokens file; records are read back both through
the API (admin) and straight from the JetStream stream.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from nats.js.errors import APIError
from shared_helpers import eventually
from topology import fast_fleet_config, fleet_service, nats_context

from robotfleet_nodes.config.models import HttpConfig
from robotfleet_nodes.fleet._audit import audit_stream
from robotfleet_nodes.fleet.protocol import nats_transport_of
from robotfleet_nodes.node import Node
from robotfleet_nodes.security.tokens import create_token, revoke_token
from robotfleet_nodes.srv import CancelWorkOrder, SubmitWorkOrder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "security"))
from test_http_auth import call

TIMEOUT = 10.0


async def audit_items(base: str, token: str | None, query: str = "") -> list[dict[str, Any]]:
    reply = await call(base, "GET", f"/api/audit{query}", token=token)
    assert reply.status == 200, reply.body
    assert set(reply.body) == {"items", "next_after", "more"}
    items: list[dict[str, Any]] = reply.body["items"]
    return items


async def wait_for_records(base: str, token: str | None, count: int, query: str = "") -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        found = await audit_items(base, token, query)
        return found if len(found) >= count else None

    found: list[dict[str, Any]] = await eventually(enough, what=f"{count} audit records")
    return found


async def test_commands_over_http_and_nats_are_audited(nats_url: str, unique: str, tmp_path: Path) -> None:
    tokens_file = tmp_path / "api-tokens.json"
    admin = create_token(tokens_file, "boss", "admin")
    operator = create_token(tokens_file, "ops", "operator")
    viewer = create_token(tokens_file, "eyes", "viewer")
    config = fast_fleet_config().model_copy(update={"http": HttpConfig(tokens_file=str(tokens_file))})
    async with fleet_service(nats_url, unique, config) as fleet, nats_context(nats_url, unique) as ctx:
        base = fleet.base_url
        # over HTTP: a submit, a bad submit, a cancel, a token created and revoked
        order = {"area_id": "area-1", "task": "pick", "id": f"{unique}-h1", "target": {"x": 1, "y": 2}}
        assert (await call(base, "POST", "/api/work-orders", body=order, token=operator)).status == 201
        bad = await call(base, "POST", "/api/work-orders", body={"area_id": "area-9"}, token=operator)
        assert bad.status == 422
        cancel = await call(base, "POST", f"/api/work-orders/{unique}-h1/cancel", token=operator)
        assert cancel.status == 200
        created = await call(base, "POST", "/api/tokens", body={"name": "bot", "role": "viewer"}, token=admin)
        assert created.status == 201
        assert (await call(base, "DELETE", "/api/tokens/bot", token=admin)).status == 200
        # over NATS: the fleet's services
        caller = Node("caller", context=ctx)
        await caller.start()
        submit = await caller.create_client(SubmitWorkOrder, "/fleet/submit")
        cancel_srv = await caller.create_client(CancelWorkOrder, "/fleet/cancel")
        answer = await submit.call(SubmitWorkOrder.Request(id=f"{unique}-n1", area_id="area-1", task="drop"))
        assert answer.accepted
        refused = await cancel_srv.call(CancelWorkOrder.Request(id="nope", reason="why not"))
        assert not refused.accepted

        items = await wait_for_records(base, admin, 7)
        assert [(r["action"], r["actor"]) for r in items] == [
            ("submit", "ops"),
            ("submit", "ops"),
            ("cancel", "ops"),
            ("token_create", "boss"),
            ("token_revoke", "boss"),
            ("submit", "nats"),
            ("cancel", "nats"),
        ]
        first, bad_rec, cancel_rec, made, revoked, nats_submit, nats_cancel = items
        assert first["role"] == "operator" and first["target"] == f"{unique}-h1" and first["status"] == 201
        assert first["ok"] is True and first["via"] == "http"
        assert first["params"] == {"area_id": "area-1", "task": "pick", "priority": 5, "target": [1, 2]}
        assert first["source"].startswith("127.0.0.1:")
        assert dt.datetime.fromisoformat(first["at"].replace("Z", "+00:00")).tzinfo is not None
        assert bad_rec["status"] == 422 and bad_rec["ok"] is False and bad_rec["error"]
        assert cancel_rec["target"] == f"{unique}-h1" and cancel_rec["status"] == 200
        assert made["target"] == "bot" and made["params"] == {"role": "viewer"} and made["status"] == 201
        assert revoked["target"] == "bot" and revoked["status"] == 200
        assert nats_submit["via"] == "nats" and nats_submit["source"] == "nats"
        assert nats_submit["target"] == f"{unique}-n1" and nats_submit["ok"] is True
        assert (
            nats_cancel["target"] == "nope" and nats_cancel["ok"] is False and "nope" in nats_cancel["error"]
        )
        assert created.body["token"] not in json.dumps(items)
        seqs = [r["seq"] for r in items]
        assert seqs == sorted(seqs) and len(set(seqs)) == 7

        # filters and pages
        assert [r["action"] for r in await audit_items(base, admin, "?actor=nats")] == ["submit", "cancel"]
        assert [r["actor"] for r in await audit_items(base, admin, "?action=cancel")] == ["ops", "nats"]
        assert len(await audit_items(base, admin, "?actor=ops&action=submit")) == 2
        page = await call(base, "GET", "/api/audit?limit=3", token=admin)
        assert [r["seq"] for r in page.body["items"]] == seqs[:3] and page.body["more"] is True
        rest = await call(base, "GET", f"/api/audit?after={page.body['next_after']}&limit=100", token=admin)
        assert [r["seq"] for r in rest.body["items"]] == seqs[3:] and rest.body["more"] is False
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        assert await audit_items(base, admin, f"?since={later.isoformat().replace('+00:00', 'Z')}") == []
        assert len(await audit_items(base, admin, "?since=2000-01-01T00:00:00")) == 7

        # who may read it: admin only
        assert (await call(base, "GET", "/api/audit", token=operator)).status == 403
        assert (await call(base, "GET", "/api/audit", token=viewer)).status == 403
        assert (await call(base, "GET", "/api/audit")).status == 401

        # the stream itself: its name, subjects, and no message can be deleted
        js = nats_transport_of(ctx.transport).jetstream()
        stream = audit_stream(unique, "0")
        info = await js.stream_info(stream)
        assert info.config.subjects == [f"{unique}.0.w.audit.>"] and info.config.deny_delete
        raw = await js.get_msg(stream, seqs[0])
        assert raw.subject == f"{unique}.0.w.audit.submit.ops"
        try:
            await js.delete_msg(stream, seqs[0])
        except APIError:
            pass
        else:
            raise AssertionError("an audit record could be deleted")


async def test_tokens_changed_in_the_file_are_audited(nats_url: str, unique: str, tmp_path: Path) -> None:
    """``rfos security token create/revoke`` write the file; the fleet records what it sees."""
    tokens_file = tmp_path / "api-tokens.json"
    admin = create_token(tokens_file, "boss", "admin")
    config = fast_fleet_config().model_copy(update={"http": HttpConfig(tokens_file=str(tokens_file))})
    async with fleet_service(nats_url, unique, config) as fleet:
        token = create_token(tokens_file, "cli-made", "operator")  # as the CLI does
        assert (await call(fleet.base_url, "GET", "/api/fleet", token=token)).status == 200
        revoke_token(tokens_file, "cli-made")
        items = await wait_for_records(fleet.base_url, admin, 2)
        assert [(r["action"], r["actor"], r["target"], r["via"]) for r in items] == [
            ("token_create", "file", "cli-made", "file"),
            ("token_revoke", "file", "cli-made", "file"),
        ]
        assert items[0]["params"]["role"] == "operator" and items[1]["params"]["revoked"]
        assert items[0]["source"] == str(tokens_file)


async def test_bad_audit_queries_are_4xx(nats_url: str, unique: str, tmp_path: Path) -> None:
    tokens_file = tmp_path / "api-tokens.json"
    admin = create_token(tokens_file, "boss", "admin")
    config = fast_fleet_config().model_copy(update={"http": HttpConfig(tokens_file=str(tokens_file))})
    async with fleet_service(nats_url, unique, config) as fleet:
        for query in (
            "limit=0",
            "limit=1001",
            "limit=x",
            "after=-1",
            "after=1e99",
            "actor=a%20b",
            "action=a.b",
            "action=%3E",
            "since=yesterday",
            "since=2026-13-01",
        ):
            reply = await call(fleet.base_url, "GET", f"/api/audit?{query}", token=admin)
            assert reply.status == 400, (query, reply.status, reply.body)
        # nothing audited yet, and far beyond the end: empty pages, not errors
        assert (await call(fleet.base_url, "GET", "/api/audit", token=admin)).body["items"] == []
        far = await call(fleet.base_url, "GET", "/api/audit?after=999999999", token=admin)
        assert far.status == 200 and far.body["items"] == []


async def test_a_missing_audit_stream_never_fails_a_command(nats_url: str, unique: str) -> None:
    async with fleet_service(nats_url, unique) as fleet:
        service = fleet.service
        js = nats_transport_of(service.context.transport).jetstream()
        await js.delete_stream(audit_stream(unique, "0"))  # e.g. someone with the rights deleted it
        order = {"area_id": "area-1", "task": "pick", "id": f"{unique}-lost"}
        reply = await call(fleet.base_url, "POST", "/api/work-orders", body=order)
        assert reply.status == 201

        def failed() -> float:
            value = service.metrics.get_sample_value("fleet_audit_records_total", {"outcome": "failed"})
            return value or 0.0

        await eventually(lambda: failed() >= 1.0)
        audit = await call(fleet.base_url, "GET", "/api/audit")
        assert audit.status == 503 and "Retry-After" in audit.headers


async def test_rfos_audit_reads_the_stream(
    nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from robotfleet_nodes.cli.main import run_cli

    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    async with fleet_service(nats_url, unique) as fleet:
        for i in range(3):
            order = {"area_id": "area-1", "task": "pick", "id": f"{unique}-{i}"}
            assert (await call(fleet.base_url, "POST", "/api/work-orders", body=order)).status == 201
        assert (await call(fleet.base_url, "POST", f"/api/work-orders/{unique}-1/cancel")).status == 200
        await wait_for_records(fleet.base_url, None, 4)

        assert await run_cli(["audit", "--url", nats_url, "--limit", "2", "--json"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [(r["action"], r["target"]) for r in lines] == [
            ("submit", f"{unique}-2"),
            ("cancel", f"{unique}-1"),
        ]

        assert await run_cli(["audit", "--url", nats_url, "--action", "submit"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert len(out) == 3 and all("anonymous(admin)" in line and "-> 201" in line for line in out)
        assert f"{unique}-0" in out[0]

        assert await run_cli(["audit", "--url", nats_url, "--actor", "nobody"]) == 0
        assert capsys.readouterr().out == ""

    monkeypatch.setenv("RFOS_SUBJECT_ROOT", f"{unique}x")
    assert await run_cli(["audit", "--url", nats_url]) == 1
    assert "no audit stream" in capsys.readouterr().err


async def test_rfos_audit_follow_prints_new_records(
    nats_url: str, unique: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from robotfleet_nodes.cli.main import run_cli

    monkeypatch.setenv("RFOS_SUBJECT_ROOT", unique)
    async with fleet_service(nats_url, unique) as fleet:
        first = {"area_id": "area-1", "task": "pick", "id": f"{unique}-old"}
        assert (await call(fleet.base_url, "POST", "/api/work-orders", body=first)).status == 201
        await wait_for_records(fleet.base_url, None, 1)
        follower = asyncio.create_task(run_cli(["audit", "--url", nats_url, "--follow", "--json"]))
        out: list[str] = []

        def printed(target: str) -> bool:
            out.extend(capsys.readouterr().out.splitlines())
            return any(json.loads(line)["target"] == target for line in out)

        try:
            await eventually(lambda: printed(f"{unique}-old"), what="the existing record")
            second = {"area_id": "area-1", "task": "pick", "id": f"{unique}-new"}
            assert (await call(fleet.base_url, "POST", "/api/work-orders", body=second)).status == 201
            await eventually(lambda: printed(f"{unique}-new"), what="the new record")
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        assert [json.loads(line)["target"] for line in out] == [f"{unique}-old", f"{unique}-new"]


async def test_credential_revocations_and_reissues_made_with_rfos_security_are_audited(
    nats_url: str, unique: str, tmp_path: Path
) -> None:
    """`rfos security revoke/reissue` change secrets/identities.json (and push to the server);
    the fleet, which alone may write the audit stream, records them (actor ``file``)."""
    from robotfleet_nodes.security.deployment import write_secrets
    from robotfleet_nodes.security.identities import IdentityStore
    from robotfleet_nodes.security.topology import Topology

    topology = Topology(zone_robots={"zone-1": ["robot-7", "robot-8"]}, area_zones={"area-1": ["zone-1"]})
    secrets = write_secrets(tmp_path, topology, containers=1).secrets
    tokens_file = secrets / "api-tokens.json"
    admin = create_token(tokens_file, "boss", "admin")
    config = fast_fleet_config().model_copy(update={"http": HttpConfig(tokens_file=str(tokens_file))})
    async with fleet_service(nats_url, unique, config) as fleet:
        base = fleet.base_url

        def change(revoke: bool) -> None:  # what `rfos security revoke / reissue` write
            store = IdentityStore(secrets).open()
            if revoke:
                store.mark_revoked("robot-7")
            else:
                store.unmark_revoked("robot-7")
                store.sync(topology, containers=1)
            store.save()

        await eventually(
            lambda: fleet.service.node is not None and fleet.service.node._credentials is not None,
            what="the credential watch",
        )
        assert fleet.service.node is not None and fleet.service.node._credentials is not None
        await eventually(lambda: fleet.service.node._credentials._revoked is not None, what="the baseline")
        change(revoke=True)
        records = await wait_for_records(base, admin, 1, "?action=credential_revoke")
        assert (records[0]["target"], records[0]["actor"], records[0]["via"]) == ("robot-7", "file", "file")
        assert records[0]["params"] == {"kind": "robot"}
        change(revoke=False)
        reissued = await wait_for_records(base, admin, 1, "?action=credential_reissue")
        assert reissued[0]["target"] == "robot-7"
        assert len(await audit_items(base, admin, "?action=credential_revoke")) == 1
