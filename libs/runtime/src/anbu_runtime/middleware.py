"""ASGI middleware every service gets from :meth:`ServiceRuntime.build_app`.

All are plain ASGI (not ``BaseHTTPMiddleware``) so they see the request before anything
reads its body, and never buffer a body or a response themselves. (The decorator form
``@app.middleware("http")`` measured requests at first: it runs every request through
a task and memory streams, and was the notifier's largest cost at a few hundred
receipts a second — docs/performance.md.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logs import get_logger
from .metrics import HTTP_REQUESTS, HTTP_SECONDS
from .problems import PROBLEM_BASE, PROBLEM_JSON

log = get_logger(__name__)

# Answers that carry no personal data and that caches may keep.
CACHEABLE_PREFIXES = ("/metrics", "/healthz", "/readyz", "/static/")
# A refused body up to this size is still read (and discarded) by the server, so the client,
# which is usually still sending it, reliably reads the 413: closing on unread data resets
# the connection and can destroy the answer. Beyond it the connection is closed at once.
DRAIN_MAX_BYTES = 32 * 1024 * 1024


def _matches(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


class Measure:
    """Counts and times every HTTP answer by route template and status (``/metrics``)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes the app is answered 500 outside it

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # the router writes the matched route into this same scope
            path = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(self.service, path, str(status)).inc()
            HTTP_SECONDS.labels(self.service, path).observe(time.perf_counter() - started)


class BodyLimit:
    """Refuse request bodies larger than a limit with 413 problem+json, before any parsing.

    A declared ``Content-Length`` over the limit is answered at once (the application never
    runs); a body without one (chunked) is counted as it streams, and the first chunk past
    the limit ends it: the 413 is sent and the application sees a client disconnect. The
    server discards what the client still sends (up to ``DRAIN_MAX_BYTES`` declared).
    ``limits`` maps path prefixes to their own limit (upload routes); ``None`` means the
    route enforces its own.
    """

    def __init__(
        self, app: ASGIApp, *, default: int, limits: Mapping[str, int | None] | None = None
    ) -> None:
        self.app = app
        self.default = default
        # Longest prefix first, so "/v1/files/big" can differ from "/v1/files".
        self.limits = sorted((limits or {}).items(), key=lambda kv: len(kv[0]), reverse=True)

    def limit_for(self, path: str) -> int | None:
        for prefix, limit in self.limits:
            if _matches(path, prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, limit, close=declared > DRAIN_MAX_BYTES)
            return

        received = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _refuse(scope, send, limit)
                    # To the application the client went away: it stops reading and its
                    # own answer, if any, is dropped below.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The application failed on the body cut short (ClientDisconnect and the like);
            # the 413 already answered the request.
            log.debug("application stopped after its body was cut short", path=scope["path"])


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed one before we run
    return None


async def _refuse(scope: Scope, send: Send, limit: int, *, close: bool = False) -> None:
    log.info("request body over limit", path=scope["path"], limit_bytes=limit)
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + "too-large",
        "title": "Content too large",
        "status": 413,
        "instance": scope["path"],
        "detail": f"the body is larger than {limit} bytes",
        "limit_bytes": limit,
    }
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(payload)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class NoStore:
    """``Cache-Control: no-store`` on every answer that does not set its own.

    API answers carry personal data (names, addresses, case notes); no browser or proxy
    cache may keep them. Operational endpoints and static assets are left cacheable.
    """

    def __init__(self, app: ASGIApp, *, cacheable: tuple[str, ...] = CACHEABLE_PREFIXES) -> None:
        self.app = app
        self.cacheable = cacheable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(_matches(scope["path"], p) for p in self.cacheable):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)
