"""JSON in and out of the web layer: no NaN/Infinity either way, 4xx for what the parser
refuses, and errors mapped once for every route (``App.map_error``)."""

from __future__ import annotations

import asyncio
import http.client
import json
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest

from robotfleet_nodes.web import (
    App,
    HttpError,
    HttpServer,
    Request,
    Response,
    ServerSentEvent,
    json_bytes,
    json_response,
    read_json,
)

TIMEOUT = 5.0


class BackendDown(ConnectionError):
    pass


def strict(payload: bytes) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in {payload!r}")

    return json.loads(payload, parse_constant=refuse)


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = App()
    app.map_error(
        BackendDown, lambda exc: HttpError(503, f"backend down: {exc}", headers={"Retry-After": "2"})
    )

    @app.post("/echo")
    async def echo(req: Request) -> Response:
        return json_response({"json": await read_json(req)})

    @app.get("/down")
    async def down(req: Request) -> Response:
        raise BackendDown("no route to the store")

    @app.get("/nan")
    async def nan(req: Request) -> Response:
        return json_response({"x": math.nan, "ys": [1.5, math.inf, -math.inf], "n": {"z": 2}})

    async with HttpServer(app, "127.0.0.1", 0, shutdown_timeout=2.0) as server:
        yield server.port


def call(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


async def fetch(
    port: int, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    return await asyncio.wait_for(asyncio.to_thread(call, port, method, path, body), TIMEOUT)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b'{"x": NaN}', 422, "NaN"),
        (b'{"x": Infinity}', 422, "Infinity"),
        (b"[-Infinity]", 422, "-Infinity"),
        (b'{"p": ' + b"7" * 5000 + b"}", 422, "5000 digits"),
        (b'{"p": -' + b"7" * 401 + b"}", 422, "401 digits"),
        (b'{"x": 1e99', 400, "not valid JSON"),
    ],
)
async def test_numbers_the_parser_refuses_are_4xx(port: int, body: bytes, status: int, words: str) -> None:
    got, _, payload = await fetch(port, "POST", "/echo", body)
    answer = strict(payload)
    assert got == status and words in answer["error"], answer


async def test_long_but_acceptable_numbers_pass(port: int) -> None:
    body = b'{"p": ' + b"9" * 400 + b', "f": 1e999}'
    status, _, payload = await fetch(port, "POST", "/echo", body)
    assert status == 200 and strict(payload) == {"json": {"p": int("9" * 400), "f": None}}


async def test_answers_never_hold_nan_or_infinity(port: int) -> None:
    status, _, payload = await fetch(port, "GET", "/nan")
    assert status == 200 and strict(payload) == {"x": None, "ys": [1.5, None, None], "n": {"z": 2}}
    assert json_bytes({"a": [math.nan]}) == b'{"a":[null]}'
    event = ServerSentEvent({"x": math.inf}, event="order").encode()
    assert b"Infinity" not in event and b'{"x":null}' in event


async def test_mapped_error_is_its_http_error_not_500(port: int) -> None:
    status, headers, payload = await fetch(port, "GET", "/down")
    assert status == 503 and headers["retry-after"] == "2"
    assert strict(payload) == {"error": "backend down: no route to the store"}
