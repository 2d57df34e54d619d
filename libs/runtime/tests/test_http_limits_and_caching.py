"""The shared app's request body limit and Cache-Control, over a real HTTP server (uvicorn)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import REGISTRY
from pydantic import BaseModel
from sqlalchemy import MetaData

from anbu_runtime.problems import PROBLEM_JSON
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

LIMIT = 4096
BIG_LIMIT = 64 * 1024


class Note(BaseModel):
    text: str


class Probe:
    """An app built by ServiceRuntime.build_app, recording which handlers ran to the end."""

    def __init__(self, tmp_path: Path) -> None:
        common = CommonSettings(
            env="dev",
            var_dir=tmp_path,
            kafka_bootstrap="127.0.0.1:9",  # never connected: the lifespan does not run
            http_max_body_bytes=LIMIT,
        )
        settings = ServiceSettings(database_url=f"sqlite:///{tmp_path / 'probe.db'}")
        self.runtime = ServiceRuntime("probe", common, settings, MetaData())
        self.ran: list[str] = []
        app = self.runtime.build_app(
            "probe", body_limits={"/big": BIG_LIMIT, "/own": None, "/big/small": 2048}
        )
        static = tmp_path / "static"
        static.mkdir()
        (static / "app.css").write_text("body{}")
        app.mount("/static", StaticFiles(directory=static), name="static")

        @app.post("/notes")
        async def notes(note: Note) -> dict[str, int]:
            self.ran.append("notes")
            return {"length": len(note.text)}

        @app.post("/stream")
        async def stream(request: Request) -> dict[str, int]:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
            self.ran.append("stream")
            return {"size": size}

        @app.post("/big")
        @app.post("/big/small")
        @app.post("/own")
        async def big(request: Request) -> dict[str, int]:
            body = await request.body()
            self.ran.append(request.url.path)
            return {"size": len(body)}

        @app.get("/v1/households/1")
        async def household() -> dict[str, str]:
            return {"name": "홍길동"}

        @app.get("/v1/cached")
        async def cached() -> Response:
            return Response(
                "{}", media_type="application/json", headers={"Cache-Control": "max-age=60"}
            )

        self.app = app


@contextmanager
def serving(app: FastAPI) -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def probe(tmp_path: Path) -> Probe:
    return Probe(tmp_path)


@pytest.fixture
async def client(probe: Probe) -> AsyncIterator[httpx.AsyncClient]:
    with serving(probe.app) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            c.port = port  # type: ignore[attr-defined]
            yield c


async def chunks(total: int, size: int = 1024) -> AsyncIterator[bytes]:
    """A body without Content-Length (httpx sends it chunked)."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        yield b" " * part
        sent += part


def assert_too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"].endswith("/too-large")
    assert problem["status"] == 413
    assert problem["limit_bytes"] == limit


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    probe: Probe, client: httpx.AsyncClient
) -> None:
    # Only the headers go out: a 100 MB body announced is refused without reading any of it.
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)  # type: ignore[attr-defined]
    writer.write(
        b"POST /notes HTTP/1.1\r\nHost: probe\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000000\r\n\r\n"
    )
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), timeout=5)  # the server closes after it
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert f"content-type: {PROBLEM_JSON}".encode() in head.lower()
    assert json.loads(body)["limit_bytes"] == LIMIT
    assert probe.ran == []


async def test_a_json_body_over_the_limit_is_refused_and_the_handler_never_runs(
    probe: Probe, client: httpx.AsyncClient
) -> None:
    # Sent in full while the server answers: the client still reads the 413 (no reset).
    declared = await client.post("/notes", json={"text": "x" * (2 * 1024 * 1024)})
    assert_too_large(declared, LIMIT)
    assert "content-length" in declared.request.headers
    chunked = await client.post(
        "/notes", content=chunks(LIMIT * 4), headers={"content-type": "application/json"}
    )
    assert_too_large(chunked, LIMIT)
    assert "content-length" not in chunked.request.headers
    assert probe.ran == []
    assert (await client.post("/notes", json={"text": "ok"})).status_code == 200


async def test_a_streamed_body_is_cut_off_at_the_limit(
    probe: Probe, client: httpx.AsyncClient
) -> None:
    response = await client.post("/stream", content=chunks(LIMIT + 1))
    assert_too_large(response, LIMIT)
    assert probe.ran == []
    # The server is still fine for the next request.
    assert (await client.post("/stream", content=chunks(LIMIT))).json() == {"size": LIMIT}


async def test_bodies_within_the_limit_are_served(probe: Probe, client: httpx.AsyncClient) -> None:
    assert (await client.post("/notes", json={"text": "hello"})).json() == {"length": 5}
    streamed = await client.post(
        "/notes", content=chunks(LIMIT - 100), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 422  # blanks are not a note: parsed, so not refused
    assert (await client.post("/stream", content=chunks(LIMIT))).json() == {"size": LIMIT}
    assert probe.ran == ["notes", "stream"]


async def test_a_route_with_its_own_limit_takes_bodies_over_the_default(
    probe: Probe, client: httpx.AsyncClient
) -> None:
    body = b"x" * (LIMIT * 8)
    assert (await client.post("/big", content=body)).json() == {"size": len(body)}
    assert (await client.post("/big", content=chunks(LIMIT * 8))).json() == {"size": len(body)}
    assert_too_large(await client.post("/big", content=b"x" * (BIG_LIMIT + 1)), BIG_LIMIT)
    assert_too_large(await client.post("/big", content=chunks(BIG_LIMIT + 1)), BIG_LIMIT)
    # The longest prefix wins; a prefix matches whole path segments only.
    assert_too_large(await client.post("/big/small", content=b"x" * 3000), 2048)
    assert_too_large(await client.post("/bigger", content=body), LIMIT)
    # None: the route enforces its own limit.
    assert (await client.post("/own", content=b"x" * (BIG_LIMIT * 2))).status_code == 200
    assert probe.ran == ["/big", "/big", "/own"]


async def test_api_answers_are_not_stored_by_caches(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/households/1")).headers["cache-control"] == "no-store"
    missing = await client.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.headers["cache-control"] == "no-store"
    assert (await client.post("/notes", json={})).headers["cache-control"] == "no-store"
    # A route's own choice is kept.
    assert (await client.get("/v1/cached")).headers["cache-control"] == "max-age=60"


async def test_operational_endpoints_and_static_assets_stay_cacheable(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/healthz", "/metrics", "/static/app.css"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "cache-control" not in response.headers, path


def counted(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "anbu_http_requests_total", {"service": "probe", "route": route, "status": status}
    )
    return value or 0.0


async def test_every_answer_is_counted_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    keys = [("/notes", "200"), ("/notes", "422"), ("unmatched", "404"), ("unmatched", "413")]
    before = {key: counted(*key) for key in keys}
    assert (await client.post("/notes", json={"text": "안녕"})).status_code == 200
    assert (await client.post("/notes", json={"nope": 1})).status_code == 422
    assert (await client.get("/nowhere")).status_code == 404
    # refused before routing: counted, under no route
    assert (await client.post("/big", content=b" " * (BIG_LIMIT + 1))).status_code == 413
    assert {key: counted(*key) - before[key] for key in keys} == dict.fromkeys(keys, 1.0)
