"""What the NATS server refused this connection: its credentials, or a subject.

With NATS accounts, each identity may publish and subscribe only on its permitted subjects.
A refusal never closes the connection (nats-py's handling, kept by both clients) and never
raises to the publisher: the server answers with an asynchronous ``-ERR 'Permissions
Violation for Publish to "<subject>"'``. :class:`Refusals` counts them and logs each
subject at most once per period, so a node publishing where it may not keeps working and
its log says where. A refusal of the credentials themselves (revoked, expired, unknown)
comes while the client keeps reconnecting; it is logged at most once per period with what
to do.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from robotfleet_nodes.transport._ratelimit import RateLimitedLog

__all__ = ["Refusals", "is_permission_violation"]

_PERMISSIONS = "permissions violation"
_SUBJECT = re.compile(r'permissions violation for (\w+) (?:to|on) "?([^"\s]+)"?', re.IGNORECASE)
_MAX_SUBJECTS = 256


def is_permission_violation(exc: BaseException) -> bool:
    """Whether ``exc`` (as nats-py reports it) is the server refusing a subject."""
    return _PERMISSIONS in str(exc).lower()


class Refusals:
    """Counts and logs (rate-limited) what the server refused a connection."""

    def __init__(self, logger: logging.Logger, period: float = 10.0) -> None:
        self._logger = logger
        self._period = period
        self._credentials = RateLimitedLog(logger, period)
        self._subjects: dict[str, RateLimitedLog] = {}
        self._other = RateLimitedLog(logger, period)
        self.permission_violations = 0
        """Publishes and subscriptions refused since the connection was made."""
        self.credential_refusals = 0
        """Times the server refused or dropped this connection because of its credentials."""

    def permission(self, exc: BaseException, identity: str | None) -> None:
        """The server refused a publish or subscription (``exc`` names the subject)."""
        self.permission_violations += 1
        text = str(exc).removeprefix("nats: ")
        match = _SUBJECT.search(text)
        operation, subject = (match.group(1), match.group(2)) if match else ("operation", "?")
        limiter = self._subjects.get(subject)
        if limiter is None:
            limiter = (
                self._other
                if len(self._subjects) >= _MAX_SUBJECTS
                else RateLimitedLog(self._logger, self._period)
            )
            if len(self._subjects) < _MAX_SUBJECTS:
                self._subjects[subject] = limiter
        limiter.log(
            logging.WARNING,
            "NATS refused a %s on %s: identity %s has no permission for it; the node keeps "
            "running (%d refused on this connection so far)",
            operation.lower(),
            subject,
            identity or "(none)",
            self.permission_violations,
        )

    def credentials(self, path: Path | None, identity: str | None) -> None:
        """The server refused (or dropped) the connection because of its credentials."""
        self.credential_refusals += 1
        if path is None:
            self._credentials.log(
                logging.ERROR,
                "NATS refused the connection: it requires credentials; set messaging.credentials "
                "or MESSAGING_CREDS (still retrying)",
            )
            return
        self._credentials.log(
            logging.ERROR,
            "NATS refused our credentials (%s): revoked or unknown; re-issue with "
            "`rfos security reissue %s` (still retrying: the re-issued file is read on the next attempt)",
            path,
            identity or "<name>",
        )
