"""``rfos security``: NATS identities of a deployment, revocation, API tokens.

Every action works on a deployment directory (``--out``, as written by ``rfos fleet
gen-config``): its ``secrets/`` holds the identities, ``robots.csv`` and the area files
give the topology.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from robotfleet_nodes.cli._common import AsyncVerb
from robotfleet_nodes.cli._verb import expose_verb

__all__ = ["SecurityVerb"]

_DEFAULT_OUT = "deploy/1000"
_URL_ENV = "MESSAGING_URL"
_CA_ENV = "MESSAGING_TLS_CA"


def _tokens() -> Any:
    from robotfleet_nodes.security import tokens

    return tokens


def _topology(out: Path) -> Any:
    from robotfleet_nodes.security.topology import Topology, root_and_domain_from_env

    root, domain = root_and_domain_from_env()
    return Topology.from_deployment(out, root=root, domain=domain)


@expose_verb("security")
class SecurityVerb(AsyncVerb):
    help = "NATS identities, revocation and API tokens of a deployment"
    epilog = """examples:
  rfos security init --out deploy/1000                 # identities for robots.csv + area files
  rfos security list --out deploy/1000
  rfos security add-node camera --publish /camera/image --subscribe /robots/robot-1/status
  rfos security revoke robot-7 --url tls://localhost:4222   # closes robot-7's connection now
  rfos security reissue robot-7 --url tls://localhost:4222  # new credentials in secrets/robot-7.creds
  rfos security token create alice --role operator     # prints the token once
  rfos security token list
  rfos security token revoke alice
"""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

        def add(name: str, help_text: str) -> argparse.ArgumentParser:
            p = sub.add_parser(name, help=help_text, description=help_text)
            p.add_argument("--out", default=_DEFAULT_OUT, help="deployment directory (default %(default)s)")
            return p

        init = add("init", "write secrets/ for the deployment's topology (keeps existing identities)")
        init.add_argument("--containers", type=int, default=4, metavar="N", help="edge container identities")
        init.add_argument(
            "--zone-containers", type=int, default=0, metavar="M", help="zone container identities"
        )
        init.add_argument("--host", action="append", default=[], metavar="NAME", help="extra TLS server name")
        init.add_argument("--mutual-tls", action="store_true", help="also a client certificate")
        node = add("add-node", "issue the identity of a user's node (its topics and services)")
        node.add_argument("name", help="identity and node name ([A-Za-z0-9_-])")
        node.add_argument("--publish", nargs="+", default=[], metavar="TOPIC", help="topics it publishes")
        node.add_argument(
            "--subscribe", nargs="+", default=[], metavar="TOPIC", help="topics it subscribes to"
        )
        node.add_argument("--serve", nargs="+", default=[], metavar="SERVICE", help="services it offers")
        node.add_argument("--call", nargs="+", default=[], metavar="SERVICE", help="services it calls")
        for name, text in (
            ("revoke", "revoke an identity: its key and the containers holding it are re-keyed"),
            ("reissue", "give an identity new credentials (undoes a revocation)"),
        ):
            p = add(name, text)
            p.add_argument("name", help="identity name, e.g. robot-7")
            p.add_argument("--url", default=None, help=f"running server to update (default ${_URL_ENV})")
            p.add_argument(
                "--ca", default=None, help=f"CA of the server (default ${_CA_ENV} or secrets/ca.pem)"
            )
        add("list", "list the identities (name, kind, public key, revoked)")
        token = add("token", "API tokens of the fleet's HTTP API (secrets/api-tokens.json)")
        token_sub = token.add_subparsers(dest="token_action", metavar="TOKEN_ACTION", required=True)
        create = token_sub.add_parser("create", help="create a token and print it (shown once)")
        create.add_argument("name")
        create.add_argument("--role", default="viewer", choices=("viewer", "operator", "admin"))
        listing = token_sub.add_parser("list", help="list tokens (never the tokens themselves)")
        revoke = token_sub.add_parser("revoke", help="revoke a token")
        revoke.add_argument("name")
        for p in (create, listing, revoke):
            p.add_argument("--out", default=argparse.SUPPRESS, help="deployment directory")

    async def arun(self, args: argparse.Namespace) -> int:
        out = Path(args.out)
        action = args.action
        if action == "init":
            from robotfleet_nodes.security.deployment import write_secrets

            summary = write_secrets(
                out,
                _topology(out),
                containers=args.containers,
                zone_containers=args.zone_containers,
                hosts=args.host,
                mutual_tls=args.mutual_tls,
            )
            print(f"{summary.identities} identities in {summary.secrets} ({summary.written} written)")
            print(f"server configuration: {summary.server_config}")
            return 0
        if action == "add-node":
            from robotfleet_nodes.security.deployment import refresh_server_config
            from robotfleet_nodes.security.identities import IdentityStore

            store = IdentityStore(out / "secrets").open()
            path = store.add_node(
                _topology(out),
                args.name,
                publish=args.publish,
                subscribe=args.subscribe,
                serve=args.serve,
                call=args.call,
            )
            store.save()
            refresh_server_config(store)
            print(f"{path}  (use: MESSAGING_CREDS={path})")
            return 0
        if action in ("revoke", "reissue"):
            from robotfleet_nodes.security import revocation

            url = args.url or os.environ.get(_URL_ENV)
            ca = args.ca or os.environ.get(_CA_ENV)
            run = revocation.revoke if action == "revoke" else revocation.reissue
            result = await run(out, args.name, url=url, ca=ca)
            done = "revoked" if action == "revoke" else "re-issued"
            print(
                f"{args.name} {done}"
                + (f"; new credentials for {', '.join(result.reissued)}" if result.reissued else "")
            )
            if result.pushed:
                print(f"the server at {url} has the new account JWT")
            else:
                print(
                    f"no server updated (no --url / ${_URL_ENV}): a server started from"
                    f" {out / 'secrets' / 'nats-server.conf'} uses it",
                    file=sys.stderr,
                )
            return 0
        if action == "list":
            from robotfleet_nodes.security.identities import IdentityStore

            store = IdentityStore(out / "secrets").open()
            for row in store.entries():
                members = f"  ({len(row.members)} members)" if row.members else ""
                state = "REVOKED" if row.revoked else "active"
                print(f"{row.name:<24} {row.kind:<9} {state:<8} {row.public_key}{members}")
            return 0
        tokens = _tokens()
        tokens_file = out / "secrets" / "api-tokens.json"
        if args.token_action == "create":
            print(tokens.create_token(tokens_file, args.name, args.role))
        elif args.token_action == "list":
            for info in tokens.list_tokens(tokens_file):
                state = f"revoked {info.revoked}" if info.revoked else "active"
                print(f"{info.name:<24} {info.role:<9} created {info.created}  {state}")
        else:
            tokens.revoke_token(tokens_file, args.name)
            print(f"token {args.name} revoked")
        return 0
