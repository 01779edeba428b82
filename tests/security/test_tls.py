"""TLS from the generated material on a real nats-server: the certificate verifies for
localhost and 127.0.0.1; with --mutual-tls a client without its certificate is refused."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from secured_server import SecuredServer

from robotfleet_nodes.config.generate import generate_deployment


@pytest.fixture(scope="module")
def mtls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredServer]:
    out = tmp_path_factory.mktemp("mtls")
    generate_deployment(out, robots=2, zones=1, mutual_tls=True)
    server = SecuredServer(out / "secrets" / "nats-server.conf")
    server.start()
    try:
        yield server
    finally:
        server.close()


def _context(secrets: Path, *, client_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(secrets / "ca.pem"))
    if client_cert:
        ctx.load_cert_chain(str(secrets / "client-cert.pem"), str(secrets / "client-key.pem"))
    return ctx


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_server_certificate_verifies(server: SecuredServer, host: str) -> None:
    nc = await server.connect("robot-1", servers=[f"nats://{host}:{server.port}"])
    assert nc.is_connected
    await nc.close()


async def test_a_foreign_ca_is_refused(server: SecuredServer) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await server.connect("robot-1", tls=ssl.create_default_context())


async def test_mutual_tls_needs_the_client_certificate(mtls_server: SecuredServer) -> None:
    secrets = mtls_server.secrets
    nc = await mtls_server.connect("robot-1", tls=_context(secrets, client_cert=True))
    assert nc.is_connected
    await nc.close()
    with pytest.raises(Exception):  # noqa: B017, PT011 - the TLS layer's error, whichever it is
        await mtls_server.connect("robot-1", tls=_context(secrets, client_cert=False))
