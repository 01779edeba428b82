"""Login sessions and the JSON-body rule of the web layer's ApiSecurity."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from robotfleet_nodes.security.tokens import TokenInfo
from robotfleet_nodes.web import HttpError, SessionStore
from robotfleet_nodes.web._auth import check_json_body

INFO = TokenInfo("ops", "operator", "2026-01-01T00:00:00Z")


def test_sessions_expire_and_end(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("robotfleet_nodes.web._auth.time.time", lambda: now[0])
    store = SessionStore(ttl_s=60)
    sid, expires = store.create(INFO, "h" * 64)
    assert expires == 1060.0 and len(sid) >= 43
    session = store.get(sid)
    assert session is not None and (session.name, session.role) == ("ops", "operator")
    assert store.get(sid + "x") is None
    now[0] = 1060.0
    assert store.get(sid) is None and len(store) == 0  # expired: dropped
    sid2, _ = store.create(INFO, "h" * 64)
    assert store.delete(sid2) and not store.delete(sid2)


def test_sessions_are_bounded_oldest_first() -> None:
    store = SessionStore(ttl_s=60, max_sessions=3)
    sids = [store.create(INFO, "h" * 64)[0] for _ in range(5)]
    assert len(store) == 3
    assert [store.get(s) is not None for s in sids] == [False, False, True, True, True]


def _request(method: str, headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": method, "path": "/", "headers": raw, "query_string": b""})


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({}, True),  # no body, no type (POST .../cancel)
        ({"Content-Length": "0"}, True),
        ({"Content-Type": "application/json"}, True),
        ({"Content-Type": "Application/JSON; charset=utf-8"}, True),
        ({"Content-Type": "text/plain"}, False),
        ({"Content-Type": "text/plain", "Content-Length": "0"}, False),
        ({"Content-Type": "application/x-www-form-urlencoded"}, False),
        ({"Content-Type": "multipart/form-data; boundary=x"}, False),
        ({"Content-Type": "application/json-patch+json"}, False),
        ({"Content-Type": ""}, False),
        ({"Content-Length": "12"}, False),  # a body without a type
        ({"Transfer-Encoding": "chunked"}, False),
    ],
)
def test_json_body_rule(headers: dict[str, str], ok: bool) -> None:
    request = _request("POST", headers)
    if ok:
        check_json_body(request)
    else:
        with pytest.raises(HttpError) as caught:
            check_json_body(request)
        assert caught.value.status == 415
