"""Shared fixtures: one real nats-server per test session, fresh names per test.

The server runs on a port it chooses itself (never 4222), with JetStream on and its store
in a temporary directory. Every test gets a unique subject root so tests never see each
other's messages even though they share the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from robotfleet_nodes.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """The session's nats-server (JetStream on, free port)."""
    with EmbeddedBroker() as server:
        yield server


@pytest.fixture(scope="session")
def nats_url(broker: EmbeddedBroker) -> str:
    """``nats://127.0.0.1:<port>`` of the session's server."""
    return broker.url


@pytest.fixture
def unique() -> str:
    """A short token no other test uses: prefix subjects, streams and names with it."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def subject(unique: str) -> str:
    """A fresh subject root for this test, e.g. ``t1a2b3c4d5e.data``."""
    return f"{unique}.data"


@pytest.fixture(autouse=True)
def _no_messaging_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a MESSAGING_URL, credentials, TLS files or RFOS_INSECURE from the
    developer's shell."""
    for name in (
        "MESSAGING_URL",
        "MESSAGING_CREDS",
        "MESSAGING_TLS_CA",
        "MESSAGING_TLS_CERT",
        "MESSAGING_TLS_KEY",
        "MESSAGING_ENCODING",
        "MESSAGING_MAX_MESSAGE_SIZE",
        "RFOS_INSECURE",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _private_broker_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without MESSAGING_URL a program uses the shared local broker on :4222; tests must not
    (a fixed port, shared across tests): a Context() without URL starts a private embedded
    broker here, as RFOS_LOCAL_PORT=0 asks. tests/test_local_broker.py covers the shared one
    on free ports."""
    monkeypatch.setenv("RFOS_LOCAL_PORT", "0")
    monkeypatch.delenv("RFOS_LOCAL_IDLE_S", raising=False)


@pytest.fixture(scope="session", autouse=True)
def _no_local_broker_left(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session, stop any local broker a test started and left running
    (they exit by themselves when idle; this makes sure none outlives the session)."""
    yield
    import contextlib
    import os
    import signal

    from robotfleet_nodes._local_broker import LocalBrokerState

    for found in tmp_path_factory.getbasetemp().rglob("local-broker-*"):
        state = LocalBrokerState.read(found)
        if state is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(state.pid, signal.SIGTERM)


@pytest.fixture(autouse=True)
def _fresh_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each test keeps its state (edge journals) in a directory of its own: robot ids repeat
    across tests, and one test's journal must not fence another's orders."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("RFOS_STATE_DIR", str(state))
    monkeypatch.delenv("EDGE_JOURNAL_DIR", raising=False)
    return state
