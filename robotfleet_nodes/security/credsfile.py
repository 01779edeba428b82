"""Writing NATS ``.creds`` files (the user JWT and its nkey seed, in NATS's standard layout).

nats-py (``user_credentials=``), the ``nats`` CLI and nats-server's tools read this layout.
Parsing is :mod:`robotfleet_nodes.security.creds`'s job; :func:`read_seed` here only takes
the seed back out to keep an identity's key when its JWT is re-issued.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["format_creds", "read_seed"]

_SEED = re.compile(r"-{3,}BEGIN USER NKEY SEED-{3,}\r?\n\s*(SU[A-Z2-7]+)\s*\r?\n-{3,}END USER NKEY SEED")


def format_creds(jwt: str, seed: str) -> str:
    """The text of a ``.creds`` file for a user JWT and its seed (``SU...``)."""
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{jwt}\n"
        "------END NATS USER JWT------\n"
        "\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n"
        "\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{seed}\n"
        "------END USER NKEY SEED------\n"
        "\n"
        "*************************************************************\n"
    )


def read_seed(path: Path) -> str | None:
    """The user seed in the ``.creds`` file ``path``, or None if unreadable or missing."""
    try:
        match = _SEED.search(path.read_text(encoding="ascii"))
    except (OSError, UnicodeError):
        return None
    return match.group(1) if match else None
