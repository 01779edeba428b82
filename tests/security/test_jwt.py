"""NATS JWT v2 encoding: round trip, signature, claim layout, creds files."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from robotfleet_nodes.security._nkeys import key_from_seed, new_key
from robotfleet_nodes.security.creds import format_creds, read_seed
from robotfleet_nodes.security.jwt import ALGORITHM, JwtError, decode_jwt, encode_jwt, jwt_id


def _part(token: str, index: int) -> dict[str, object]:
    text = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))


def test_user_jwt_round_trip_and_layout() -> None:
    account, user = new_key("account"), new_key("user")
    perms = {"pub": {"allow": ["a.>"]}, "sub": {"allow": ["b"]}, "resp": {"max": -1, "ttl": 5}}
    token = encode_jwt("user", user.public_key, perms, account, name="robot-1", issued_at=1_700_000_000)
    assert _part(token, 0) == {"typ": "JWT", "alg": ALGORITHM}
    claims = decode_jwt(token, kind="user")
    assert claims["iss"] == account.public_key and claims["sub"] == user.public_key
    assert claims["name"] == "robot-1" and claims["iat"] == 1_700_000_000
    assert claims["nats"] == {**perms, "type": "user", "version": 2}
    assert claims["jti"] == jwt_id(claims)
    assert "=" not in token


def test_jti_changes_with_any_content() -> None:
    operator, account = new_key("operator"), new_key("account")
    a = encode_jwt("account", account.public_key, {"revocations": {"U1": 1}}, operator, issued_at=1)
    b = encode_jwt("account", account.public_key, {"revocations": {"U1": 2}}, operator, issued_at=1)
    assert decode_jwt(a)["jti"] != decode_jwt(b)["jti"]


def test_tampered_claims_fail_the_signature() -> None:
    operator = new_key("operator")
    token = encode_jwt("operator", operator.public_key, {}, operator)
    head, _body, sig = token.split(".")
    claims = _part(token, 1)
    claims["name"] = "evil"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(JwtError, match="bad signature"):
        decode_jwt(f"{head}.{forged}.{sig}")
    assert decode_jwt(f"{head}.{forged}.{sig}", verify=False)["name"] == "evil"


@pytest.mark.parametrize(
    ("kind", "issuer", "subject"),
    [("user", "operator", "user"), ("account", "account", "account"), ("user", "account", "account")],
)
def test_wrong_keys_are_refused(kind: str, issuer: str, subject: str) -> None:
    with pytest.raises(JwtError):
        encode_jwt(kind, new_key(subject).public_key, {}, new_key(issuer))  # type: ignore[arg-type]


def test_wrong_type_and_garbage_are_refused() -> None:
    operator = new_key("operator")
    token = encode_jwt("operator", operator.public_key, {}, operator)
    with pytest.raises(JwtError, match="expected a user JWT"):
        decode_jwt(token, kind="user")
    for bad in ("", "a.b", "a.b.c", token.replace(".", "", 1)):
        with pytest.raises(JwtError):
            decode_jwt(bad)


def test_creds_file_round_trip(tmp_path: Path) -> None:
    account, user = new_key("account"), new_key("user")
    token = encode_jwt("user", user.public_key, {}, account, name="x")
    path = tmp_path / "x.creds"
    path.write_text(format_creds(token, user.seed))
    text = path.read_text()
    assert text.startswith(f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n")
    assert f"-----BEGIN USER NKEY SEED-----\n{user.seed}\n------END USER NKEY SEED------" in text
    seed = read_seed(path)
    assert seed is not None and key_from_seed(seed).public_key == user.public_key
    assert read_seed(tmp_path / "missing.creds") is None
