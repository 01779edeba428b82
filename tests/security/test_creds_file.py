"""Reading a NATS ``.creds`` file, and hiding credentials in URLs (no server needed)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import nkeys  # type: ignore[import-untyped]
import pytest

from robotfleet_nodes.errors import ConfigError, RobotFleetError
from robotfleet_nodes.security import Credentials, insecure, jwt_claims, read_creds, redact_url


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(claims: Any) -> str:
    header = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(b'not checked here')}"


SEED = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode()


def _creds_text(jwt: str, seed: str = SEED) -> str:
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{jwt}\n"
        "------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{seed}\n"
        "------END USER NKEY SEED------\n"
    )


def _write(tmp_path: Path, text: str, name: str = "robot-7.creds") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _assert_helpful(exc: ConfigError, path: Path) -> None:
    text = str(exc)
    assert str(path) in text
    assert "rfos fleet gen-config" in text
    assert "rfos security reissue" in text
    assert SEED not in text


def test_a_creds_file_gives_jwt_seed_and_name(tmp_path: Path) -> None:
    jwt = _jwt({"name": "robot-7", "sub": "UABC", "nats": {"type": "user"}})
    path = _write(tmp_path, _creds_text(jwt))
    creds = read_creds(path)
    assert isinstance(creds, Credentials)
    assert (creds.name, creds.jwt, creds.seed, creds.path) == ("robot-7", jwt, SEED, path)
    assert creds.claims["sub"] == "UABC"
    assert creds.inbox_prefix == "_INBOX.robot-7"
    assert SEED not in repr(creds)
    assert "robot-7" in repr(creds)


def test_a_missing_file_names_the_path_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "nope.creds"
    with pytest.raises(ConfigError, match="no such credentials file") as info:
        read_creds(path)
    _assert_helpful(info.value, path)
    assert isinstance(info.value, RobotFleetError)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory") as info:
        read_creds(tmp_path)
    _assert_helpful(info.value, tmp_path)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "binary.creds"
    path.write_bytes(b"\xff\xfe\x00 not utf-8")
    with pytest.raises(ConfigError, match="cannot read the credentials file") as info:
        read_creds(path)
    _assert_helpful(info.value, path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "no NATS USER JWT and USER NKEY SEED block"),
        ("nats://user:pass@host\n", "no NATS USER JWT and USER NKEY SEED block"),
        (_creds_text(_jwt({"name": "robot-7"})).split("-----BEGIN USER")[0], "no USER NKEY SEED block"),
        (_creds_text(_jwt({"name": "robot-7"}), seed="SAAWRONGROLE"), "not a user nkey seed"),
        (_creds_text("not-a-jwt"), "is not a JWT"),
        (_creds_text("a.b!.c"), "is not a JWT"),
        (_creds_text(f"x.{_b64(b'{nope')}.y"), "not base64url-encoded JSON"),
        (_creds_text(_jwt(["a", "list"])), "not a JSON object"),
        (_creds_text(_jwt({"sub": "UABC"})), "name claim is None"),
        (_creds_text(_jwt({"name": "robot 7"})), "name claim is 'robot 7'"),
        (_creds_text(_jwt({"name": "a.b"})), "name claim is 'a.b'"),
    ],
)
def test_a_malformed_file_says_what_is_wrong(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=r"not|name claim") as info:
        read_creds(path)
    assert expected in str(info.value)
    _assert_helpful(info.value, path)


def test_jwt_claims_decodes_without_padding() -> None:
    for name in ("a", "ab", "abc", "abcd"):  # every padding length
        assert jwt_claims(_jwt({"name": name}))["name"] == name


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://alice:s3cret@host:4222", "nats://***@host:4222"),
        ("nats://tok3n@host", "nats://***@host"),
        ("tls://a:b@h1:4222, nats://c:d@h2:4223", "tls://***@h1:4222, nats://***@h2:4223"),
        ("nats://a:b@h1:4222,nats://h2:4223", "nats://***@h1:4222,nats://h2:4223"),
        ("nats://localhost:4222", "nats://localhost:4222"),
        ("ws://u:p%40ss@host:80/path", "ws://***@host:80/path"),
        ("nats://u:p@ss@host:4222", "nats://***@host:4222"),
        ("no broker at nats://u:p@h:1 (refused)", "no broker at nats://***@h:1 (refused)"),
        ("", ""),
    ],
)
def test_redact_url_hides_user_and_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_insecure_reads_rfos_insecure(value: str, expected: bool) -> None:
    assert insecure({"RFOS_INSECURE": value}) is expected
    assert insecure({}) is False
