"""ASGI middleware that puts limits on every request before any route sees it.

- RequestContext: accepts a sane X-Request-ID or makes one, returns it on the response,
  and works out the client's address (X-Forwarded-For is believed only from the configured
  trusted proxies).
- BodyLimit: refuses a body larger than NEXUM_API_MAX_REQUEST_SIZE with 413, from its
  Content-Length before reading anything, or as soon as the bytes read pass the limit.
- Deadline: a request still running after NEXUM_API_TIMEOUT seconds is cancelled and
  answered 503; its database transaction, not having committed, rolls back.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import uuid
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core_banking.api.problems import MEDIA_TYPE, PROBLEM_TYPE_BASE
from core_banking.observability.metrics import ERRORS

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


async def send_problem(
    send: Send, scope: Scope, status: int, code: str, detail: str, title: str
) -> None:
    ERRORS.labels(type=code).inc()
    body = json.dumps(
        {
            "type": PROBLEM_TYPE_BASE + code,
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
            "instance": scope.get("path"),
            "request_id": scope.get("state", {}).get("request_id"),
        }
    ).encode()
    headers = [  # X-Request-ID is added by RequestContext, outside every other layer
        (b"content-type", MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def client_address(scope: Scope, trusted: Sequence[IpNetwork]) -> str | None:
    """The connection's address, or — when that is a trusted proxy — the last address in
    X-Forwarded-For that is not itself a trusted proxy."""
    peer: str | None = (scope.get("client") or (None,))[0]
    if peer is None or not _is_trusted(peer, trusted):
        return peer
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
    ]
    hops = [hop.strip() for header in forwarded for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop if _is_address(hop) else peer
    return peer


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, trusted: Sequence[IpNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


class RequestContext:
    def __init__(self, app: ASGIApp, trusted_proxies: Sequence[str]) -> None:
        self.app = app
        self.trusted = [ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", ())).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_address"] = client_address(scope, self.trusted)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimit:
    """Refuse a body over ``max_bytes`` with 413 before the application reads it. A declared
    Content-Length is judged at once (the server holds the client to it); a body streamed
    without one is read up to the limit first, and handed on only if it stays within it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._refuse(scope, send)
                return
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        received = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                await self._refuse(scope, send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(buffered)

        async def replaying_receive() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replaying_receive, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await send_problem(
            send,
            scope,
            413,
            "request_too_large",
            f"the request body is larger than {self.max_bytes} bytes",
            "Request too large",
        )


class Deadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            async with asyncio.timeout(self.seconds) as deadline:
                await self.app(scope, receive, watching_send)
        except TimeoutError:
            if not deadline.expired():
                raise  # a timeout of something inside, not of this request
            if not started:
                await send_problem(
                    send,
                    scope,
                    503,
                    "request_timeout",
                    f"the request took longer than {self.seconds:g} s and was stopped",
                    "Service unavailable",
                )
