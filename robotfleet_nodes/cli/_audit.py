"""``rfos audit``: read the fleet's audit trail (the ``RFOS_<root>_<domain>_AUDIT`` stream).

Prints the most recent records (``--limit``), oldest first, one line each, or JSON lines
(``--json``); ``--follow`` then waits for new ones. Reads the stream over NATS with the
CLI's connection (``--url`` / ``MESSAGING_URL``, and its credentials: ``operator`` may
read it, ``viewer`` may not).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import sys
from typing import Any

from nats import errors as nats_errors
from nats.js.errors import NotFoundError

from robotfleet_nodes.cli._common import EXIT_OK, AsyncVerb, CliError, add_common, connect
from robotfleet_nodes.cli._verb import expose_verb
from robotfleet_nodes.fleet import AUDIT_ACTIONS as ACTIONS
from robotfleet_nodes.fleet import audit_stream, follow_audit, read_audit

#: Records per read (the stream's own page limit).
PAGE = 1000

__all__ = ["AuditVerb", "format_record"]


def format_record(record: dict[str, Any]) -> str:
    """One human line: ``seq at actor(role) action target -> outcome [from source] error``."""
    who = record.get("actor", "?")
    if record.get("role"):
        who += f"({record['role']})"
    status = record.get("status")
    outcome = str(status) if status is not None else ("ok" if record.get("ok") else "refused")
    line = (
        f"{record.get('seq', '?'):>6}  {record.get('at', '?')}  {who:<20} {record.get('action', '?'):<12} "
        f"{record.get('target') or '-':<24} -> {outcome:<7} from {record.get('source') or '?'}"
    )
    if record.get("error"):
        line += f"  ({record['error']})"
    return line


def _since(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time, e.g. 2026-12-05T10:00:00Z"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


@expose_verb("audit")
class AuditVerb(AsyncVerb):
    help = "show the fleet's audit trail (who submitted, cancelled, created tokens)"
    epilog = f"""examples:
  rfos audit                          # the last 20 records
  rfos audit --limit 100 --actor ops  # what the token named ops did
  rfos audit --action cancel --since 2026-12-05T08:00:00Z
  rfos audit --follow --json          # then every new record, as JSON lines

actions: {", ".join(ACTIONS)}; actors: token names, "nats" (the fleet's NATS services),
"anonymous" (an open API), "file" (tokens or credentials changed with `rfos security`).
Reading needs an identity allowed to (operator: MESSAGING_CREDS=<deploy>/secrets/operator.creds)."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        add_common(parser, graph=False)
        parser.add_argument("--limit", type=int, default=20, help="most recent records to show (default 20)")
        parser.add_argument("--actor", help="only this actor (token name, nats, anonymous, file)")
        parser.add_argument("--action", choices=ACTIONS, help="only this action")
        parser.add_argument("--since", type=_since, help="only records at or after this ISO 8601 time")
        parser.add_argument("--follow", "-f", action="store_true", help="then wait for new records")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    async def arun(self, args: argparse.Namespace) -> int:
        if args.limit < 0:
            raise CliError("--limit must be 0 or more")
        async with connect(args) as transport:
            js = transport.jetstream()
            mapper = transport.mapper
            stream = audit_stream(mapper.root, mapper.domain)
            try:
                await js.stream_info(stream)
            except NotFoundError:
                raise CliError(
                    f"no audit stream {stream} on this broker: has a fleet run here "
                    "(with this RFOS_SUBJECT_ROOT / ROS_DOMAIN_ID)?"
                ) from None
            except (nats_errors.TimeoutError, TimeoutError):  # a refused request gets no answer
                raise CliError(
                    f"the broker did not answer about {stream}: this identity "
                    f"({transport.identity or 'none'}) may not read the audit trail; use the operator's "
                    "credentials (MESSAGING_CREDS=<deploy>/secrets/operator.creds)"
                ) from None
            last = collections.deque[dict[str, Any]](maxlen=args.limit or None)
            after = 0
            while True:  # page through, keeping the last --limit records
                page = await read_audit(
                    js, stream, mapper.prefix, after=after, limit=PAGE,
                    actor=args.actor, action=args.action, since=args.since,
                )  # fmt: skip
                last.extend(page.items)
                after = page.next_after
                if not page.more:
                    break
            if args.limit:
                for record in last:
                    self._print(record, args.json)
            if args.follow:
                async for record in follow_audit(
                    js, stream, mapper.prefix, after=after, actor=args.actor, action=args.action
                ):
                    self._print(record, args.json)
        return EXIT_OK

    @staticmethod
    def _print(record: dict[str, Any], as_json: bool) -> None:
        print(json.dumps(record) if as_json else format_record(record), file=sys.stdout, flush=True)
