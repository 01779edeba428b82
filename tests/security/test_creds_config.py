"""Where tiers and tools find their NATS credentials and TLS files: YAML keys and environment."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from robotfleet_nodes.config import load_config
from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.security import ClientSecurity, client_security
from robotfleet_nodes.security import creds as creds_module

KINDS = ("fleet", "area", "zone", "edge")
ENV = {
    "MESSAGING_CREDS": "credentials",
    "MESSAGING_TLS_CA": "tls_ca",
    "MESSAGING_TLS_CERT": "tls_cert",
    "MESSAGING_TLS_KEY": "tls_key",
}


def _yaml(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tier.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_relative_paths_are_relative_to_the_yaml_file(kind: str, tmp_path: Path) -> None:
    path = _yaml(
        tmp_path / "deploy" / "edge",
        "messaging:\n"
        "  credentials: ../secrets/robot-1.creds\n"
        "  tls_ca: ../secrets/ca.pem\n"
        "  tls_cert: /abs/client.pem\n"
        "  tls_key: client-key.pem\n",
    )
    messaging = load_config(kind, path, environ={}).messaging
    base = tmp_path / "deploy" / "edge"
    assert Path(messaging.credentials or "") == base / "../secrets/robot-1.creds"
    assert Path(messaging.tls_ca or "") == base / "../secrets/ca.pem"
    assert messaging.tls_cert == "/abs/client.pem"
    assert Path(messaging.tls_key or "") == base / "client-key.pem"
    assert os.path.normpath(messaging.credentials or "") == str(tmp_path / "deploy/secrets/robot-1.creds")


@pytest.mark.parametrize("kind", KINDS)
def test_the_environment_overrides_every_key(kind: str, tmp_path: Path) -> None:
    path = _yaml(tmp_path, "messaging:\n  credentials: from-file.creds\n")
    environ = {var: f"env/{key}" for var, key in ENV.items()}
    messaging = load_config(kind, path, environ=environ).messaging
    for key in ENV.values():
        assert getattr(messaging, key) == f"env/{key}"  # relative to the working directory


def test_defaults_are_no_credentials_and_no_tls() -> None:
    messaging = load_config("zone", None, environ={}).messaging
    assert (messaging.credentials, messaging.tls_ca, messaging.tls_cert, messaging.tls_key) == (None,) * 4


def test_a_client_certificate_needs_its_key(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "messaging:\n  tls_cert: c.pem\n")
    with pytest.raises(ConfigError, match=r"tier.yaml: messaging: .*tls_cert is set but tls_key is not"):
        load_config("area", path, environ={})


def test_an_empty_path_names_the_key(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "messaging:\n  credentials: ''\n")
    with pytest.raises(ConfigError, match=r"messaging.credentials: must not be empty"):
        load_config("fleet", path, environ={})


def test_an_empty_variable_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "messaging:\n  tls_key: k.pem\n")
    with pytest.raises(ConfigError, match=r"tls_key is set but tls_cert is not"):
        load_config("fleet", path, environ={"MESSAGING_TLS_KEY": "other.pem"})


def test_client_security_takes_values_then_the_environment() -> None:
    environ = {"MESSAGING_CREDS": "env.creds", "MESSAGING_TLS_CA": "env-ca.pem"}
    security = client_security(credentials="given.creds", environ=environ)
    assert security == ClientSecurity(credentials=Path("given.creds"), tls_ca=Path("env-ca.pem"))
    assert client_security(environ={}) == ClientSecurity()
    assert not ClientSecurity().tls
    assert ClientSecurity().ssl_context() is None


def test_rfos_insecure_drops_everything_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    creds_module._warn_insecure.cache_clear()
    environ = {"RFOS_INSECURE": "1", "MESSAGING_CREDS": "env.creds"}
    with caplog.at_level(logging.WARNING, logger=creds_module.__name__):
        assert client_security(tls_ca="ca.pem", environ=environ) == ClientSecurity()
        assert client_security(credentials="x.creds", environ=environ) == ClientSecurity()
    assert len([r for r in caplog.records if "RFOS_INSECURE=1" in r.getMessage()]) == 1
    creds_module._warn_insecure.cache_clear()


def test_tls_files_that_are_missing_or_not_pem_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no-ca.pem: no such CA certificate file"):
        ClientSecurity(tls_ca=tmp_path / "no-ca.pem").ssl_context()
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"bad.pem: not a PEM CA certificate"):
        ClientSecurity(tls_ca=bad).ssl_context()
    with pytest.raises(ConfigError, match=r"mutual TLS needs both"):
        ClientSecurity(tls_cert=bad).ssl_context()
