"""The identities of a deployment, kept in ``<out>/secrets/``: issue, keep, revoke, re-issue.

Files (directory 0700, files 0600)::

    operator.nk  operator.jwt        the operator's seed and self-signed JWT
    account-RFOS.nk  account-SYS.nk  the application and system accounts' seeds
    jwt/<account key>.jwt            account JWTs (nats-server's full resolver directory)
    <name>.creds                     one per user identity (JWT + seed), sys.creds included
    identities.json                  what was issued: kind, public key, permission hash,
                                     members of containers, user nodes' topics, revoked

An identity whose permissions did not change keeps its key and file (regenerating a
deployment is cheap and rotates nothing). One whose permissions changed gets a new key,
and the old key is revoked in the account JWT: an old JWT carrying wider permissions
must not stay valid. Revoking an identity revokes its key; container identities holding
a revoked robot (or zone) are re-issued without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robotfleet_nodes.errors import ConfigError
from robotfleet_nodes.security._files import ensure_secrets_dir, write_secret
from robotfleet_nodes.security._nkeys import KeyPair, Role, key_from_seed, new_key
from robotfleet_nodes.security.creds import format_creds, read_seed
from robotfleet_nodes.security.jwt import decode_jwt, encode_jwt
from robotfleet_nodes.security.permissions import Permissions, PermissionTables
from robotfleet_nodes.security.topology import Topology

__all__ = [
    "APP_ACCOUNT",
    "MQTT_CLAIMS",
    "SYSTEM_ACCOUNT",
    "VEHICLE_CREDS_DIR",
    "IdentityInfo",
    "IdentityStore",
    "container_name",
    "split_chunks",
]

log = logging.getLogger(__name__)

APP_ACCOUNT = "RFOS"
SYSTEM_ACCOUNT = "SYS"
_MANIFEST = "identities.json"
#: A user JWT without limits (0 would mean "none allowed").
_USER_LIMITS = {"subs": -1, "data": -1, "payload": -1}
#: A VDA 5050 vehicle's login (and its edge's MQTT login): the user JWT is the MQTT password
#: (a bearer token: MQTT has no nonce to sign) and is refused on the NATS port.
MQTT_CLAIMS: dict[str, Any] = {"bearer_token": True, "allowed_connection_types": ["MQTT"]}
#: Vehicles' identities, ``<secrets>/vda5050/<robot_id>.creds`` and ``<robot_id>-master.creds``.
VEHICLE_CREDS_DIR = "vda5050"
_TIERS = ("robot", "zone", "site", "area", "fleet", "operator", "viewer")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
#: Unlimited JetStream for the application account (-1 = no limit, as nsc writes it).
_JETSTREAM_UNLIMITED = {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}
_NO_LIMITS = {
    "subs": -1,
    "data": -1,
    "payload": -1,
    "imports": -1,
    "exports": -1,
    "wildcards": True,
    "conn": -1,
    "leaf": -1,
}


def split_chunks(start: int, stop: int, chunks: int) -> list[tuple[int, int]]:
    """``start..stop`` (inclusive) in ``chunks`` contiguous parts differing by at most one,
    empty parts left out: the same cut as the launch file's ``split_chunks``."""
    count, out, first = stop - start + 1, [], start
    for index in range(chunks):
        size = count // chunks + (1 if index < count % chunks else 0)
        if size > 0:
            out.append((first, first + size - 1))
        first += size
    return out


def container_name(kind: str, first: int, last: int) -> str:
    """``robots-<first>-<last>`` or ``zones-<first>-<last>`` (1-based, inclusive)."""
    return f"{kind}-{first}-{last}"


def check_name(name: str) -> str:
    """``name`` if it is a valid identity name ([A-Za-z0-9_-], not empty)."""
    if not name or not set(name) <= _NAME_CHARS or name in (APP_ACCOUNT.lower(), "sys"):
        raise ConfigError(f"invalid identity name {name!r}: use letters, digits, '_' and '-' (not 'sys')")
    return name


@dataclass(frozen=True)
class IdentityInfo:
    """One issued identity, as ``rfos security list`` shows it."""

    name: str
    kind: str
    public_key: str
    revoked: bool
    creds: Path
    members: tuple[str, ...] = ()


def _hash(perms: Permissions, claims: dict[str, Any] | None = None) -> str:
    signed = {**perms.claims(), **claims} if claims else perms.claims()
    return hashlib.sha256(json.dumps(signed, sort_keys=True).encode()).hexdigest()[:32]


class IdentityStore:
    """The secrets directory of one deployment (see the module docstring)."""

    def __init__(self, secrets: str | Path) -> None:
        self.dir = Path(secrets)
        self._manifest: dict[str, Any] = {}
        self.operator: KeyPair | None = None
        self.account: KeyPair | None = None
        self.system: KeyPair | None = None
        self._account_dirty = False

    # -- trust chain ---------------------------------------------------------------
    def trust(self) -> tuple[KeyPair, KeyPair, KeyPair]:
        """The operator, application account and system account keys (after :meth:`open`)."""
        if self.operator is None or self.account is None or self.system is None:
            raise RuntimeError("IdentityStore: call open() first")
        return self.operator, self.account, self.system

    def _key(self, filename: str, role: Role) -> KeyPair:
        path = self.dir / filename
        if path.exists():
            return key_from_seed(path.read_text(encoding="ascii"))
        key = new_key(role)
        write_secret(path, key.seed + "\n")
        return key

    def open(self) -> IdentityStore:
        """Load (or create) the operator, the accounts, ``sys.creds`` and the manifest."""
        ensure_secrets_dir(self.dir)
        (self.dir / "jwt").mkdir(exist_ok=True, mode=0o700)
        self.operator = self._key("operator.nk", "operator")
        self.account = self._key(f"account-{APP_ACCOUNT}.nk", "account")
        self.system = self._key(f"account-{SYSTEM_ACCOUNT}.nk", "account")
        path = self.dir / _MANIFEST
        try:
            self._manifest = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"{path}: unreadable ({exc}); delete the secrets directory to start over"
            ) from None
        fresh = self._manifest.get("operator") != self.operator.public_key
        if fresh:
            self._manifest = {"operator": self.operator.public_key, "identities": {}, "revocations": {}}
        operator_jwt = self.dir / "operator.jwt"
        if fresh or not operator_jwt.exists():
            token = encode_jwt(
                "operator",
                self.operator.public_key,
                {"system_account": self.system.public_key},
                self.operator,
                name="RobotFleetOS",
            )
            write_secret(operator_jwt, token + "\n")
        system_jwt = self.account_jwt_path(self.system.public_key)
        if fresh or not system_jwt.exists():
            token = encode_jwt(
                "account", self.system.public_key, {"limits": _NO_LIMITS}, self.operator, name=SYSTEM_ACCOUNT
            )
            write_secret(system_jwt, token)
        sys_creds = self.dir / "sys.creds"
        if fresh or not sys_creds.exists():
            user = new_key("user")
            token = encode_jwt("user", user.public_key, dict(_USER_LIMITS), self.system, name="sys")
            write_secret(sys_creds, format_creds(token, user.seed))
        self._account_dirty = fresh or not self.account_jwt_path(self.account.public_key).exists()
        return self

    def account_jwt_path(self, public_key: str) -> Path:
        """Where the full resolver keeps the JWT of account ``public_key``."""
        return self.dir / "jwt" / f"{public_key}.jwt"

    @property
    def identities(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = self._manifest.setdefault("identities", {})
        return out

    @property
    def revocations(self) -> dict[str, int]:
        out: dict[str, int] = self._manifest.setdefault("revocations", {})
        return out

    # -- users ---------------------------------------------------------------------
    def creds_path(self, name: str) -> Path:
        """``<secrets>/<name>.creds``."""
        return self.dir / f"{name}.creds"

    def _revoke_key(self, public_key: str) -> None:
        if public_key:
            # A JWT is revoked when issued at or before this time; a key never comes back.
            self.revocations[public_key] = int(time.time()) + 1
            self._account_dirty = True

    def issue(
        self,
        name: str,
        kind: str,
        perms: Permissions,
        *,
        extra: dict[str, Any] | None = None,
        rekey: bool = False,
        claims: dict[str, Any] | None = None,
    ) -> bool:
        """Write ``<name>.creds`` unless an identical one exists; True when written.

        A changed permission set (or ``rekey``) gets a new key and revokes the old one.
        ``claims`` are more fields of the JWT's ``nats`` object (:data:`MQTT_CLAIMS`).
        """
        _, account, _ = self.trust()
        entry = self.identities.get(name, {})
        digest = _hash(perms, claims)
        path = self.creds_path(name)
        same = entry.get("hash") == digest and entry.get("kind") == kind and not entry.get("revoked")
        if same and not rekey and path.exists():
            entry.update(extra or {})
            return False
        seed = read_seed(path) if (same and not rekey) else None
        if seed is not None and key_from_seed(seed).public_key != entry.get("key"):
            seed = None
        if seed is None:
            self._revoke_key(str(entry.get("key", "")))
            user = new_key("user")
        else:
            user = key_from_seed(seed)
        nats = {**perms.claims(), **_USER_LIMITS, **(claims or {})}
        # ``vda5050/<robot>`` (a file in a subdirectory) is named ``vda5050-<robot>`` in its JWT
        token = encode_jwt("user", user.public_key, nats, account, name=name.replace("/", "-"))
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_secret(path, format_creds(token, user.seed))
        self.identities[name] = {"kind": kind, "key": user.public_key, "hash": digest, **(extra or {})}
        return True

    def forget(self, name: str) -> None:
        """Remove identity ``name``: revoke its key and delete its creds file."""
        entry = self.identities.pop(name, None)
        if entry is not None:
            self._revoke_key(str(entry.get("key", "")))
            self.creds_path(name).unlink(missing_ok=True)

    def revoked_names(self) -> set[str]:
        """Names of the identities currently revoked."""
        return {name for name, entry in self.identities.items() if entry.get("revoked")}

    def mark_revoked(self, name: str) -> None:
        """Revoke ``name``'s key and remember it as revoked (``reissue`` brings it back)."""
        entry = self.identities.get(name)
        if entry is None:
            raise ConfigError(f"no identity named {name!r} in {self.dir} (see `rfos security list`)")
        if not entry.get("revoked"):
            self._revoke_key(str(entry.get("key", "")))
            entry["revoked"] = True
            entry["hash"] = ""

    def unmark_revoked(self, name: str) -> None:
        """Forget that ``name`` is revoked (the next issue gives it a new key)."""
        entry = self.identities.get(name)
        if entry is None:
            raise ConfigError(f"no identity named {name!r} in {self.dir} (see `rfos security list`)")
        entry["revoked"] = False
        entry["hash"] = ""

    # -- the account -----------------------------------------------------------------
    def account_jwt(self) -> str:
        """The application account's JWT (JetStream unlimited, the revocations)."""
        operator, account, _ = self.trust()
        nats: dict[str, Any] = {"limits": {**_NO_LIMITS, **_JETSTREAM_UNLIMITED}}
        if self.revocations:
            nats["revocations"] = dict(sorted(self.revocations.items()))
        return encode_jwt("account", account.public_key, nats, operator, name=APP_ACCOUNT)

    def save(self) -> bool:
        """Write the manifest and, when it changed, the account JWT; True if the account changed."""
        _, account, _ = self.trust()
        changed = self._account_dirty
        if changed:
            write_secret(self.account_jwt_path(account.public_key), self.account_jwt())
            self._account_dirty = False
        write_secret(self.dir / _MANIFEST, json.dumps(self._manifest, indent=1, sort_keys=True) + "\n")
        return changed

    def current_account_jwt(self) -> str:
        """The account JWT as written in the resolver directory."""
        _, account, _ = self.trust()
        return self.account_jwt_path(account.public_key).read_text(encoding="ascii").strip()

    def entries(self) -> list[IdentityInfo]:
        """Every issued identity, sorted by kind then name."""
        order = {kind: i for i, kind in enumerate(_TIERS)}
        rows = [
            IdentityInfo(
                name=name,
                kind=str(entry.get("kind", "")),
                public_key=str(entry.get("key", "")),
                revoked=bool(entry.get("revoked")),
                creds=self.creds_path(name),
                members=tuple(entry.get("members", ())),
            )
            for name, entry in self.identities.items()
        ]
        return sorted(rows, key=lambda r: (order.get(r.kind, len(order)), _natural(r.name)))

    # -- the whole deployment --------------------------------------------------------
    def sync(self, topology: Topology, *, containers: int = 4, zone_containers: int = 0) -> int:
        """Issue every identity of ``topology`` (keeping unchanged ones), forget identities
        of robots, zones and areas no longer there and containers of an earlier split.
        Returns how many creds files were written."""
        tables = PermissionTables(topology)
        self._manifest["subjects"] = {"root": topology.root, "domain": topology.domain}
        revoked = self.revoked_names()
        wanted: dict[str, tuple[str, Permissions, dict[str, Any]]] = {}
        for robot in topology.robots:
            wanted[robot] = ("robot", tables.robot(robot), {})
        for zone in topology.zones:
            wanted[zone] = ("zone", tables.zone(zone), {})
        for zone in topology.site_zones:
            wanted[f"site-{zone}"] = ("site", tables.site_link(zone), {})
        for area in topology.area_zones:
            wanted[area] = ("area", tables.area(area), {})
        wanted["fleet"] = ("fleet", tables.fleet(), {})
        wanted["operator"] = ("operator", tables.operator(), {})
        wanted["viewer"] = ("viewer", tables.viewer(), {})
        robots, zones = topology.robots, topology.zones
        for kind, ids, count in (("robots", robots, containers), ("zones", zones, zone_containers)):
            chunks = split_chunks(1, len(ids), count) if count > 0 else []
            for part, (first, last) in enumerate(chunks, start=1):
                name = container_name(kind, first, last)
                members = [m for m in ids[first - 1 : last] if m not in revoked]
                # the container node launch/fleet_1000.launch.yaml starts for this part
                perms = (
                    tables.robots_container(name, members, node=f"/edges/edges_{part}")
                    if kind == "robots"
                    else tables.zones_container(name, members, node=f"/zones/zones_{part}")
                )
                wanted[name] = (kind, perms, {"members": members})
        claims: dict[str, dict[str, Any]] = {}
        for vehicle in topology.vehicles:
            robot = vehicle.robot_id
            wanted[robot] = ("robot", tables.robot(robot), {})  # its edge (edges:=process)
            for name, kind, perms in (
                (f"{VEHICLE_CREDS_DIR}/{robot}", "vehicle", tables.vehicle(robot)),
                (f"{VEHICLE_CREDS_DIR}/{robot}-master", "vehicle-master", tables.vehicle_master(robot)),
            ):
                wanted[name] = (kind, perms, {})
                claims[name] = MQTT_CLAIMS
        # the vehicles' edges composed as the robots' are: vehicles.csv in `containers` parts
        vehicle_ids = [v.robot_id for v in topology.vehicles]
        chunks = split_chunks(1, len(vehicle_ids), containers) if containers > 0 else []
        for part, (first, last) in enumerate(chunks, start=1):
            name = container_name("vehicles", first, last)
            members = [m for m in vehicle_ids[first - 1 : last] if m not in revoked]
            perms = tables.robots_container(name, members, node=f"/edges/vehicles_{part}")
            wanted[name] = ("vehicles", perms, {"members": members})
        for name, entry in list(self.identities.items()):
            if entry.get("kind") == "node":
                node = entry.get("node", {})
                wanted[name] = ("node", tables.user_node(name, **node), {"node": node})
            elif name not in wanted:
                self.forget(name)
        written = 0
        for name, (kind, perms, extra) in wanted.items():
            if name in revoked:
                continue
            written += self.issue(name, kind, perms, extra=extra, claims=claims.get(name))
        return written

    def add_node(
        self,
        topology: Topology,
        name: str,
        *,
        publish: Sequence[str] = (),
        subscribe: Sequence[str] = (),
        serve: Sequence[str] = (),
        call: Sequence[str] = (),
    ) -> Path:
        """Issue (or update) the identity of a user's node; its ``.creds`` path."""
        check_name(name)
        existing = self.identities.get(name)
        if existing is not None and existing.get("kind") != "node":
            raise ConfigError(
                f"{name!r} is already a {existing.get('kind')} identity: choose another node name"
            )
        node = {
            "publish": list(publish),
            "subscribe": list(subscribe),
            "serve": list(serve),
            "call": list(call),
        }
        perms = PermissionTables(topology).user_node(name, **node)  # validates the names
        self.issue(name, "node", perms, extra={"node": node})
        return self.creds_path(name)

    def subjects(self) -> tuple[str, str]:
        """The subject root and domain the permissions were made for (``rfos``, ``0``)."""
        subjects = self._manifest.get("subjects") or {}
        return str(subjects.get("root", "rfos")), str(subjects.get("domain", "0"))

    def public_keys(self, names: Iterable[str]) -> list[str]:
        """The current public keys of ``names``."""
        return [str(self.identities[n]["key"]) for n in names if n in self.identities]


def _natural(name: str) -> tuple[str, int, str]:
    stem, _, number = name.rpartition("-")
    return (stem, int(number), "") if number.isdigit() else (name, 0, "")


def check_account_jwt(token: str, operator_key: str) -> dict[str, Any]:
    """Decode an account JWT and check the operator signed it."""
    claims = decode_jwt(token, kind="account")
    if claims.get("iss") != operator_key:
        raise ConfigError("the account JWT is not signed by this deployment's operator")
    return claims
