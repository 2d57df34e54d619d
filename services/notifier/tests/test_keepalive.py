"""The gateway client's keep-alive transport: connections reused and bounded, httpx's
timeouts and errors kept, a connection the server closed replaced instead of failing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import h11
import httpx
import pytest

from anbu_notifier.adapters.keepalive import KeepAliveTransport


@dataclass
class Server:
    """An HTTP/1.1 server that answers 202 to everything, after ``delay_s``; it counts the
    connections it accepted and the most requests it held at once."""

    delay_s: float = 0.0
    drop_second: bool = False  # close a connection when its second request arrives
    connections: int = 0
    active: int = 0
    most_active: int = 0
    requests: int = 0
    port: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        conn = h11.Connection(h11.SERVER)
        served = 0
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    if not data:
                        return
                    conn.receive_data(data)
                elif isinstance(event, h11.EndOfMessage):
                    served += 1
                    if self.drop_second and served == 2:
                        return  # as a server whose idle timeout fired as the request came
                    self.requests += 1
                    self.active += 1
                    self.most_active = max(self.most_active, self.active)
                    await asyncio.sleep(self.delay_s)
                    self.active -= 1
                    body = b'{"message_id": "m-1"}'
                    writer.write(
                        conn.send(
                            h11.Response(
                                status_code=202,
                                headers=[("Content-Length", str(len(body)))],
                            )
                        )
                        + conn.send(h11.Data(data=body))
                        + conn.send(h11.EndOfMessage())
                    )
                    await writer.drain()
                    conn.start_next_cycle()
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    listening = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = listening.sockets[0].getsockname()[1]
    yield state
    listening.close()
    for writer in state.writers:
        writer.close()


def client(server: Server, connections: int = 4, timeout: float = 2.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}",
        timeout=timeout,
        transport=KeepAliveTransport(max_connections=connections),
    )


async def test_calls_one_after_another_share_one_connection(server: Server) -> None:
    async with client(server) as http:
        for n in range(20):
            response = await http.post("/v1/messages", json={"n": n})
            assert response.status_code == 202
            assert response.json() == {"message_id": "m-1"}
    assert server.requests == 20
    assert server.connections == 1


async def test_concurrent_calls_never_open_more_connections_than_the_bound(
    server: Server,
) -> None:
    server.delay_s = 0.02
    async with client(server, connections=4) as http:
        answers = await asyncio.gather(*(http.post("/v1/messages", json={}) for _ in range(40)))
    assert [a.status_code for a in answers] == [202] * 40
    assert server.connections == 4
    assert server.most_active == 4


async def test_a_slow_answer_is_an_httpx_read_timeout(server: Server) -> None:
    server.delay_s = 1.0
    async with client(server, timeout=0.1) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/v1/messages", json={})
        server.delay_s = 0.0
        assert (await http.post("/v1/messages", json={})).status_code == 202
    assert server.connections == 2  # the timed-out connection was not reused


async def test_a_kept_connection_the_server_drops_is_replaced_not_failed(
    server: Server,
) -> None:
    server.drop_second = True
    async with client(server) as http:
        for _ in range(3):
            assert (await http.post("/v1/messages", json={})).status_code == 202
    assert server.requests == 3
    assert server.connections == 3  # each second use of a connection was dropped and redone


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_nobody_listening_is_an_httpx_connect_error() -> None:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{closed_port()}", transport=KeepAliveTransport()
    ) as http:
        with pytest.raises(httpx.ConnectError):
            await http.post("/v1/messages", json={})
