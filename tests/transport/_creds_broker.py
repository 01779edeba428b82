"""A nats-server in NATS's decentralized JWT mode, built for tests with ``nkeys`` directly.

One operator, a system account ``SYS`` (with a ``sys`` user that pushes account updates),
one application account ``RFOS`` with JetStream, and users with given permissions, each
written as a standard ``.creds`` file. :meth:`SecureBroker.revoke` re-signs the account
with the user in its ``revocations`` and pushes it to the running server, as
``rfos security revoke`` does; :meth:`SecureBroker.issue` writes (or re-writes) a user.
TLS (optional) uses a CA and a server certificate made with ``cryptography``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import ipaddress
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nkeys  # type: ignore[import-untyped]

from robotfleet_nodes.broker import EmbeddedBroker


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass
class Key:
    """An nkey: seed and public key."""

    seed: bytes
    public: str

    @classmethod
    def new(cls, prefix: int) -> Key:
        seed = nkeys.encode_seed(os.urandom(32), prefix)
        return cls(seed, nkeys.from_seed(seed).public_key.decode())

    def sign_jwt(self, claims: dict[str, Any]) -> str:
        claims = {"iat": int(time.time()), "iss": self.public, **claims}
        claims["jti"] = (
            base64.b32encode(hashlib.sha256(json.dumps(claims).encode()).digest()).decode().rstrip("=")
        )
        header = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
        body = f"{header}.{_b64(json.dumps(claims).encode())}"
        signature = nkeys.from_seed(self.seed).sign(body.encode())
        return f"{body}.{_b64(signature)}"


def creds_text(jwt: str, seed: bytes) -> str:
    """The standard ``.creds`` file of a user."""
    return (
        f"-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{seed.decode()}\n------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )


def user_permissions(name: str, pub: list[str] | None, sub: list[str] | None) -> dict[str, Any]:
    """Permissions of a user JWT: its own inbox always; ``None`` means everything."""
    nats_claims: dict[str, Any] = {"type": "user", "version": 2, "subs": -1, "data": -1, "payload": -1}
    if pub is not None:
        nats_claims["pub"] = {"allow": pub}
        nats_claims["resp"] = {"max": -1, "ttl": 0}
    if sub is not None:
        nats_claims["sub"] = {"allow": [f"_INBOX.{name}.>", *sub]}
    return nats_claims


@dataclass
class TlsFiles:
    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path


def make_tls(directory: Path) -> TlsFiles:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test CA"))
        .issuer_name(name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(common: str, usage: x509.ObjectIdentifier, san: list[x509.GeneralName]) -> tuple[bytes, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), key

    files = TlsFiles(
        ca=directory / "ca.pem",
        cert=directory / "server-cert.pem",
        key=directory / "server-key.pem",
        client_cert=directory / "client-cert.pem",
        client_key=directory / "client-key.pem",
    )
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pem, key = leaf(
        "localhost",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    files.cert.write_bytes(pem)
    write_key(key, files.key)
    pem, key = leaf("client", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    files.client_cert.write_bytes(pem)
    write_key(key, files.client_key)
    return files


@dataclass
class SecureBroker:
    """Operator, accounts, users and the server configuration, under ``directory``."""

    directory: Path
    tls: bool = False
    verify_clients: bool = False
    operator: Key = field(default_factory=lambda: Key.new(nkeys.PREFIX_BYTE_OPERATOR))
    system: Key = field(default_factory=lambda: Key.new(nkeys.PREFIX_BYTE_ACCOUNT))
    account: Key = field(default_factory=lambda: Key.new(nkeys.PREFIX_BYTE_ACCOUNT))
    users: dict[str, Key] = field(default_factory=dict)
    revoked: dict[str, int] = field(default_factory=dict)
    tls_files: TlsFiles | None = None
    server: EmbeddedBroker | None = None

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.tls:
            self.tls_files = make_tls(self.directory)
        self.issue("sys", account=self.system)

    def _operator_jwt(self) -> str:
        return self.operator.sign_jwt(
            {
                "sub": self.operator.public,
                "name": "test-operator",
                "nats": {"type": "operator", "version": 2, "system_account": self.system.public},
            }
        )

    def _system_jwt(self) -> str:
        return self.operator.sign_jwt(
            {
                "sub": self.system.public,
                "name": "SYS",
                "nats": {
                    "type": "account",
                    "version": 2,
                    "limits": {
                        "subs": -1,
                        "data": -1,
                        "payload": -1,
                        "imports": -1,
                        "exports": -1,
                        "conn": -1,
                    },
                },
            }
        )

    def account_jwt(self) -> str:
        """The RFOS account: JetStream on, with the current revocations."""
        nats_claims: dict[str, Any] = {
            "type": "account",
            "version": 2,
            "limits": {
                "subs": -1,
                "data": -1,
                "payload": -1,
                "imports": -1,
                "exports": -1,
                "wildcards": True,
                "conn": -1,
                "leaf": -1,
                "mem_storage": -1,
                "disk_storage": -1,
                "streams": -1,
                "consumer": -1,
            },
        }
        if self.revoked:
            nats_claims["revocations"] = dict(self.revoked)
        return self.operator.sign_jwt({"sub": self.account.public, "name": "RFOS", "nats": nats_claims})

    def creds_path(self, name: str) -> Path:
        return self.directory / f"{name}.creds"

    def issue(
        self,
        name: str,
        *,
        pub: list[str] | None = None,
        sub: list[str] | None = None,
        account: Key | None = None,
    ) -> Path:
        """Write ``<name>.creds`` (a new key each time): ``None`` permissions allow everything."""
        user = Key.new(nkeys.PREFIX_BYTE_USER)
        self.users[name] = user
        signer = account or self.account
        jwt = signer.sign_jwt({"sub": user.public, "name": name, "nats": user_permissions(name, pub, sub)})
        path = self.creds_path(name)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(creds_text(jwt, user.seed))
        tmp.chmod(0o600)
        tmp.replace(path)  # atomic: a reconnecting client never reads half a file
        return path

    def config_text(self) -> str:
        """The server configuration; JetStream's store comes from the command line (``-sd``)."""
        resolver_dir = self.directory / "jwt"
        resolver_dir.mkdir(exist_ok=True)
        operator_file = self.directory / "operator.jwt"
        operator_file.write_text(self._operator_jwt())
        lines = [
            f'operator: "{operator_file}"',
            f'system_account: "{self.system.public}"',
            f'resolver: {{ type: full, dir: "{resolver_dir}", allow_delete: false, interval: "2m" }}',
            "resolver_preload: {",
            f'  {self.system.public}: "{self._system_jwt()}"',
            f'  {self.account.public}: "{self.account_jwt()}"',
            "}",
            "max_control_line: 65536",
        ]
        if self.tls_files is not None:
            lines += [
                "tls {",
                f'  cert_file: "{self.tls_files.cert}"',
                f'  key_file: "{self.tls_files.key}"',
                f'  ca_file: "{self.tls_files.ca}"',
                f"  verify: {'true' if self.verify_clients else 'false'}",
                "  timeout: 2",
                "}",
            ]
        return "\n".join(lines) + "\n"

    def write_config(self) -> Path:
        path = self.directory / "nats-server.conf"
        path.write_text(self.config_text())
        return path

    def start(self) -> str:
        self.server = EmbeddedBroker(
            config_file=self.write_config(), host="127.0.0.1", port=0, store_dir=self.directory / "store"
        )
        self.server.start()
        return self.url

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    async def push_account(self) -> None:
        """Send the RFOS account JWT to the server with the system user (as revocation does)."""
        tls: Any = None
        if self.tls_files is not None:
            import ssl

            tls = ssl.create_default_context(cafile=str(self.tls_files.ca))
        nc = await nats.connect(self.url, user_credentials=str(self.creds_path("sys")), tls=tls)
        try:
            reply = await nc.request("$SYS.REQ.CLAIMS.UPDATE", self.account_jwt().encode(), timeout=5)
            answer = json.loads(reply.data)
            assert "error" not in answer, answer
        finally:
            await nc.close()

    async def revoke(self, name: str) -> None:
        """Revoke ``name``'s current key and push the account: the server drops its connection."""
        self.revoked[self.users[name].public] = int(time.time()) + 1
        await self.push_account()
        await asyncio.sleep(0)
