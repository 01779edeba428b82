"""``Host`` and ``Origin`` checks: the DNS-rebinding and cross-site defence of the API.

A DNS-rebinding page reaches the server under the attacker's own name (``Host:
evil.example``); a cross-site page posts with its own ``Origin``. :class:`HostPolicy`
accepts a ``Host`` whose name is ``localhost``, an IP address (rebinding needs a name), a
name without a dot (``fleet-pc``: resolved by the local network's own DNS or hosts file,
never by an attacker's), this machine's name, the bind host, the host of ``public_url`` or
one of ``allowed_hosts`` (``name`` or ``name:port``; ``*`` accepts any). Any other dotted
name (``fleet.example.com``) must be configured. An ``Origin``, when a request has one,
must be the request's own origin (its scheme, and the ``host:port`` of its ``Host``;
behind a TLS proxy, set ``public_url``), the ``public_url``'s, or an ``allowed_hosts``
entry; ``Origin: null`` never is.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["HostPolicy", "split_host"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$")


def split_host(value: str) -> tuple[str, int | None] | None:
    """``("name", port or None)`` of a ``Host`` value (``[::1]:8080`` too); None if malformed."""
    value = value.strip()
    if not value:
        return None
    try:
        parts = urlsplit(f"//{value}")
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name or parts.path or parts.query or parts.fragment or parts.username is not None:
        return None
    name = name.lower().rstrip(".")
    if not _NAME.match(name) and not _is_ip(name):
        return None
    return name, port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostPolicy:
    """Which ``Host`` and ``Origin`` values the server answers (see the module docstring)."""

    def __init__(
        self,
        *,
        bind_host: str = "127.0.0.1",
        public_url: str | None = None,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self.any_host = False
        #: names accepted on any port
        self.names: set[str] = {"localhost", socket.gethostname().lower()}
        #: (name, port) accepted on that port only
        self.name_ports: set[tuple[str, int]] = set()
        #: origins (``scheme://host[:port]`` netlocs) accepted besides the request's own
        self.origins: set[tuple[str, int | None]] = set()
        if bind_host not in ("", "0.0.0.0", "::"):
            self.names.add(bind_host.strip("[]").lower())
        if public_url:
            url = urlsplit(public_url)
            if url.hostname:
                self.names.add(url.hostname.lower())
                self.origins.add((url.hostname.lower(), url.port or _DEFAULT_PORTS.get(url.scheme)))
        for entry in allowed_hosts:
            if entry.strip() == "*":
                self.any_host = True
                continue
            parsed = split_host(entry)
            if parsed is None:
                raise ValueError(f"allowed_hosts entry {entry!r} is not a host name or name:port")
            name, port = parsed
            if port is None:
                self.names.add(name)
            else:
                self.name_ports.add((name, port))
                self.origins.add((name, port))

    def host_ok(self, host: str | None) -> bool:
        """True when a request with this ``Host`` header value may be answered."""
        if host is None or self.any_host:
            return True  # no Host: HTTP/1.0 or a bare tool, never a browser
        parsed = split_host(host)
        if parsed is None:
            return False
        name, port = parsed
        return (
            "." not in name
            or _is_ip(name)
            or name in self.names
            or (port is not None and (name, port) in self.name_ports)
        )

    def origin_ok(self, origin: str, host: str | None, scheme: str) -> bool:
        """True when a request from ``origin`` to ``host`` (over ``scheme``) is same-site enough."""
        if self.any_host:
            return True
        url = urlsplit(origin.strip())
        try:
            port = url.port
        except ValueError:
            return False
        if url.scheme not in _DEFAULT_PORTS or not url.hostname:
            return False  # "null", file:, chrome-extension:, garbage
        name = url.hostname.lower().rstrip(".")
        origin_port = port or _DEFAULT_PORTS[url.scheme]
        own = split_host(host) if host else None
        same_scheme = url.scheme == scheme
        if (
            same_scheme
            and own is not None
            and own[0] == name
            and (own[1] or _DEFAULT_PORTS.get(scheme)) == origin_port
        ):
            return True
        return (name, origin_port) in self.origins or (name, None) in self.origins
