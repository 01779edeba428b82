"""HostPolicy: which Host and Origin values the server answers (table-driven)."""

from __future__ import annotations

import socket

import pytest

from robotfleet_nodes.web import HostPolicy
from robotfleet_nodes.web._hosts import split_host

POLICY = HostPolicy(
    bind_host="10.0.0.5",
    public_url="https://fleet.example.com",
    allowed_hosts=["ops.example.org", "kiosk.example.net:8443"],
)


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("localhost:8080", True),
        ("LOCALHOST", True),
        ("127.0.0.1:8080", True),
        ("[::1]:8080", True),
        ("192.168.1.20", True),  # an IP: no DNS, no rebinding
        ("fleet-pc:8080", True),  # no dot: the local network's name
        ("fleet.example.com", True),  # public_url
        ("fleet.example.com.:443", True),  # trailing dot
        ("ops.example.org:1234", True),  # allowed on any port
        ("kiosk.example.net:8443", True),
        ("kiosk.example.net:8080", False),  # allowed on that port only
        ("kiosk.example.net", False),
        ("evil.example", False),
        ("evil.example:8080", False),
        ("localhost.evil.example", False),
        ("127.0.0.1.evil.example", False),
        ("a b", False),
        ("", False),
        ("user@localhost", False),
        ("localhost/x", False),
        (None, True),  # no Host at all: HTTP/1.0 tools, never a browser
    ],
)
def test_host(host: str | None, ok: bool) -> None:
    assert POLICY.host_ok(host) is ok


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "ok"),
    [
        ("http://localhost:8080", "localhost:8080", "http", True),
        ("http://127.0.0.1:8080", "127.0.0.1:8080", "http", True),
        ("http://fleet-pc", "fleet-pc:80", "http", True),  # default port on both sides
        ("https://fleet.example.com", "anything:1", "http", True),  # public_url behind a proxy
        ("https://kiosk.example.net:8443", "localhost:8080", "http", True),
        ("http://localhost:3000", "localhost:8080", "http", False),  # another local app
        ("http://127.0.0.1:8080", "localhost:8080", "http", False),  # another origin
        ("https://localhost:8080", "localhost:8080", "http", False),  # another scheme
        ("http://evil.example", "localhost:8080", "http", False),
        ("http://10.0.0.9", "localhost:8080", "http", False),  # an IP is not same-origin
        ("null", "localhost:8080", "http", False),
        ("file://", "localhost:8080", "http", False),
        ("http://localhost:99999", "localhost:8080", "http", False),
        ("http://ops.example.org", "localhost:8080", "http", False),  # allowed Host, not Origin
    ],
)
def test_origin(origin: str, host: str, scheme: str, ok: bool) -> None:
    assert POLICY.origin_ok(origin, host, scheme) is ok


def test_this_machine_and_the_bind_host() -> None:
    name = socket.gethostname()
    assert HostPolicy().host_ok(f"{name}:8080")
    assert HostPolicy(bind_host="fleet.lan").host_ok("fleet.lan:8080")
    assert not HostPolicy(bind_host="0.0.0.0").host_ok("fleet.lan:8080")


def test_star_turns_the_checks_off() -> None:
    policy = HostPolicy(allowed_hosts=["*"])
    assert policy.host_ok("evil.example") and policy.origin_ok("http://evil.example", "x", "http")


def test_bad_allowed_hosts_entry() -> None:
    with pytest.raises(ValueError, match="allowed_hosts entry"):
        HostPolicy(allowed_hosts=["http://x.example/"])


def test_split_host() -> None:
    assert split_host("Example.COM:80") == ("example.com", 80)
    assert split_host("[::1]") == ("::1", None)
    assert split_host("x:notaport") is None
