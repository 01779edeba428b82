"""TLS material for NATS: a private CA, the server's certificate, optional client certificates.

Generated with ``cryptography`` (ECDSA P-256, SHA-256). The CA is valid 10 years, leaf
certificates 2 years; the server certificate names ``localhost``, ``127.0.0.1``, ``::1``
and any extra host given. Keys are written 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from robotfleet_nodes.security._files import write_secret

__all__ = ["DEFAULT_HOSTS", "ensure_ca", "issue_certificate", "server_hosts"]

#: Names every server certificate carries.
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
_CA_DAYS = 3650
_LEAF_DAYS = 730


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def ensure_ca(secrets: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA of ``secrets`` (``ca.pem``, ``ca-key.pem``), created when missing."""
    cert_path, key_path = secrets / "ca.pem", secrets / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RobotFleetOS CA")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_secret(key_path, _key_pem(key))
    write_secret(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def server_hosts(extra: Sequence[str] = ()) -> list[str]:
    """:data:`DEFAULT_HOSTS` plus ``extra``, without repeats."""
    return list(dict.fromkeys([*DEFAULT_HOSTS, *[h for h in extra if h]]))


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def issue_certificate(
    secrets: Path,
    stem: str,
    *,
    common_name: str,
    hosts: Sequence[str] = (),
    client: bool = False,
    route: bool = False,
) -> tuple[Path, Path]:
    """Write ``<stem>-cert.pem`` / ``<stem>-key.pem`` signed by the CA; return their paths.

    A server certificate (``client=False``) names ``hosts``; a client certificate is for
    mutual TLS; a route certificate (``route=True``: a NATS cluster's servers dial each
    other with mutual TLS) names ``hosts`` and serves both as server and as client. An
    existing pair naming the same hosts is kept.
    """
    cert_path, key_path = secrets / f"{stem}-cert.pem", secrets / f"{stem}-key.pem"
    if cert_path.exists() and key_path.exists() and not client:
        existing = x509.load_pem_x509_certificate(cert_path.read_bytes())
        try:
            san = existing.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            san = None
        if san == _san(hosts) and existing.not_valid_after_utc > _now() + datetime.timedelta(days=30):
            return cert_path, key_path
    ca_cert, ca_key = ensure_ca(secrets)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                if route
                else [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if not client:
        builder = builder.add_extension(_san(hosts), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    write_secret(key_path, _key_pem(key))
    write_secret(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
