"""HttpServer (uvicorn) + App (starlette) over real sockets: routing, validation, limits, files."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import http.client
import json
import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from robotfleet_nodes.web import (
    App,
    HttpError,
    HttpServer,
    Request,
    Response,
    RouteError,
    ServerLimits,
    json_response,
    query_model,
    read_json,
    read_model,
    text_response,
)

TIMEOUT = 5.0


class Location(BaseModel):
    zone: str
    x: float = 0.0


class WorkOrderIn(BaseModel):
    task: str
    priority: int = Field(ge=0, le=10)
    location: Location | None = None


class WorkOrderOut(BaseModel):
    id: str
    task: str
    priority: int


class ListQuery(BaseModel):
    limit: int = Field(default=10, ge=1, le=100)
    state: list[str] = []


def build_app(static_dir: Path | None = None) -> tuple[App, dict[str, Any]]:
    app = App()
    state: dict[str, Any] = {"release": asyncio.Event(), "entered": asyncio.Event()}

    @app.get("/api/work-orders/{id}", summary="One work order", response_model=WorkOrderOut)
    async def get_order(req: Request) -> Response:
        return json_response({"id": req.path_params["id"], "task": "pick", "priority": 1})

    @app.get("/api/work-orders/stats")
    async def stats(req: Request) -> Response:
        return json_response({"stats": True})

    @app.get(
        "/api/work-orders",
        summary="List work orders",
        query_model=ListQuery,
        response_model=list[WorkOrderOut],
    )
    async def list_orders(req: Request) -> Response:
        query = query_model(req, ListQuery)
        return json_response(
            {"limit": query.limit, "state": query.state, "q": req.query_params.get("q", "-")}
        )

    @app.post(
        "/api/work-orders",
        summary="Submit a work order",
        request_model=WorkOrderIn,
        response_model=WorkOrderOut,
        responses={201: "Created", 409: "Duplicate id"},
    )
    async def submit(req: Request) -> Response:
        order = await read_model(req, WorkOrderIn)
        return json_response(WorkOrderOut(id="wo-1", task=order.task, priority=order.priority), 201)

    @app.delete("/api/work-orders/{id}")
    async def cancel(req: Request) -> Response:
        raise HttpError(409, "already completed", id=req.path_params["id"])

    @app.post("/echo")
    async def echo(req: Request) -> Response:
        return json_response({"json": await read_json(req)})

    @app.get("/big")
    async def big(req: Request) -> Response:
        return text_response("robot " * 2000)

    @app.get("/boom")
    async def boom(req: Request) -> Response:
        raise RuntimeError("kaboom")

    @app.get("/bad-header")
    async def bad_header(req: Request) -> Response:
        return text_response("x", headers={"X-Injected": "a\r\nSet-Cookie: evil=1"})

    @app.get("/wrong-type")
    async def wrong_type(req: Request) -> Response:
        return None  # type: ignore[return-value]

    @app.get("/when")
    async def when(req: Request) -> Response:
        return json_response(
            {"at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "orders": [Location(zone="z")]}
        )

    @app.get("/slow")
    async def slow(req: Request) -> Response:
        state["entered"].set()
        await state["release"].wait()
        return text_response("done")

    app.add_openapi_route(title="Fleet", version="1.2.3")
    if static_dir is not None:
        app.mount_static("/static", static_dir)
    return app, state


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[HttpServer, dict[str, Any]]]:
    (tmp_path / "app.js").write_text("console.log('fleet');\n" * 100)
    (tmp_path / "index.html").write_text("<h1>fleet</h1>")
    app, state = build_app(tmp_path)
    async with HttpServer(app, "127.0.0.1", 0, shutdown_timeout=2.0) as server:
        yield server, state


@pytest.fixture
def port(served: tuple[HttpServer, dict[str, Any]]) -> int:
    return served[0].port


def call(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request with stdlib http.client (run it in a thread)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


async def fetch(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    return await asyncio.wait_for(asyncio.to_thread(call, port, method, path, body, headers), TIMEOUT)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Parse one response (Content-Length framed) from a raw stream."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await asyncio.wait_for(reader.readexactly(length), TIMEOUT) if length else b""
    return status, headers, body


async def raw(port: int, data: bytes) -> tuple[int, dict[str, str], bytes, bytes]:
    """Send raw bytes, read one response and whatever follows until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        status, headers, body = await read_response(reader)
        rest = await asyncio.wait_for(reader.read(), TIMEOUT)
        return status, headers, body, rest
    finally:
        writer.close()
        await writer.wait_closed()


async def test_path_params_and_literal_precedence(port: int) -> None:
    status, headers, body = await fetch(port, "GET", "/api/work-orders/wo%2042")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"id": "wo 42", "task": "pick", "priority": 1}
    # starlette routes the decoded path: an encoded '/' separates segments like a plain one
    status, _, body = await fetch(port, "GET", "/api/work-orders/a%2Fb")
    assert status == 404
    status, _, body = await fetch(port, "GET", "/api/work-orders/stats")
    assert json.loads(body) == {"stats": True}


async def test_query_model_and_query_one(port: int) -> None:
    status, _, body = await fetch(port, "GET", "/api/work-orders?limit=5&state=PENDING&state=FAILED&q=a%26b")
    assert status == 200
    assert json.loads(body) == {"limit": 5, "state": ["PENDING", "FAILED"], "q": "a&b"}
    status, _, body = await fetch(port, "GET", "/api/work-orders?limit=abc")
    assert status == 400
    error = json.loads(body)
    assert error["error"] == "invalid query parameters"
    assert [d["loc"] for d in error["details"]] == ["limit"]


async def test_unknown_path_404_and_wrong_method_405(port: int) -> None:
    status, headers, body = await fetch(port, "GET", "/nope")
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert "error" in json.loads(body)
    status, headers, body = await fetch(port, "PUT", "/api/work-orders/7", body=b"{}")
    assert status == 405
    assert headers["allow"] == "DELETE, GET, HEAD"
    assert json.loads(body)["allowed"] == ["DELETE", "GET", "HEAD"]


async def test_validation_error_is_422_with_details(port: int) -> None:
    body = json.dumps({"task": "pick", "priority": 99, "location": {"x": "far"}}).encode()
    status, _, data = await fetch(port, "POST", "/api/work-orders", body=body)
    assert status == 422
    error = json.loads(data)
    assert error["error"] == "request body is invalid"
    by_loc = {d["loc"]: d for d in error["details"]}
    assert set(by_loc) == {"priority", "location.zone", "location.x"}
    assert by_loc["priority"]["type"] == "less_than_equal"
    assert all(set(d) == {"loc", "msg", "type"} for d in error["details"])


async def test_valid_body_and_http_error_extra(port: int) -> None:
    status, _, data = await fetch(port, "POST", "/api/work-orders", body=b'{"task":"pick","priority":3}')
    assert (status, json.loads(data)) == (201, {"id": "wo-1", "task": "pick", "priority": 3})
    status, _, data = await fetch(port, "DELETE", "/api/work-orders/wo-9")
    assert (status, json.loads(data)) == (409, {"error": "already completed", "id": "wo-9"})


@pytest.mark.parametrize("payload", [b"{not json", b"", b"\xff\xfe"])
async def test_bad_json_is_400(port: int, payload: bytes) -> None:
    status, _, data = await fetch(port, "POST", "/echo", body=payload)
    assert status == 400
    assert "JSON" in json.loads(data)["error"]


async def test_huge_body_is_413_without_reading_it(port: int) -> None:
    request = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"
    status, headers, body, _ = await raw(port, request)
    assert status == 413
    assert headers["connection"] == "close"
    assert "larger than" in json.loads(body)["error"]


def chunked(body: bytes, size: int = 64 * 1024) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


async def test_chunked_body_under_the_limit_is_read(port: int) -> None:
    body = json.dumps({"blob": "x" * 300_000}).encode()
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    status, _, data, _ = await raw(port, head + chunked(body))
    assert status == 200
    assert len(json.loads(data)["json"]["blob"]) == 300_000


async def test_chunked_body_over_the_limit_is_413(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def upload() -> None:  # the server answers and closes before the upload ends
        with contextlib.suppress(ConnectionError):
            writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(32):
                writer.write(chunked(b"x" * (64 * 1024))[:-5])
                await writer.drain()

    sending = asyncio.create_task(upload())
    try:
        status, headers, data = await read_response(reader)
    finally:
        await sending
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert status == 413
    assert headers["connection"] == "close"
    assert "larger than" in json.loads(data)["error"]


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
        (b"POST /echo HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n{", 413),
    ],
)
async def test_limits_answer_json_and_close(port: int, request_bytes: bytes, expected: int) -> None:
    status, headers, body, _ = await raw(port, request_bytes)
    assert status == expected
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]
    status, _, _ = await fetch(port, "GET", "/api/work-orders/stats")
    assert status == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /a b HTTP/1.1\r\n\r\n",
        b"GET / HTTP/3.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        # the request-smuggling shape: both framings at once
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    ],
)
async def test_malformed_requests_get_400_and_server_survives(port: int, request_bytes: bytes) -> None:
    status, headers, _, _ = await raw(port, request_bytes)
    assert status == 400
    assert headers["connection"] == "close"
    status, _, _ = await fetch(port, "GET", "/api/work-orders/stats")
    assert status == 200


async def test_incomplete_request_head_is_dropped_after_the_header_timeout() -> None:
    app, _ = build_app()
    limits = ServerLimits(header_timeout=0.3)
    async with HttpServer(app, "127.0.0.1", 0, limits=limits) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(b"GET /api/work-orders/1 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            status, headers, body = await read_response(reader)
            assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
        finally:
            writer.close()
            await writer.wait_closed()
        assert (status, headers["connection"]) == (408, "close")
        assert "headers" in json.loads(body)["error"]
        # a connection that never sends a byte is closed too
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
        finally:
            writer.close()
            await writer.wait_closed()


async def test_keep_alive_two_requests_on_one_connection(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /api/work-orders/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        status1, headers1, body1 = await read_response(reader)
        writer.write(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{"a":1}')
        status2, _, body2 = await read_response(reader)
        writer.write(b"GET /api/work-orders/3 HTTP/1.1\r\nConnection: close\r\n\r\n")
        status3, headers3, _ = await read_response(reader)
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
    finally:
        writer.close()
        await writer.wait_closed()
    assert (status1, json.loads(body1)["id"]) == (200, "1")
    assert "connection" not in headers1
    assert (status2, json.loads(body2)) == (200, {"json": {"a": 1}})
    assert (status3, headers3["connection"]) == (200, "close")


async def test_http10_closes_by_default(port: int) -> None:
    status, headers, _, rest = await raw(port, b"GET /api/work-orders/1 HTTP/1.0\r\n\r\n")
    assert (status, headers["connection"], rest) == (200, "close", b"")


async def test_head_has_headers_but_no_body(port: int) -> None:
    status, headers, body = await fetch(port, "HEAD", "/api/work-orders/5")
    assert status == 200
    assert body == b""
    assert int(headers["content-length"]) == len(b'{"id":"5","task":"pick","priority":1}')


async def test_static_file_etag_and_304(port: int) -> None:
    status, headers, body = await fetch(port, "GET", "/static/app.js")
    assert status == 200
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert headers["cache-control"].startswith("public")
    assert body.startswith(b"console.log")
    etag = headers["etag"]
    status, headers, body = await fetch(port, "GET", "/static/app.js", headers={"If-None-Match": etag})
    assert (status, body, headers["etag"]) == (304, b"", etag)
    assert "content-length" not in headers
    status, _, _ = await fetch(port, "GET", "/static/app.js", headers={"If-None-Match": '"other"'})
    assert status == 200
    status, headers, body = await fetch(port, "GET", "/static/")
    assert (status, body, headers["content-type"]) == (200, b"<h1>fleet</h1>", "text/html; charset=utf-8")
    for bad in ("/static/..%2F..%2Fetc%2Fpasswd", "/static/missing.css"):
        status, _, _ = await fetch(port, "GET", bad)
        assert status == 404


async def test_gzip_only_when_accepted_and_large(port: int) -> None:
    status, headers, body = await fetch(port, "GET", "/big", headers={"Accept-Encoding": "br, gzip;q=0.8"})
    assert (status, headers["content-encoding"], headers["vary"]) == (200, "gzip", "Accept-Encoding")
    assert gzip.decompress(body) == ("robot " * 2000).encode()
    assert int(headers["content-length"]) == len(body)
    status, headers, body = await fetch(port, "GET", "/big", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in headers
    assert len(body) == 12000
    status, headers, _ = await fetch(port, "GET", "/api/work-orders/1", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in headers


async def test_handler_exception_is_json_500_with_logged_id(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="robotfleet_nodes.web"):
        status, _, body = await fetch(port, "GET", "/boom")
    error = json.loads(body)
    assert (status, error["error"]) == (500, "internal error")
    records = [r for r in caplog.records if error["id"] in r.getMessage()]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert "kaboom" in str(records[0].exc_info[1])
    status, _, _ = await fetch(port, "GET", "/api/work-orders/stats")
    assert status == 200


async def test_openapi_document(port: int) -> None:
    status, _, body = await fetch(port, "GET", "/openapi.json")
    assert status == 200
    doc = json.loads(body)
    assert doc["openapi"].startswith("3.1")
    assert doc["info"] == {"title": "Fleet", "version": "1.2.3"}
    assert "/openapi.json" not in doc["paths"]
    assert not any(p.startswith("/static") for p in doc["paths"])
    post = doc["paths"]["/api/work-orders"]["post"]
    assert post["summary"] == "Submit a work order"
    assert set(post["responses"]) == {"201", "400", "409", "422"}
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]

    def resolve(pointer: str) -> Any:
        node: Any = doc
        for part in pointer.removeprefix("#/").split("/"):
            node = node[part]
        return node

    schema = resolve(ref)
    assert schema["properties"]["priority"]["maximum"] == 10
    nested = schema["properties"]["location"]["anyOf"][0]["$ref"]
    assert resolve(nested)["properties"]["zone"]["type"] == "string"
    assert "$defs" not in json.dumps(doc)
    get_one = doc["paths"]["/api/work-orders/{id}"]["get"]
    assert get_one["parameters"] == [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    listing = doc["paths"]["/api/work-orders"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"limit", "state"}
    items = listing["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    assert resolve(items["$ref"])["title"] == "WorkOrderOut"


async def test_stop_waits_for_in_flight_request() -> None:
    app, state = build_app()
    server = HttpServer(app, "127.0.0.1", 0)
    await server.start()
    pending = asyncio.ensure_future(fetch(server.port, "GET", "/slow"))
    await asyncio.wait_for(state["entered"].wait(), TIMEOUT)
    stopping = asyncio.ensure_future(server.stop())
    await asyncio.sleep(0)
    assert not stopping.done()
    state["release"].set()
    status, _, body = await pending
    await asyncio.wait_for(stopping, TIMEOUT)
    assert (status, body) == (200, b"done")
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", server.port)


async def test_idle_keep_alive_connection_times_out() -> None:
    app, _ = build_app()
    limits = ServerLimits(idle_timeout=0.2)
    async with HttpServer(app, "127.0.0.1", 0, limits=limits) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /api/work-orders/1 HTTP/1.1\r\n\r\n")
        status, _, _ = await read_response(reader)
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
        writer.close()
        await writer.wait_closed()
    assert status == 200


def test_route_table_refuses_bad_templates() -> None:
    app = App()

    async def handler(req: Request) -> Response:
        return text_response("x")

    app.add_route("GET", "/a/{id}", handler)
    with pytest.raises(RouteError, match="already registered"):
        app.add_route("GET", "/a/{other}", handler)
    for bad in ("a/b", "/a/{id}/{id}", "/x/{p:path}/y", "/a/b{c}"):
        with pytest.raises(RouteError):
            app.add_route("GET", bad, handler)
    with pytest.raises(RouteError, match="unsupported method"):
        app.add_route("BREW", "/tea", handler)


async def test_body_just_under_the_limit_is_read(port: int) -> None:
    payload = json.dumps({"blob": "x" * (1024 * 1024 - 20)}).encode()
    assert len(payload) <= 1024 * 1024
    status, _, body = await fetch(port, "POST", "/echo", body=payload)
    assert status == 200
    assert len(json.loads(body)["json"]["blob"]) == 1024 * 1024 - 20


@pytest.mark.parametrize("path", ["/bad-header", "/wrong-type"])
async def test_handler_bugs_become_500_not_broken_responses(
    port: int, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="robotfleet_nodes.web"):
        status, headers, body = await fetch(port, "GET", path)
    assert (status, json.loads(body)["error"]) == (500, "internal error")
    assert "set-cookie" not in headers
    assert any(r.levelno == logging.ERROR for r in caplog.records)


async def test_json_response_converts_datetimes_and_models(port: int) -> None:
    _, _, body = await fetch(port, "GET", "/when")
    assert json.loads(body) == {"at": "2026-01-02T03:04:05Z", "orders": [{"zone": "z", "x": 0.0}]}


async def test_stop_closes_idle_keep_alive_connections_promptly() -> None:
    app, _ = build_app()
    server = HttpServer(app, "127.0.0.1", 0, shutdown_timeout=30.0)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /api/work-orders/1 HTTP/1.1\r\n\r\n")
        status, _, _ = await read_response(reader)
        await asyncio.wait_for(server.stop(), TIMEOUT)
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
    finally:
        writer.close()
        await writer.wait_closed()
    assert status == 200


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ({"id": "1", "task": "pick", "priority": 1}, True),
        ({"id": "1", "task": "pick", "priority": 1, "secret": True}, False),  # undeclared field
        ({"id": "1", "task": "pick"}, False),  # missing field
        ({"id": 1, "task": "pick", "priority": 1}, False),  # wrong type
    ],
)
async def test_checked_responses_must_match_their_model(answer: dict[str, Any], ok: bool) -> None:
    app = App(check_responses=True)

    @app.get("/order", response_model=WorkOrderOut)
    async def order(req: Request) -> Response:
        return json_response(answer)

    @app.get("/undeclared")
    async def undeclared(req: Request) -> Response:
        return json_response({"anything": "goes"})

    async with HttpServer(app, "127.0.0.1", 0) as server:
        status, _, body = await fetch(server.port, "GET", "/order")
        assert (status, json.loads(body) == answer) == ((200, True) if ok else (500, False))
        status, _, _ = await fetch(server.port, "GET", "/undeclared")
        assert status == 200


async def test_accepted_connections_have_nodelay(served: tuple[HttpServer, dict[str, Any]]) -> None:
    """Without TCP_NODELAY a response written as head + body waits for the delayed ACK."""
    server, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /api/work-orders/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = await read_response(reader)
        assert status == 200
        uvicorn_server = server._server  # the connections are uvicorn's; no public accessor
        assert uvicorn_server is not None
        sockets = [c.transport.get_extra_info("socket") for c in uvicorn_server.server_state.connections]
        assert sockets
        assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)
    finally:
        writer.close()
        await writer.wait_closed()
