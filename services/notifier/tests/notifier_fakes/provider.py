"""A local HTTP server that behaves like an SMS / alert-message (알림톡) gateway.

It speaks the provider protocol of docs/notifier.md: ``POST /v1/messages`` with a bearer
key and an ``Idempotency-Key``; 202 ``{"message_id"}``; a key it has seen is answered
with the same id and not sent again (a *replay*). It can be told to fail: scripted
responses (500, 429 with Retry-After, 400), slow answers that time the client out after
the message was accepted, an outage window, a random failure rate. It counts what a
handset would notice: *duplicates* are accepted messages whose recipient and text were
already accepted under another key, i.e. the same message sent twice.

Delivery receipts are signed (HMAC-SHA256 over ``"<ts>." + body``) and either posted to
``receipt_url`` (retried while the notifier is down, as real gateways do) or kept in
``pending_receipts`` for a test to post itself. ``POST /hooks/{name}`` plays a liaison
system receiving signed webhooks.

Run it on its own for benchmarks: ``python provider.py --port 19790 --failure-rate 0.01``;
``GET /_stats`` reports the counts and ``POST /_config`` changes behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import random
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from anbu_notifier.adapters.keepalive import KeepAliveTransport


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, "sha256").hexdigest()


@dataclass
class Fault:
    """One scripted answer: an HTTP status (with headers), or a slow accept."""

    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    code: str = "internal_error"
    slow_s: float = 0.0  # > 0: accept the message, then answer only after this long
    # set: accept the message, then answer only once the test sets it (or after 60 s)
    hold: threading.Event | None = None


@dataclass
class Accepted:
    message_id: str
    key: str
    to: str
    text: str
    kind: str
    template_code: str | None
    at: float


class ProviderState:
    """Everything the gateway saw; safe to read from the test's thread."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.messages: dict[str, Accepted] = {}
            self.calls: list[tuple[float, str, int]] = []  # (when, key, status answered)
            self.replays = 0
            self.duplicates = 0
            self.faults: deque[Fault] = deque()
            self.failure_rate = 0.0
            self.injected = 0
            self.down_until = 0.0
            self.invalid_numbers: set[str] = set()
            self.undeliverable: set[str] = set()  # receipts for these numbers say "failed"
            self.receipt_url: str | None = None
            # More receipt endpoints (several notifier instances behind no load balancer):
            # receipts go round-robin over receipt_url and these.
            self.more_receipt_urls: list[str] = []
            self._receipts_sent = 0
            self.receipt_secret = "receipt-secret"
            self.receipt_delay_s = 0.0
            # > 1: receipts waiting together go out as one signed JSON array to
            # {receipt_url}/batch, up to this many (as bulk delivery reports do).
            self.receipt_batch = 1
            self.pending_receipts: list[tuple[bytes, dict[str, str]]] = []
            self.receipts_posted = 0
            self.hooks: list[dict[str, Any]] = []
            self.hook_secrets: dict[str, str] = {}
            self._seen_texts: set[tuple[str, str]] = set()
            self._rng = random.Random(7)

    # -- what tests read -----------------------------------------------------------------

    def accepted(self) -> list[Accepted]:
        with self.lock:
            return list(self.messages.values())

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "accepted": len(self.messages),
                "calls": len(self.calls),
                "replays": self.replays,
                "duplicates": self.duplicates,
                "injected_failures": self.injected,
                "receipts_posted": self.receipts_posted,
            }

    # -- behaviour -------------------------------------------------------------------------

    def answer(self, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Decide the answer to one POST /v1/messages (under the lock)."""
        now = time.monotonic()
        with self.lock:
            if key in self.messages:
                self.replays += 1
                self.calls.append((now, key, 202))
                return (
                    202,
                    {"message_id": self.messages[key].message_id},
                    {"Idempotent-Replayed": "true"},
                )
            fault = self.faults.popleft() if self.faults else None
            if fault is None and now < self.down_until:
                fault = Fault(503, code="maintenance")
            if fault is None and self.failure_rate and self._rng.random() < self.failure_rate:
                self.injected += 1
                fault = Fault(500, code="injected")
            if fault is None and body.get("to") in self.invalid_numbers:
                fault = Fault(400, code="invalid_number")
            if fault is not None and not fault.slow_s and fault.hold is None:
                self.calls.append((now, key, fault.status))
                return fault.status, {"code": fault.code}, fault.headers
            message = Accepted(
                message_id=f"m-{len(self.messages) + 1:06d}",
                key=key,
                to=str(body.get("to")),
                text=str(body.get("text")),
                kind=str(body.get("type")),
                template_code=body.get("template_code"),
                at=now,
            )
            self.messages[key] = message
            if (message.to, message.text) in self._seen_texts:
                self.duplicates += 1
            self._seen_texts.add((message.to, message.text))
            self.calls.append((now, key, 202))
            extra = {"slow_s": fault.slow_s, "hold": fault.hold} if fault else {}
            return 202, {"message_id": message.message_id, **extra}, {}

    def receipt(self, message: Accepted) -> tuple[bytes, dict[str, str]]:
        failed = message.to in self.undeliverable
        body = json.dumps(
            {
                "message_id": message.message_id,
                "status": "failed" if failed else "delivered",
                "reason": "handset unreachable" if failed else None,
            }
        ).encode()
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Anbu-Timestamp": str(ts),
            "X-Anbu-Signature": signature(self.receipt_secret, ts, body),
        }
        return body, headers


RECEIPT_POSTERS = 32  # receipts go out over this many kept-alive connections, in order


def build_app(state: ProviderState) -> Starlette:
    # Receipts wait in a queue for a few posting tasks (made in the server's loop): a task
    # and a pooled request per message left thousands of requests queued in the client's
    # pool at a thousand messages a second, and the gateway stopped answering anything.
    outbox: list[asyncio.Queue[tuple[float, str, bytes]]] = []
    posters: set[asyncio.Task[None]] = set()

    async def messages(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {state.api_key}":
            return JSONResponse({"code": "unauthorized"}, status_code=401)
        key = request.headers.get("idempotency-key")
        if not key:
            return JSONResponse({"code": "idempotency_key_required"}, status_code=400)
        body = await request.json()
        status, payload, headers = state.answer(body, key)
        slow, hold = payload.pop("slow_s", 0.0), payload.pop("hold", None)
        if slow:
            await asyncio.sleep(slow)
        if hold is not None:
            await asyncio.to_thread(hold.wait, 60)
        if status == 202:
            message = state.messages.get(key)
            if message is not None and not headers.get("Idempotent-Replayed"):
                _schedule_receipt(message)
        return JSONResponse(payload, status_code=status, headers=headers)

    def _schedule_receipt(message: Accepted) -> None:
        with state.lock:
            receipt = state.receipt(message)
            if state.receipt_url is None:
                state.pending_receipts.append(receipt)
                return
            urls = [state.receipt_url, *state.more_receipt_urls]
            url = urls[state._receipts_sent % len(urls)]
            state._receipts_sent += 1
            delay = state.receipt_delay_s
        if not outbox:
            outbox.append(asyncio.Queue())
            for _ in range(RECEIPT_POSTERS):
                posters.add(asyncio.create_task(_post_receipts(outbox[0])))
        outbox[0].put_nowait((time.monotonic() + delay, url, receipt[0]))

    async def _post_receipts(queue: asyncio.Queue[tuple[float, str, bytes]]) -> None:
        # The notifier's own keep-alive transport: httpcore's pool cost this process more
        # CPU than answering the messages did.
        transport = KeepAliveTransport(max_connections=1)
        async with httpx.AsyncClient(timeout=5.0, transport=transport) as client:
            while True:
                waiting = [await queue.get()]
                while len(waiting) < state.receipt_batch and not queue.empty():
                    waiting.append(queue.get_nowait())
                await asyncio.sleep(max(0.0, max(due for due, _, _ in waiting) - time.monotonic()))
                if state.receipt_batch <= 1:
                    for _, url, body in waiting:
                        await _post_receipt(client, url, body)
                    continue
                by_url: dict[str, list[bytes]] = {}
                for _, url, body in waiting:
                    by_url.setdefault(url, []).append(body)
                for url, bodies in by_url.items():
                    await _post_receipt(
                        client, f"{url}/batch", b"[" + b",".join(bodies) + b"]", len(bodies)
                    )

    async def _post_receipt(
        client: httpx.AsyncClient, url: str, body: bytes, count: int = 1
    ) -> None:
        for attempt in range(60):  # keep trying while the notifier is down
            ts = int(time.time())  # re-signed: the notifier refuses stale timestamps
            headers = {
                "Content-Type": "application/json",
                "X-Anbu-Timestamp": str(ts),
                "X-Anbu-Signature": signature(state.receipt_secret, ts, body),
            }
            try:
                response = await client.post(url, content=body, headers=headers)
                if response.status_code < 500:
                    with state.lock:
                        state.receipts_posted += count
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(min(0.2 * 2**attempt, 2.0))

    async def hooks(request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        secret = state.hook_secrets.get(name, "")
        ts = request.headers.get("x-anbu-timestamp", "0")
        valid = ts.isdigit() and hmac.compare_digest(
            signature(secret, int(ts), body), request.headers.get("x-anbu-signature", "")
        )
        with state.lock:
            fault = state.faults.popleft() if state.faults else None
            if valid and fault is None:
                state.hooks.append(
                    {
                        "name": name,
                        "key": request.headers.get("idempotency-key"),
                        "body": json.loads(body),
                    }
                )
        if not valid:
            return JSONResponse({"code": "bad_signature"}, status_code=401)
        if fault is not None:
            return JSONResponse(
                {"code": fault.code}, status_code=fault.status, headers=fault.headers
            )
        return JSONResponse({"id": f"case-{len(state.hooks)}"}, status_code=200)

    async def stats(_: Request) -> Response:
        return JSONResponse(state.stats())

    async def configure(request: Request) -> Response:
        config = await request.json()
        with state.lock:
            for name in (
                "failure_rate",
                "receipt_url",
                "receipt_secret",
                "receipt_delay_s",
                "receipt_batch",
            ):
                if name in config:
                    setattr(state, name, config[name])
            if "down_for_s" in config:
                state.down_until = time.monotonic() + float(config["down_for_s"])
        return JSONResponse(state.stats())

    return Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/hooks/{name}", hooks, methods=["POST"]),
            Route("/_stats", stats, methods=["GET"]),
            Route("/_config", configure, methods=["POST"]),
        ]
    )


class FakeProvider:
    """The gateway, served by uvicorn on a thread of the test process."""

    def __init__(self, api_key: str = "test-key", port: int | None = None) -> None:
        self.state = ProviderState(api_key)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            build_app(self.state),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-provider", daemon=True)

    def start(self) -> FakeProvider:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the fake provider did not start")
            time.sleep(0.01)
        # One refused call and a stats read first: the first request a fresh server thread
        # answers pays for lazy imports, which on a loaded machine outlasted a test's
        # 0.5 s client timeout (the retry then raced the test's own observation).
        httpx.post(f"{self.url}/v1/messages", json={}, timeout=10.0)
        httpx.get(f"{self.url}/_stats", timeout=10.0)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description="A local SMS / alert-message gateway.")
    parser.add_argument("--port", type=int, default=19790)
    parser.add_argument("--api-key", default="bench-key")
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument(
        "--receipt-url", action="append", default=[], help="repeat: round-robin over them"
    )
    parser.add_argument("--receipt-secret", default="receipt-secret")
    parser.add_argument("--receipt-batch", type=int, default=1, help="receipts per post")
    args = parser.parse_args()
    state = ProviderState(args.api_key)
    state.failure_rate = args.failure_rate
    state.receipt_url = args.receipt_url[0] if args.receipt_url else None
    state.more_receipt_urls = args.receipt_url[1:]
    state.receipt_batch = args.receipt_batch
    state.receipt_secret = args.receipt_secret
    uvicorn.run(
        build_app(state),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        lifespan="off",
        access_log=False,
    )


if __name__ == "__main__":
    main()
