"""A NATS ``.creds`` file: the identity a client connects with, and where clients find it.

A ``.creds`` file (written by ``rfos fleet gen-config`` / ``rfos security``, or by NATS's
own ``nsc``) holds two armoured blocks::

    -----BEGIN NATS USER JWT-----
    eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJ...
    ------END NATS USER JWT------
    -----BEGIN USER NKEY SEED-----
    SUAM...
    ------END USER NKEY SEED------

:func:`read_creds` parses one into :class:`Credentials`: the user JWT, the seed (a secret:
never in ``repr``, never logged) and the JWT's ``name`` claim, which is the identity's name
(``robot-7``, ``zone-1``, ``fleet``...) and the last token of the client's inbox prefix
(``_INBOX.<name>``). The claims are decoded, not verified: the server verifies them.

Clients find their credentials in the YAML (``messaging.credentials``, ``messaging.tls_*``)
or the environment (:data:`ENV_CREDS`, :data:`ENV_TLS_CA`, :data:`ENV_TLS_CERT`,
:data:`ENV_TLS_KEY`); :data:`ENV_INSECURE` = ``1`` ignores them (development with an open
broker). :func:`redact_url` hides ``user:password@`` in a broker URL before it is shown.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robotfleet_nodes.errors import ConfigError

__all__ = [
    "ENV_CREDS",
    "ENV_INSECURE",
    "ENV_TLS_CA",
    "ENV_TLS_CERT",
    "ENV_TLS_KEY",
    "ClientSecurity",
    "Credentials",
    "client_security",
    "format_creds",
    "insecure",
    "jwt_claims",
    "read_creds",
    "read_seed",
    "redact_url",
]

#: Path of the ``.creds`` file tools, nodes and tiers connect with.
ENV_CREDS = "MESSAGING_CREDS"
#: CA certificate (PEM) the broker's TLS certificate is verified with.
ENV_TLS_CA = "MESSAGING_TLS_CA"
#: Client certificate (PEM), for brokers that require mutual TLS.
ENV_TLS_CERT = "MESSAGING_TLS_CERT"
#: The client certificate's private key (PEM).
ENV_TLS_KEY = "MESSAGING_TLS_KEY"
#: ``1``: ignore configured credentials and TLS (development against an open broker).
ENV_INSECURE = "RFOS_INSECURE"

log = logging.getLogger(__name__)

_HINT = "write it with `rfos fleet gen-config`, or re-issue it with `rfos security reissue <name>`"
_BLOCK = re.compile(
    r"-{3,}BEGIN (?P<what>[A-Z ]+?)-{3,}\s*(?P<body>.*?)\s*-{3,}END (?P=what)-{3,}", re.DOTALL
)
_TOKEN_NAME = re.compile(r"[A-Za-z0-9_-]+")
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_SEED = re.compile(r"SU[A-Z2-7]{56}")
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/,\s]*)@")


@dataclass(frozen=True)
class Credentials:
    """A parsed ``.creds`` file. ``seed`` is secret: it is left out of ``repr``."""

    path: Path
    """The file it was read from (nats-py reads it again on every connect)."""
    name: str
    """The identity: the user JWT's ``name`` claim (letters, digits, ``_``, ``-``)."""
    jwt: str
    """The user JWT (public: the server sees it on every connect)."""
    seed: str = field(repr=False)
    """The user's nkey seed (``SU...``): signs the server's nonce. Never log it."""
    claims: dict[str, Any] = field(repr=False, compare=False)
    """The decoded (unverified) JWT claims."""

    @property
    def inbox_prefix(self) -> str:
        """``_INBOX.<name>``: the only inbox this identity may subscribe to (``_INBOX.<name>.>``)."""
        return f"_INBOX.{self.name}"


@dataclass(frozen=True)
class ClientSecurity:
    """What a NATS client proves itself with: a ``.creds`` file and TLS files, each optional.

    Build it with :func:`client_security` (explicit values, then the environment).
    """

    credentials: Path | None = None
    """The ``.creds`` file (nats-py reads it again on every connect: a re-issued file is used)."""
    tls_ca: Path | None = None
    """CA certificate (PEM) the server's certificate is verified with."""
    tls_cert: Path | None = None
    """Client certificate (PEM), for mutual TLS."""
    tls_key: Path | None = None
    """Private key (PEM) of ``tls_cert``."""

    @property
    def tls(self) -> bool:
        """Whether any TLS file is set."""
        return any(p is not None for p in (self.tls_ca, self.tls_cert, self.tls_key))

    def read_credentials(self) -> Credentials | None:
        """The parsed ``.creds`` file (``None`` without one); raises ``ConfigError`` when bad."""
        return read_creds(self.credentials) if self.credentials is not None else None

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context verifying the server with ``tls_ca`` (``None`` without TLS files).

        With ``tls_cert``/``tls_key`` it also presents the client certificate (mutual TLS).
        Raises ``ConfigError`` naming the file that is missing or not PEM.
        """
        if not self.tls:
            return None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError(
                f"mutual TLS needs both a client certificate and its key ({ENV_TLS_CERT} / "
                f"{ENV_TLS_KEY}, messaging.tls_cert / messaging.tls_key); got only "
                f"{self.tls_cert if self.tls_cert is not None else self.tls_key}"
            )
        hint = "`rfos fleet gen-config` writes it into the deployment's secrets/"
        if self.tls_ca is not None:
            _check_readable(self.tls_ca, "CA certificate", hint)
        try:
            context = ssl.create_default_context(cafile=str(self.tls_ca) if self.tls_ca else None)
        except ssl.SSLError as exc:
            raise ConfigError(f"{self.tls_ca}: not a PEM CA certificate ({exc.reason}); {hint}") from None
        if self.tls_cert is not None and self.tls_key is not None:
            _check_readable(self.tls_cert, "client certificate", hint)
            _check_readable(self.tls_key, "client key", hint)
            try:
                context.load_cert_chain(str(self.tls_cert), str(self.tls_key))
            except ssl.SSLError as exc:
                raise ConfigError(
                    f"{self.tls_cert} / {self.tls_key}: not a PEM client certificate and its key "
                    f"({exc.reason}); {hint}"
                ) from None
        return context


def _check_readable(path: Path, what: str, hint: str) -> None:
    if not path.is_file():
        raise ConfigError(f"{path}: no such {what} file; {hint}")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{path}: cannot read the {what} (permission denied); run as its owner")


def client_security(
    *,
    credentials: str | os.PathLike[str] | None = None,
    tls_ca: str | os.PathLike[str] | None = None,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ClientSecurity:
    """The credentials and TLS files a client uses: each given value, else its environment variable.

    :data:`ENV_CREDS`, :data:`ENV_TLS_CA`, :data:`ENV_TLS_CERT`, :data:`ENV_TLS_KEY` fill
    what is not given. With :data:`ENV_INSECURE` = ``1`` everything is ignored (one
    warning per process when something was configured): a development broker without
    accounts or TLS. Files are not read here (see :meth:`ClientSecurity.read_credentials`).
    """
    env = os.environ if environ is None else environ

    def pick(value: str | os.PathLike[str] | None, var: str) -> Path | None:
        if value is not None and os.fspath(value).strip():
            return Path(value).expanduser()
        raw = env.get(var, "").strip()
        return Path(raw).expanduser() if raw else None

    security = ClientSecurity(
        credentials=pick(credentials, ENV_CREDS),
        tls_ca=pick(tls_ca, ENV_TLS_CA),
        tls_cert=pick(tls_cert, ENV_TLS_CERT),
        tls_key=pick(tls_key, ENV_TLS_KEY),
    )
    if insecure(env):
        if security != ClientSecurity():
            _warn_insecure()
        return ClientSecurity()
    return security


@functools.cache
def _warn_insecure() -> None:
    log.warning(
        "%s=1: ignoring the configured NATS credentials and TLS files; this process connects "
        "as nobody in particular, without TLS (development only: the broker must be open)",
        ENV_INSECURE,
    )


def insecure(environ: Mapping[str, str] | None = None) -> bool:
    """Whether :data:`ENV_INSECURE` asks to ignore configured credentials and TLS."""
    env = os.environ if environ is None else environ
    return env.get(ENV_INSECURE, "").strip().lower() in ("1", "true", "yes", "on")


def read_creds(path: str | os.PathLike[str]) -> Credentials:
    """Parse the ``.creds`` file at ``path``.

    Raises:
        ConfigError: the file is missing, unreadable, or not a NATS user ``.creds`` file
            (the message names the path and how to get a good one, never the seed).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such credentials file; {_HINT}") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a directory, expected a NATS .creds file; {_HINT}") from None
    except PermissionError:
        raise ConfigError(
            f"{file}: cannot read the credentials file (permission denied): run as its owner, or {_HINT}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(f"{file}: cannot read the credentials file ({reason}); {_HINT}") from None
    blocks = {m["what"].strip(): m["body"].strip() for m in _BLOCK.finditer(text)}
    jwt = blocks.get("NATS USER JWT", "")
    seed = blocks.get("USER NKEY SEED", "")
    if not jwt or not seed:
        missing = " and ".join(
            what for what, value in (("NATS USER JWT", jwt), ("USER NKEY SEED", seed)) if not value
        )
        raise ConfigError(f"{file}: not a NATS .creds file (no {missing} block); {_HINT}")
    if not _SEED.fullmatch(seed):
        raise ConfigError(f"{file}: the USER NKEY SEED block is not a user nkey seed (SU...); {_HINT}")
    try:
        claims = jwt_claims(jwt)
    except ValueError as exc:
        raise ConfigError(f"{file}: the NATS USER JWT block {exc}; {_HINT}") from None
    name = claims.get("name")
    if not isinstance(name, str) or not _TOKEN_NAME.fullmatch(name):
        raise ConfigError(
            f"{file}: the user JWT's name claim is {name!r}, expected an identity name "
            f"(letters, digits, '_', '-'); {_HINT}"
        )
    return Credentials(path=file, name=name, jwt=jwt, seed=seed, claims=claims)


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
    """The user seed in the ``.creds`` file ``path``, or None if it is missing or not one
    (an identity keeps its key when its JWT is re-issued)."""
    try:
        return read_creds(path).seed
    except ConfigError:
        return None


def jwt_claims(jwt: str) -> dict[str, Any]:
    """The claims (payload) of a JWT, decoded but not verified.

    Raises ``ValueError`` saying what is wrong when ``jwt`` is not a JWT with a JSON object
    as its payload.
    """
    token = jwt.strip()
    if not _JWT.fullmatch(token):
        raise ValueError("is not a JWT (three base64url parts separated by '.')")
    payload = token.split(".")[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (binascii.Error, ValueError):
        raise ValueError("has a payload that is not base64url-encoded JSON") from None
    if not isinstance(claims, dict):
        raise ValueError("has a payload that is not a JSON object")  # noqa: TRY004 - a bad value
    return claims


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` (or ``token@``) replaced by ``***@``.

    Works on a comma-separated list of URLs too; anything else is returned unchanged.
    ``nats://alice:s3cret@host:4222`` -> ``nats://***@host:4222``.
    """
    return _USERINFO.sub(lambda m: f"{m['scheme']}***@", url)
