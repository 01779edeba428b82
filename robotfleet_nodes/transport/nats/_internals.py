"""Every private nats-py name the fast client relies on, checked once at import.

nats-py has no public API for a pre-encoded publish, a synchronous publish, inline
dispatch or a header-parse cache, so :class:`~._fastclient.FastRfosClient` goes below it.
This module is the one list of what it touches (tested with the nats-py minor pinned in
``setup.py``): each name with the kind it must have. :func:`check` compares the installed
nats-py against the list; :data:`FAST_PATH` is true only when nothing is missing or
changed, and :data:`PROBLEMS` names each mismatch. Without the fast path the transport
uses :class:`~._client.RfosClient`, which stays on nats-py's public API.

Adding a private access to the fast client means adding its name here (a test checks
that every ``self._...`` the fast client reads from nats-py is listed).
"""

from __future__ import annotations

import asyncio
import inspect
import types
from dataclasses import dataclass
from typing import Any

from nats.aio import client as _nats_client
from nats.aio import subscription as _nats_subscription
from nats.aio import transport as _nats_transport
from nats.nuid import NUID
from nats.protocol.parser import Parser

__all__ = [
    "CLIENT_NAMES",
    "FAST_PATH",
    "PARSER_NAMES",
    "PROBLEMS",
    "SUBSCRIPTION_NAMES",
    "TRANSPORT_NAMES",
    "Internal",
    "check",
]

#: What a name must be.
COROUTINE = "coroutine method"
METHOD = "method"
CONSTANT = "int constant"
ATTRIBUTE = "instance attribute"


@dataclass(frozen=True)
class Internal:
    """One private (or undocumented) nats-py name and what the fast client expects of it.

    ``params`` are the leading parameter names after ``self`` (for methods the fast client
    calls or overrides); ``types`` the types an instance attribute may have on a fresh,
    unconnected object (``None`` included when nats-py sets it only on connect).
    """

    name: str
    kind: str
    why: str
    params: tuple[str, ...] = ()
    types: tuple[type, ...] = ()


#: Names on ``nats.aio.client.Client`` (class) and its instances.
CLIENT_NAMES: tuple[Internal, ...] = (
    Internal("CONNECTED", CONSTANT, "connection state compared on every publish"),
    Internal("CLOSED", CONSTANT, "publishing on a closed connection raises"),
    Internal("DRAINING_SUBS", CONSTANT, "publishing while subscriptions drain is allowed"),
    Internal("DRAINING_PUBS", CONSTANT, "publishing while publishers drain raises"),
    Internal("_send_command", COROUTINE, "queues a command; flushes when over the limit", ("cmd",)),
    Internal("_flush_pending", COROUTINE, "kicks the flusher task", ("force_flush",)),
    Internal(
        "_process_msg",
        COROUTINE,
        "overridden: inline dispatch",
        ("sid", "subject", "reply", "data", "headers"),
    ),
    Internal("_process_headers", COROUTINE, "overridden: header-parse cache", ("headers",)),
    Internal("_remove_sub", METHOD, "overridden: forgets inline handlers", ("sid", "max_msgs")),
    Internal("_init_request_sub", COROUTINE, "creates the shared reply inbox subscription"),
    Internal("_process_err", COROUTINE, "overridden: revoked credentials reconnect", ("err_msg",)),
    Internal("_process_op_err", COROUTINE, "nats-py's reconnect on a lost connection", ("e",)),
    Internal("_error_cb", ATTRIBUTE, "the error callback", types=(types.FunctionType,)),
    Internal("_err", ATTRIBUTE, "the last error (last_error)", types=(type(None),)),
    Internal("_status", ATTRIBUTE, "connection state", types=(int,)),
    Internal("_pending", ATTRIBUTE, "commands not yet written", types=(list,)),
    Internal("_pending_data_size", ATTRIBUTE, "bytes in _pending", types=(int,)),
    Internal("_max_pending_size", ATTRIBUTE, "reconnect buffer / flush threshold", types=(int,)),
    Internal("_max_payload", ATTRIBUTE, "server's max payload", types=(int,)),
    Internal("_flush_queue", ATTRIBUTE, "the flusher task's wake-up queue", types=(type(None),)),
    Internal("_transport", ATTRIBUTE, "the socket written to when the buffer is full", types=(type(None),)),
    Internal("_resp_map", ATTRIBUTE, "reply token -> future of requests", types=(dict,)),
    Internal("_resp_sub_prefix", ATTRIBUTE, "the shared reply inbox prefix", types=(type(None), bytearray)),
    Internal("_nuid", ATTRIBUTE, "unique reply tokens", types=(NUID,)),
    Internal("_ps", ATTRIBUTE, "the protocol parser (read progress)", types=(Parser,)),
)

#: Names on ``nats.protocol.parser.Parser`` instances (``Client._ps``).
PARSER_NAMES: tuple[Internal, ...] = (
    Internal("buf", ATTRIBUTE, "bytes read but not yet parsed (read progress)", types=(bytearray,)),
)

#: Names on ``nats.aio.subscription.Subscription`` instances (inline subscriptions).
SUBSCRIPTION_NAMES: tuple[Internal, ...] = (
    Internal("_id", ATTRIBUTE, "the subscription id (sid) messages arrive with", types=(int,)),
    Internal("_pending_queue", ATTRIBUTE, "replaced: inline messages never queue", types=(asyncio.Queue,)),
    Internal("_message_iterator", ATTRIBUTE, "dropped: never iterated", types=(type(None),)),
)


#: Methods of nats-py's socket wrapper (``Client._transport``).
TRANSPORT_NAMES: tuple[Internal, ...] = (
    Internal("writelines", METHOD, "writes a full buffer out from synchronous code", ("payload",)),
)


def _params(func: Any) -> tuple[str, ...]:
    return tuple(inspect.signature(func).parameters)[1:]


def _check_one(owner: type, instance: Any, internal: Internal) -> str | None:
    where = f"{owner.__module__}.{owner.__qualname__}.{internal.name}"
    if internal.kind == ATTRIBUTE:
        if not hasattr(instance, internal.name):
            return f"{where} is missing (expected an {internal.kind}: {internal.why})"
        value = getattr(instance, internal.name)
        if internal.types and not isinstance(value, internal.types):
            names = " or ".join(t.__name__ for t in internal.types)
            return f"{where} is a {type(value).__name__}, expected {names} ({internal.why})"
        return None
    value = getattr(owner, internal.name, None)
    if value is None:
        return f"{where} is missing (expected a {internal.kind}: {internal.why})"
    if internal.kind == CONSTANT:
        return None if type(value) is int else f"{where} is not an int ({internal.why})"
    if not callable(value) or inspect.iscoroutinefunction(value) != (internal.kind == COROUTINE):
        return f"{where} is not a {internal.kind} ({internal.why})"
    got = _params(value)
    if got[: len(internal.params)] != internal.params:
        expected = ", ".join(internal.params)
        return f"{where} takes ({', '.join(got)}), expected ({expected}, ...) ({internal.why})"
    return None


def check(
    client_cls: type = _nats_client.Client,
    subscription_cls: type = _nats_subscription.Subscription,
    transport_cls: type = _nats_transport.Transport,
) -> list[str]:
    """One line per listed name that is missing or not of its expected kind (empty: all good).

    Creates one unconnected client and subscription to see their instance attributes.
    """
    problems: list[str] = []
    try:
        client: Any = client_cls()
        subscription: Any = subscription_cls(client)
    except Exception as exc:  # a constructor that changed shape is a mismatch too
        return [f"cannot create an unconnected {client_cls.__name__} / {subscription_cls.__name__}: {exc!r}"]
    for internal in CLIENT_NAMES:
        problem = _check_one(client_cls, client, internal)
        if problem is not None:
            problems.append(problem)
    for internal in SUBSCRIPTION_NAMES:
        problem = _check_one(subscription_cls, subscription, internal)
        if problem is not None:
            problems.append(problem)
    for internal in PARSER_NAMES:
        problem = _check_one(Parser, getattr(client, "_ps", None), internal)
        if problem is not None:
            problems.append(problem)
    for internal in TRANSPORT_NAMES:
        problem = _check_one(transport_cls, None, internal)
        if problem is not None:
            problems.append(problem)
    return problems


#: Why the fast path is off (empty when every name checks out).
PROBLEMS: tuple[str, ...] = tuple(check())
#: True when the installed nats-py has every internal the fast client uses.
FAST_PATH: bool = not PROBLEMS
