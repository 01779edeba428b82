"""The fleet's HTTP API with authentication: every route x every role, login, CSRF, Host.

A real fleet (FleetService on a real nats-server) serves the API on a free port with a
tokens file holding one token per role. The route table is read from the app itself, so a
route added without an entry in :data:`EXPECTED` (and an ``access`` rule) fails here.
"""

from __future__ import annotations

import asyncio
import http.client
import inspect
import json
import logging
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from shared_helpers import eventually

from robotfleet_nodes.config import FleetConfig
from robotfleet_nodes.config.models import HttpConfig
from robotfleet_nodes.fleet.http_api import build_app
from robotfleet_nodes.fleet.main import STATIC_DIR
from robotfleet_nodes.fleet.protocol import factsheet_bucket, nats_transport_of
from robotfleet_nodes.security.tokens import create_token, hash_token
from robotfleet_nodes.web import HttpServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fleet"))
from topology import FleetHandle, fast_fleet_config, fleet_service

TIMEOUT = 10.0

#: Every route of the fleet's app -> who may call it. A new route must be added here.
EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "public",
    ("GET", "/"): "public",
    ("GET", "/app.js"): "public",
    ("GET", "/app.css"): "public",
    ("GET", "/api/session"): "public",
    ("POST", "/api/login"): "public",
    ("POST", "/api/logout"): "public",
    ("GET", "/api/fleet"): "viewer",
    ("GET", "/api/areas"): "viewer",
    ("GET", "/api/zones"): "viewer",
    ("GET", "/api/robots"): "viewer",
    ("GET", "/api/robots/{robot_id}/factsheet"): "viewer",
    ("GET", "/api/work-orders"): "viewer",
    ("GET", "/api/work-orders/{id}"): "viewer",
    ("GET", "/api/events"): "viewer",
    ("GET", "/metrics"): "viewer",
    ("GET", "/openapi.json"): "viewer",
    ("POST", "/api/work-orders"): "operator",
    ("POST", "/api/work-orders/{id}/cancel"): "operator",
    ("GET", "/api/tokens"): "admin",
    ("POST", "/api/tokens"): "admin",
    ("DELETE", "/api/tokens/{name}"): "admin",
    ("GET", "/api/audit"): "admin",
}
LEVEL = {"public": 0, "viewer": 1, "operator": 2, "admin": 3}


@dataclass
class Reply:
    status: int
    body: Any
    headers: http.client.HTTPMessage

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""


def request(
    base: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> Reply:
    """One blocking request; an event stream is answered by its head only."""
    host, port = base.rsplit("/", 1)[-1].rsplit(":", 1)
    conn: http.client.HTTPConnection
    if context is not None:
        conn = http.client.HTTPSConnection(host, int(port), timeout=TIMEOUT, context=context)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        all_headers = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        content_type = response.getheader("Content-Type") or ""
        if content_type.startswith("text/event-stream"):
            return Reply(response.status, None, response.headers)
        payload = response.read()
        parsed: Any = payload.decode(errors="replace")
        if content_type.startswith("application/json"):
            parsed = json.loads(payload or b"null")
        return Reply(response.status, parsed, response.headers)
    finally:
        conn.close()


async def call(base: str, method: str, path: str, **kwargs: Any) -> Reply:
    return await asyncio.to_thread(request, base, method, path, **kwargs)


@dataclass
class Secured:
    fleet: FleetHandle
    tokens_file: Path
    tokens: dict[str, str]  # role -> token (name == role)

    @property
    def base(self) -> str:
        return self.fleet.base_url


def secured_config(tokens_file: Path, **http: Any) -> FleetConfig:
    config = fast_fleet_config()
    return config.model_copy(update={"http": HttpConfig(tokens_file=str(tokens_file), **http)})


@asynccontextmanager
async def secured_fleet(nats_url: str, root: str, tmp_path: Path, **http: Any) -> AsyncIterator[Secured]:
    tokens_file = tmp_path / "secrets" / "api-tokens.json"
    tokens = {role: create_token(tokens_file, role, role) for role in ("viewer", "operator", "admin")}
    async with fleet_service(nats_url, root, secured_config(tokens_file, **http)) as fleet:
        yield Secured(fleet, tokens_file, tokens)


def concrete(template: str) -> str:
    return (
        template.replace("{id}", "no-such-order")
        .replace("{name}", "no-such-token")
        .replace("{robot_id}", "no-such-robot")
    )


def body_for(method: str) -> Any:
    return {} if method == "POST" else None


async def test_every_route_has_the_expected_access_rule(nats_url: str, unique: str, tmp_path: Path) -> None:
    async with secured_fleet(nats_url, unique, tmp_path) as sec:
        app = build_app(sec.fleet.service, static_dir=STATIC_DIR)
        declared = {(r.method, r.template): r.options.get("access") for r in app.routes}
        assert declared == EXPECTED, "a route was added or changed: give it an access rule and list it here"


async def test_role_matrix_over_every_route(nats_url: str, unique: str, tmp_path: Path) -> None:
    async with secured_fleet(nats_url, unique, tmp_path) as sec:
        callers: dict[str, str | None] = {
            "none": None,
            "bad": "rfos_not-a-token",
            **sec.tokens,
        }
        for (method, template), access in EXPECTED.items():
            for caller, token in callers.items():
                reply = await call(sec.base, method, concrete(template), token=token, body=body_for(method))
                where = f"{method} {template} as {caller}: {reply.status} {reply.body!r}"
                assert reply.status < 500, where
                if access == "public":
                    assert reply.status not in (401, 403), where
                elif caller in ("none", "bad"):
                    assert reply.status == 401, where
                    assert reply.header("WWW-Authenticate").startswith("Bearer"), where
                    assert "error" in reply.body, where
                elif LEVEL[caller] < LEVEL[access]:
                    assert reply.status == 403, where
                    assert reply.body["needs"] == access, where
                else:
                    assert reply.status not in (401, 403), where
        # the same, for HEAD of a viewer route and the static files
        assert (await call(sec.base, "HEAD", "/api/fleet")).status == 401
        assert (await call(sec.base, "HEAD", "/api/fleet", token=sec.tokens["viewer"])).status == 200
        assert (await call(sec.base, "GET", "/static/app.js")).status == 200
        assert (await call(sec.base, "GET", "/static/index.html")).status == 200


async def valid_request(sec: Secured, method: str, template: str, n: int) -> tuple[str, Any]:
    """A request to the route that succeeds for a caller allowed to make it: (path, body)."""
    service = sec.fleet.service
    if template == "/api/work-orders/{id}/cancel":
        order, _ = await service.submit(area_id="area-1", task="pick", order_id=f"m-cancel-{n}")
        return template.replace("{id}", order.id), None
    if template == "/api/work-orders/{id}":
        order, _ = await service.submit(area_id="area-1", task="pick", order_id="m-get")
        return template.replace("{id}", order.id), None
    if template == "/api/robots/{robot_id}/factsheet":  # stored as an edge stores it
        transport = nats_transport_of(service.context.transport)
        bucket = factsheet_bucket(transport.mapper.root, transport.mapper.domain)
        value = json.dumps({"robot_id": "m-robot", "received": "2026-01-01T00:00:00+00:00", "factsheet": {}})
        await transport.request(f"$KV.{bucket}.m-robot", value.encode(), timeout=5.0)
        return template.replace("{robot_id}", "m-robot"), None
    if template == "/api/tokens/{name}":
        create_token(sec.tokens_file, f"m-del-{n}", "viewer")
        return template.replace("{name}", f"m-del-{n}"), None
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/work-orders"): {"area_id": "area-1", "task": "pick", "id": f"m-new-{n}"},
        ("POST", "/api/tokens"): {"name": f"m-tok-{n}", "role": "viewer"},
        ("POST", "/api/login"): {"token": sec.tokens["viewer"]},
    }
    return template, bodies.get((method, template), {} if method == "POST" else None)


async def test_allowed_callers_succeed_the_others_are_refused(
    nats_url: str, unique: str, tmp_path: Path
) -> None:
    """Every route with a request that works: 2xx for a role at or above its rule, else 401/403."""
    async with secured_fleet(nats_url, unique, tmp_path) as sec:
        callers: dict[str, str | None] = {"none": None, **sec.tokens}
        n = 0
        for (method, template), access in EXPECTED.items():
            for caller, token in callers.items():
                n += 1
                path, body = await valid_request(sec, method, template, n)
                reply = await call(sec.base, method, path, token=token, body=body)
                where = f"{method} {path} as {caller}: {reply.status} {reply.body!r}"
                if access == "public" or (caller != "none" and LEVEL[caller] >= LEVEL[access]):
                    assert 200 <= reply.status < 300, where
                else:
                    assert reply.status == (401 if caller == "none" else 403), where


async def test_operator_submits_and_cancels_viewer_may_not(
    nats_url: str, unique: str, tmp_path: Path
) -> None:
    async with secured_fleet(nats_url, unique, tmp_path) as sec:
        order = {"area_id": "area-1", "task": "pick", "id": f"{unique}-1"}
        assert (await call(sec.base, "POST", "/api/work-orders", body=order)).status == 401
        assert (
            await call(sec.base, "POST", "/api/work-orders", body=order, token=sec.tokens["viewer"])
        ).status == 403
        created = await call(sec.base, "POST", "/api/work-orders", body=order, token=sec.tokens["operator"])
        assert created.status == 201 and created.body["id"] == f"{unique}-1"
        got = await call(sec.base, "GET", f"/api/work-orders/{unique}-1", token=sec.tokens["viewer"])
        assert got.status == 200
        path = f"/api/work-orders/{unique}-1/cancel"
        assert (await call(sec.base, "POST", path, token=sec.tokens["viewer"])).status == 403
        cancelled = await call(sec.base, "POST", path, token=sec.tokens["admin"])
        assert cancelled.status == 200 and cancelled.body["state"] == "CANCELLED"
        assert "admin" in cancelled.body["history"][-1]["note"]


async def test_cookie_login_and_logout(nats_url: str, unique: str, tmp_path: Path) -> None:
    async with secured_fleet(nats_url, unique, tmp_path) as sec:
        anonymous = await call(sec.base, "GET", "/api/session")
        assert anonymous.status == 200
        assert anonymous.body == {"auth": True, "authenticated": False, "name": None, "role": None}

        refused = await call(sec.base, "POST", "/api/login", body={"token": "rfos_wrong"})
        assert refused.status == 401 and "set-cookie" not in refused.headers
        assert (await call(sec.base, "POST", "/api/login", body={"nope": 1})).status == 422

        login = await call(sec.base, "POST", "/api/login", body={"token": sec.tokens["operator"]})
        assert login.status == 200 and login.body["name"] == "operator" and login.body["role"] == "operator"
        cookie = login.header("Set-Cookie")
        for part in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
            assert part in cookie, cookie
        assert "Secure" not in cookie  # plain HTTP
        sid = cookie.split(";", 1)[0]
        assert sid.startswith("rfos_session=")
        assert sec.tokens["operator"] not in cookie and hash_token(sec.tokens["operator"]) not in cookie
        jar = {"Cookie": sid}

        me = await call(sec.base, "GET", "/api/session", headers=jar)
        assert me.body == {"auth": True, "authenticated": True, "name": "operator", "role": "operator"}
        assert (await call(sec.base, "GET", "/api/fleet", headers=jar)).status == 200
        assert (await call(sec.base, "GET", "/api/events", headers=jar)).status == 200  # EventSource
        order = {"area_id": "area-1", "task": "pick", "id": f"{unique}-c"}
        assert (await call(sec.base, "POST", "/api/work-orders", body=order, headers=jar)).status == 201
        assert (await call(sec.base, "GET", "/api/tokens", headers=jar)).status == 403
        # a bad bearer header is not rescued by a good cookie
        assert (
            await call(sec.base, "GET", "/api/fleet", headers={**jar, "Authorization": "Bearer x"})
        ).status == 401

        logout = await call(sec.base, "POST", "/api/logout", headers=jar)
        assert logout.status == 200 and logout.body == {"logged_out": True}
        assert "Max-Age=0" in logout.header("Set-Cookie")
        assert (await call(sec.base, "GET", "/api/fleet", headers=jar)).status == 401
        assert (
            await call(sec.base, "GET", "/api/fleet", headers={"Cookie": "rfos_session=forged"})
        ).status == 401


async def test_revoking_a_token_ends_its_sessions(nats_url: str, unique: str, tmp_path: Path) -> None:
    async with secured_fleet(nats_url, unique, tmp_path) as sec:
        admin = sec.tokens["admin"]
        created = await call(
            sec.base, "POST", "/api/tokens", body={"name": "kiosk", "role": "viewer"}, token=admin
        )
        assert created.status == 201 and created.body["token"].startswith("rfos_")
        assert created.header("Cache-Control") == "no-store"
        kiosk = created.body["token"]
        login = await call(sec.base, "POST", "/api/login", body={"token": kiosk})
        jar = {"Cookie": login.header("Set-Cookie").split(";", 1)[0]}
        assert (await call(sec.base, "GET", "/api/robots", headers=jar)).status == 200
        assert (await call(sec.base, "GET", "/api/robots", token=kiosk)).status == 200

        listed = await call(sec.base, "GET", "/api/tokens", token=admin)
        assert [t["name"] for t in listed.body] == ["viewer", "operator", "admin", "kiosk"]
        assert all(set(t) == {"name", "role", "created", "revoked"} for t in listed.body)
        assert kiosk not in json.dumps(listed.body) and hash_token(kiosk) not in json.dumps(listed.body)

        again = await call(
            sec.base, "POST", "/api/tokens", body={"name": "kiosk", "role": "viewer"}, token=admin
        )
        assert again.status == 409
        bad = await call(sec.base, "POST", "/api/tokens", body={"name": "a b", "role": "root"}, token=admin)
        assert bad.status == 422

        revoked = await call(sec.base, "DELETE", "/api/tokens/kiosk", token=admin)
        assert revoked.status == 200 and revoked.body["revoked"] is not None
        assert (await call(sec.base, "DELETE", "/api/tokens/kiosk", token=admin)).status == 404
        assert (await call(sec.base, "GET", "/api/robots", token=kiosk)).status == 401
        assert (await call(sec.base, "GET", "/api/robots", headers=jar)).status == 401


async def test_a_token_created_by_the_cli_counts_at_once(nats_url: str, unique: str, tmp_path: Path) -> None:
    async with secured_fleet(nats_url, unique, tmp_path) as sec:
        token = create_token(sec.tokens_file, "late", "operator")  # another process writes the file
        assert (await call(sec.base, "GET", "/api/fleet", token=token)).status == 200


async def test_csrf_content_type_and_origin(nats_url: str, unique: str, tmp_path: Path) -> None:
    async with secured_fleet(nats_url, unique, tmp_path) as sec:
        op = sec.tokens["operator"]
        order = json.dumps({"area_id": "area-1", "task": "pick"}).encode()
        for content_type in (
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ):
            reply = await call(
                sec.base,
                "POST",
                "/api/work-orders",
                raw=order,
                token=op,
                headers={"Content-Type": content_type},
            )
            assert reply.status == 415, (content_type, reply.body)
        no_type = await call(sec.base, "POST", "/api/work-orders", raw=order, token=op)
        assert no_type.status == 415
        login = await call(
            sec.base,
            "POST",
            "/api/login",
            raw=json.dumps({"token": op}).encode(),
            headers={"Content-Type": "text/plain"},
        )
        assert login.status == 415

        port = sec.base.rsplit(":", 1)[1]
        own = {"Origin": f"http://127.0.0.1:{port}", "Content-Type": "application/json; charset=utf-8"}
        ok = await call(sec.base, "POST", "/api/work-orders", raw=order, token=op, headers=own)
        assert ok.status == 201
        for origin in (
            "http://evil.example",
            f"http://evil.example:{port}",
            "null",
            f"http://127.0.0.1:{int(port) + 1}",
            f"https://127.0.0.1:{port}",
            "http://10.1.2.3",
        ):
            reply = await call(
                sec.base, "POST", "/api/work-orders", raw=order, token=op, headers={**own, "Origin": origin}
            )
            assert reply.status == 403, (origin, reply.status)
            assert "Origin" in reply.body["error"]
        # body-less cancel with no Content-Type is fine (it names no body a form could send)
        created = await call(
            sec.base, "POST", "/api/work-orders", body={"area_id": "area-1", "id": f"{unique}-x"}, token=op
        )
        assert created.status == 201
        assert (await call(sec.base, "POST", f"/api/work-orders/{unique}-x/cancel", token=op)).status == 200


async def test_dns_rebinding_host_header(nats_url: str, unique: str, tmp_path: Path) -> None:
    async with secured_fleet(
        nats_url,
        unique,
        tmp_path,
        public_url="https://fleet.example.com",
        allowed_hosts=["ops.example.org:9999"],
    ) as sec:
        port = sec.base.rsplit(":", 1)[1]
        viewer = sec.tokens["viewer"]
        for host in (
            "evil.example",
            f"evil.example:{port}",
            "localhost.evil.example",
            "ops.example.org:1",
            "a b",
        ):
            for path in ("/healthz", "/api/fleet", "/static/app.js", "/"):
                reply = await call(sec.base, "GET", path, token=viewer, headers={"Host": host})
                assert reply.status == 403, (host, path, reply.status)
        for host in (
            f"localhost:{port}",
            f"127.0.0.1:{port}",
            f"[::1]:{port}",
            "fleet.example.com",
            "ops.example.org:9999",
            f"fleet-pc:{port}",
            "192.168.1.20",
        ):
            reply = await call(sec.base, "GET", "/api/fleet", token=viewer, headers={"Host": host})
            assert reply.status == 200, (host, reply.body)
        cross = await call(
            sec.base, "GET", "/api/fleet", token=viewer, headers={"Origin": "https://fleet.example.com"}
        )
        assert cross.status == 200  # the configured public origin


async def test_open_api_without_tokens_file(
    nats_url: str, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with fleet_service(nats_url, unique) as fleet:
            base = fleet.base_url
            session = await call(base, "GET", "/api/session")
            assert session.body == {
                "auth": False,
                "authenticated": True,
                "name": "anonymous",
                "role": "admin",
            }
            order = {"area_id": "area-1", "task": "pick"}
            assert (await call(base, "POST", "/api/work-orders", body=order)).status == 201
            text = json.dumps(order).encode()
            plain = await call(
                base, "POST", "/api/work-orders", raw=text, headers={"Content-Type": "text/plain"}
            )
            assert plain.status == 415  # CSRF protection holds without tokens too
            cross = await call(
                base, "POST", "/api/work-orders", body=order, headers={"Origin": "http://evil.example"}
            )
            assert cross.status == 403
            assert (await call(base, "GET", "/api/tokens")).status == 409
            assert (await call(base, "POST", "/api/login", body={"token": "x"})).status == 409
    assert "without authentication" in caplog.text


async def test_insecure_env_turns_auth_off(
    nats_url: str,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("RFOS_INSECURE", "1")
    with caplog.at_level(logging.WARNING):
        async with secured_fleet(nats_url, unique, tmp_path) as sec:
            assert (await call(sec.base, "GET", "/api/fleet")).status == 200
            order = {"area_id": "area-1", "task": "pick"}
            assert (await call(sec.base, "POST", "/api/work-orders", body=order)).status == 201
    assert "RFOS_INSECURE=1" in caplog.text


async def test_tokens_never_reach_the_logs(
    nats_url: str, unique: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        async with secured_fleet(nats_url, unique, tmp_path) as sec:
            admin = sec.tokens["admin"]
            created = await call(
                sec.base, "POST", "/api/tokens", body={"name": "t2", "role": "viewer"}, token=admin
            )
            new = created.body["token"]
            await call(sec.base, "POST", "/api/login", body={"token": new})
            await call(sec.base, "POST", "/api/login", body={"token": new + "x"})
            await call(sec.base, "GET", "/api/fleet", token=new + "y")
    for token in [*sec.tokens.values(), new]:
        assert token not in caplog.text
        assert token[len("rfos_") :] not in caplog.text


def test_defaults_bind_loopback_and_resolve_paths(tmp_path: Path) -> None:
    assert HttpConfig().host == "127.0.0.1"
    assert FleetConfig().http.host == "127.0.0.1"
    assert inspect.signature(HttpServer).parameters["host"].default == "127.0.0.1"
    config = HttpConfig.model_validate(
        {"tokens_file": "secrets/api-tokens.json", "tls_cert": "/abs/cert.pem", "tls_key": "key.pem"},
        context={"config_dir": str(tmp_path)},
    )
    assert config.tokens_file == str(tmp_path / "secrets" / "api-tokens.json")
    assert config.tls_cert == "/abs/cert.pem" and config.tls_key == str(tmp_path / "key.pem")
    with pytest.raises(ValueError, match="tls_cert and tls_key"):
        HttpConfig(tls_cert="c.pem")
    with pytest.raises(ValueError, match="not an http"):
        HttpConfig(public_url="fleet.example.com")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_https_with_secure_cookie(nats_url: str, unique: str, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    await asyncio.to_thread(
        subprocess.run,
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(cafile=str(cert))
    async with secured_fleet(nats_url, unique, tmp_path, tls_cert=str(cert), tls_key=str(key)) as sec:
        assert sec.fleet.server.tls == (str(cert), str(key))
        login = await call(
            sec.base, "POST", "/api/login", body={"token": sec.tokens["viewer"]}, context=context
        )
        assert login.status == 200 and "Secure" in login.header("Set-Cookie")
        assert (
            await call(sec.base, "GET", "/api/fleet", token=sec.tokens["viewer"], context=context)
        ).status == 200


def read_stream_until_closed(base: str, token: str, opened: threading.Event) -> int:
    """Read ``/api/events`` until the server ends it; returns the bytes read."""
    host, port = base.rsplit("/", 1)[-1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        conn.request("GET", "/api/events", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        assert response.status == 200
        opened.set()
        total = 0
        while chunk := response.read1(65536):
            total += len(chunk)
        return total
    finally:
        conn.close()


async def test_an_event_stream_ends_when_its_token_is_revoked(
    nats_url: str, unique: str, tmp_path: Path
) -> None:
    async with secured_fleet(nats_url, unique, tmp_path) as sec:
        admin = sec.tokens["admin"]
        made = await call(
            sec.base, "POST", "/api/tokens", body={"name": "screen", "role": "viewer"}, token=admin
        )
        opened = threading.Event()
        reader = asyncio.create_task(
            asyncio.to_thread(read_stream_until_closed, sec.base, made.body["token"], opened)
        )
        await eventually(opened.is_set, what="the stream to open")
        assert (await call(sec.base, "DELETE", "/api/tokens/screen", token=admin)).status == 200
        received = await asyncio.wait_for(reader, TIMEOUT)  # a socket timeout would raise instead
        assert received > 0


async def test_odd_credentials_are_401_never_5xx(nats_url: str, unique: str, tmp_path: Path) -> None:
    async with secured_fleet(nats_url, unique, tmp_path) as sec:
        odd_headers = [
            {"Authorization": "Bearer"},
            {"Authorization": "Bearer "},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": "bearer " + "x" * 8000},
            {"Authorization": "Bearer rfos_\u00e9\u00ff"},
            {"Authorization": f"Bearer {sec.tokens['admin']} extra"},
            {"Cookie": "rfos_session="},
            {"Cookie": "rfos_session=" + "y" * 4000},
            {"Cookie": 'rfos_session="\\x00"; other=1'},
        ]
        for headers in odd_headers:
            reply = await call(sec.base, "GET", "/api/fleet", headers=headers)
            assert reply.status == 401, (headers, reply.status, reply.body)
            public = await call(sec.base, "GET", "/api/session", headers=headers)
            assert public.status == 200 and public.body["authenticated"] is False, headers
        for body in ([], {"token": 5}, {"token": None}, {"token": "x" * 100_000}, "rfos_x"):
            reply = await call(sec.base, "POST", "/api/login", body=body)
            assert reply.status in (401, 422), (body, reply.status)


async def test_openapi_says_who_may_call_what(nats_url: str, unique: str, tmp_path: Path) -> None:
    async with secured_fleet(nats_url, unique, tmp_path) as sec:
        doc = (await call(sec.base, "GET", "/openapi.json", token=sec.tokens["viewer"])).body
        assert set(doc["components"]["securitySchemes"]) == {"bearer", "session"}
        for (method, template), access in EXPECTED.items():
            op = doc["paths"].get(template.replace("{name:path}", "{name}"), {}).get(method.lower())
            if op is None:
                continue  # not in the schema (dashboard files, the document itself)
            if access == "public":
                assert "security" not in op, template
            else:
                assert op["x-rfos-role"] == access and {"401", "403"} <= set(op["responses"]), template
