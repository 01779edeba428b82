"""The leaf-node and JetStream-domain part of an embedded nats-server's configuration.

:class:`LeafOptions` is what :class:`~robotfleet_nodes.broker.EmbeddedBroker` (and
``rfos broker``) adds to the configuration file it writes for a server without one: a
JetStream domain, a listener for sites' leaf nodes, or remotes that make the server a
site's leaf node (docs/fleet.md, "Edge sites"). nats-server has no command-line flags for
these, so they go into the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["LeafOptions"]


def _quoted(value: str) -> str:
    # nats-server's configuration accepts JSON strings.
    return json.dumps(value)


@dataclass(frozen=True, slots=True)
class LeafOptions:
    """A server's JetStream domain, leaf-node listener and leaf remotes (all optional)."""

    jetstream_domain: str | None = None
    leafnode_port: int | None = None
    remotes: tuple[str, ...] = ()
    credentials: str | None = None
    tls_ca: str | None = None
    #: The listener does not tell leaf nodes the hub's other leaf-node URLs (nats-server's
    #: ``no_advertise``): a leaf then dials only its configured remotes (behind a proxy, say).
    no_advertise: bool = False

    @property
    def any(self) -> bool:
        """Whether any option is set."""
        return bool(self.jetstream_domain or self.leafnode_port is not None or self.remotes)

    def config_text(self, host: str) -> str:
        """The nats-server configuration blocks for these options (empty when none is set)."""
        out: list[str] = []
        if self.jetstream_domain:
            out.append(f"jetstream {{ domain: {_quoted(self.jetstream_domain)} }}")
        leaf: list[str] = []
        if self.leafnode_port is not None:
            leaf += [f"  host: {_quoted(host)}", f"  port: {self.leafnode_port or -1}"]
            if self.no_advertise:
                leaf.append("  no_advertise: true")
        if self.remotes:
            remote = [f"    urls: [{', '.join(_quoted(u) for u in self.remotes)}]"]
            if self.credentials:
                remote.append(f"    credentials: {_quoted(self.credentials)}")
            if self.tls_ca:
                remote.append(f"    tls {{ ca_file: {_quoted(self.tls_ca)} }}")
            leaf += ["  remotes: [", "   {", *remote, "   }", "  ]"]
        if leaf:
            out += ["leafnodes {", *leaf, "}"]
        return "".join(line + "\n" for line in out)
