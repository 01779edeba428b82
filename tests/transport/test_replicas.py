"""How many replicas our JetStream streams get (``_replicas.py``): a table of cases."""

from __future__ import annotations

from typing import Any

import pytest

from robotfleet_nodes.transport.nats._replicas import auto_replicas

A, B, C = "10.0.0.1:4222", "10.0.0.2:4222", "10.0.0.3:4222"


@pytest.mark.parametrize(
    ("info", "advertised", "configured", "expected"),
    [
        ({"jetstream": True}, [A], [A], 1),  # a single server
        ({"jetstream": True, "cluster": "rfos"}, [A, B, C], [A], 3),  # the server told of 3
        ({"jetstream": True, "cluster": "rfos"}, [A], [A, B, C], 3),  # routes still forming
        ({"jetstream": True, "cluster": "rfos"}, [A, B], [A, B], 1),  # 2 servers: no R3
        ({"jetstream": True, "cluster": "rfos"}, [A, A, B], [A], 1),  # repeats count once
        ({"jetstream": False, "cluster": "rfos"}, [A, B, C], [A, B, C], 1),  # JetStream off
        ({"jetstream": True}, [A, B, C], [A, B, C], 1),  # not one cluster: a pool of servers
        ({"jetstream": True, "cluster": "rfos"}, [A, B, C, "10.0.0.4:4222"], [A], 3),  # R3 of 4
    ],
)
def test_auto_replicas(
    info: dict[str, Any], advertised: list[str], configured: list[str], expected: int
) -> None:
    assert auto_replicas(info, advertised, configured) == expected
