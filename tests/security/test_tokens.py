"""The API token store: hashes only, 0600 atomic writes, roles, revocation, live reload."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from robotfleet_nodes.security.tokens import (
    TOKEN_PREFIX,
    TokenError,
    TokenStore,
    create_token,
    hash_token,
    list_tokens,
    revoke_token,
    role_allows,
)


def test_create_stores_only_the_hash_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "api-tokens.json"
    token = create_token(path, "admin", "admin")
    assert token.startswith(TOKEN_PREFIX) and len(token) >= len(TOKEN_PREFIX) + 43
    text = path.read_text()
    assert token not in text and token[len(TOKEN_PREFIX) :] not in text
    data = json.loads(text)
    assert data["version"] == 1
    [entry] = data["tokens"]
    assert entry["sha256"] == hash_token(token) and entry["role"] == "admin" and entry["revoked"] is None
    assert entry["created"].endswith("Z")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir() if not p.name.startswith(".")] == [path.name]


def test_tokens_are_random_and_names_unique(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    a = create_token(path, "a", "viewer")
    b = create_token(path, "b", "viewer")
    assert a != b
    with pytest.raises(TokenError, match="exists"):
        create_token(path, "a", "operator")
    assert [(t.name, t.role, t.active) for t in list_tokens(path)] == [
        ("a", "viewer", True),
        ("b", "viewer", True),
    ]


@pytest.mark.parametrize("name", ["", "has space", "-dash-first", "a.b", "x" * 65, "é"])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(TokenError, match="not valid"):
        create_token(tmp_path / "t.json", name, "viewer")


@pytest.mark.parametrize("role", ["root", "", "Admin"])
def test_bad_roles_are_refused(tmp_path: Path, role: str) -> None:
    with pytest.raises(TokenError, match="viewer, operator, admin"):
        create_token(tmp_path / "t.json", "n", role)


def test_revoke_then_reuse_the_name(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    old = create_token(path, "ci", "operator")
    revoke_token(path, "ci")
    [info] = list_tokens(path)
    assert info.revoked is not None and not info.active
    with pytest.raises(TokenError, match="no active token"):
        revoke_token(path, "ci")
    with pytest.raises(TokenError, match="no active token"):
        revoke_token(path, "nobody")
    new = create_token(path, "ci", "viewer")
    store = TokenStore(path)
    assert store.authenticate(old) is None
    found = store.authenticate(new)
    assert found is not None and (found.name, found.role) == ("ci", "viewer")


def test_store_sees_changes_made_by_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    store = TokenStore(path)  # no file yet: nothing is valid
    assert store.authenticate("rfos_x") is None and store.tokens() == []
    token = create_token(path, "op", "operator")  # e.g. `rfos security token create`
    info = store.authenticate(token)
    assert info is not None and info.role == "operator"
    assert store.active_hash(hash_token(token)) == info
    revoke_token(path, "op")
    assert store.authenticate(token) is None
    assert store.active_hash(hash_token(token)) is None


def test_a_broken_file_keeps_the_last_good_tokens(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    token = create_token(path, "op", "operator")
    store = TokenStore(path)
    path.write_text("{not json")
    assert store.authenticate(token) is not None
    with pytest.raises(TokenError, match="invalid JSON"):
        list_tokens(path)
    path.write_text(json.dumps({"tokens": [{"name": "x"}]}))
    with pytest.raises(TokenError, match=r"tokens\[0\]"):
        TokenStore(path)


def test_store_create_and_revoke(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.json")
    token = store.create("dash", "viewer")
    assert store.authenticate(token) is not None
    assert store.authenticate(token + "x") is None
    store.revoke("dash")
    assert store.authenticate(token) is None


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        ("viewer", "viewer", True),
        ("viewer", "operator", False),
        ("viewer", "admin", False),
        ("operator", "viewer", True),
        ("operator", "operator", True),
        ("operator", "admin", False),
        ("admin", "viewer", True),
        ("admin", "operator", True),
        ("admin", "admin", True),
        ("root", "viewer", False),
        ("admin", "root", False),
    ],
)
def test_role_order(role: str, needed: str, allowed: bool) -> None:
    assert role_allows(role, needed) is allowed


def test_store_reports_changes_made_by_others_only(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    create_token(path, "old", "viewer")
    store = TokenStore(path)
    seen: list[tuple[str, str, str]] = []
    store.on_change = lambda changes: seen.extend((kind, i.name, i.role) for kind, i in changes)
    store.refresh()
    assert seen == []  # nothing changed
    store.create("mine", "operator")  # the store's own change: its caller records it
    store.revoke("mine")
    assert seen == []
    create_token(path, "cli", "admin")  # another process
    revoke_token(path, "old")
    store.tokens()
    assert sorted(seen) == [("create", "cli", "admin"), ("revoke", "old", "viewer")]
    seen.clear()
    revoke_token(path, "cli")
    create_token(path, "cli", "viewer")  # the name reused: the old one's revocation is reported
    store.refresh()
    assert sorted(seen) == [("create", "cli", "viewer"), ("revoke", "cli", "admin")]
