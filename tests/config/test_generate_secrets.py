"""gen-config's secrets/: 0600 files, identities kept across runs, --insecure, containers."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from robotfleet_nodes.config.generate import generate_deployment, main
from robotfleet_nodes.config.models import HttpConfig, MessagingConfig
from robotfleet_nodes.launch._loop import split_chunks


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deploy") / "30"
    generate_deployment(out, robots=30, zones=3, areas=1, containers=4, zone_containers=2)
    return out


def test_every_identity_has_its_creds(secured: Path) -> None:
    secrets = secured / "secrets"
    names = {p.stem for p in secrets.glob("*.creds")}
    expected = {f"robot-{i}" for i in range(1, 31)} | {"zone-1", "zone-2", "zone-3", "area-1"}
    expected |= {"fleet", "operator", "viewer", "sys"}
    expected |= {f"robots-{a}-{b}" for a, b in split_chunks(1, 30, 4)}
    expected |= {f"zones-{a}-{b}" for a, b in split_chunks(1, 3, 2)}
    assert names == expected
    for name in ("nats-server.conf", "operator.jwt", "ca.pem", "server-cert.pem", "server-key.pem"):
        assert (secrets / name).is_file()


def test_secrets_are_private_and_ignored(secured: Path) -> None:
    secrets = secured / "secrets"
    assert _mode(secrets) == 0o700
    assert (secrets / ".gitignore").read_text().splitlines()[-1] == "*"
    for path in secrets.rglob("*"):
        if path.is_file() and path.name != ".gitignore":
            assert _mode(path) == 0o600, path


def test_regenerating_keeps_identities(secured: Path) -> None:
    secrets = secured / "secrets"
    before = {p.name: p.read_bytes() for p in secrets.glob("*") if p.is_file()}
    generate_deployment(secured, robots=30, zones=3, areas=1, containers=4, zone_containers=2)
    after = {p.name: p.read_bytes() for p in secrets.glob("*") if p.is_file()}
    changed = sorted(n for n in before if before[n] != after.get(n))
    assert changed == []
    assert before["robot-7.creds"] == after["robot-7.creds"]


def test_a_smaller_fleet_forgets_the_removed_robots(tmp_path: Path) -> None:
    out = tmp_path / "d"
    generate_deployment(out, robots=6, zones=2, containers=2)
    keys = json.loads((out / "secrets" / "identities.json").read_text())["identities"]
    generate_deployment(out, robots=4, zones=2, containers=2)
    manifest = json.loads((out / "secrets" / "identities.json").read_text())
    assert not (out / "secrets" / "robot-6.creds").exists()
    assert keys["robot-6"]["key"] in manifest["revocations"]
    assert manifest["identities"]["robot-1"]["key"] == keys["robot-1"]["key"]  # zone-1 kept robot-1..2
    assert {n for n in manifest["identities"] if n.startswith("robots-")} == {"robots-1-2", "robots-3-4"}


def test_yaml_points_at_the_secrets(secured: Path) -> None:
    def messaging(path: Path) -> dict[str, str]:
        return dict(yaml.safe_load(path.read_text())["messaging"])

    fleet = yaml.safe_load((secured / "fleet.yaml").read_text())
    assert fleet["http"]["host"] == "0.0.0.0"
    expected = {
        secured / "edge" / "robot-7.yaml": "../secrets/robot-7.creds",
        secured / "zone-2.yaml": "secrets/zone-2.creds",
        secured / "area.yaml": "secrets/area-1.creds",
        secured / "fleet.yaml": "secrets/fleet.creds",
    }
    for path, creds in expected.items():
        keys = messaging(path)
        if "credentials" in MessagingConfig.model_fields:
            assert keys["credentials"] == creds
            assert (path.parent / keys["credentials"]).is_file()
        if "tls_ca" in MessagingConfig.model_fields:
            assert (path.parent / keys["tls_ca"]).resolve() == (secured / "secrets" / "ca.pem").resolve()
    if "tokens_file" in HttpConfig.model_fields:
        assert fleet["http"]["tokens_file"] == "secrets/api-tokens.json"


def test_insecure_writes_no_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "open"
    assert main(["--robots", "4", "--zones", "2", "--out", str(out), "--insecure"]) == 0
    assert not (out / "secrets").exists()
    assert "credentials" not in (out / "fleet.yaml").read_text()
    assert "secrets" not in capsys.readouterr().out


def test_mutual_tls_adds_a_client_certificate(tmp_path: Path) -> None:
    out = tmp_path / "mtls"
    assert (
        main(["--robots", "2", "--zones", "1", "--out", str(out), "--mutual-tls", "--host", "fleet.example"])
        == 0
    )
    conf = (out / "secrets" / "nats-server.conf").read_text()
    assert "verify: true" in conf
    assert (out / "secrets" / "client-cert.pem").is_file()
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((out / "secrets" / "server-cert.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "fleet.example" in names.get_values_for_type(x509.DNSName)
