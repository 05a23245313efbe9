"""A real HTTP receiver on loopback for webhook tests: it answers with the statuses a test scripts, records every
request it gets, and lets a test wait for the n-th one (an event, never a sleep)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.perf_counter)
    wall: float = field(default_factory=time.time)  # when it arrived, for a benchmark in another process

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    host: str = '127.0.0.1'
    port: int = 0
    answers: deque[int | tuple[int, dict[str, str]]] = field(default_factory=deque)  # then `default`
    default: int = 200
    hang: bool = False  # accept, read, never answer
    requests: list[Received] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f'http://{self.host}:{self.port}/hook'

    def __post_init__(self) -> None:
        self.answers = deque(self.answers)

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """The first `count` requests, once they have all arrived."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.requests) >= count), timeout)
        return self.requests[:count]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path = line.decode().split(' ')[:2]
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b'\r\n', b'\n', b''):
                    name, _, value = header.decode().partition(':')
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get('content-length', 0)))
                if method == 'GET':  # a benchmark in another process asks what arrived
                    answer_body = json.dumps(self._report(path)).encode()
                    writer.write(f'HTTP/1.1 200 OK\r\nContent-Length: {len(answer_body)}\r\n\r\n'.encode()
                                 + answer_body)
                    await writer.drain()
                    continue
                async with self._arrived:
                    self.requests.append(Received(path, headers, body))
                    self._arrived.notify_all()
                if self.hang:  # until the sender gives up and closes the connection
                    await reader.read()
                    return
                answer = self.answers.popleft() if self.answers else self.default
                status, extra = answer if isinstance(answer, tuple) else (answer, {})
                head = ''.join(f'{name}: {value}\r\n' for name, value in extra.items())
                writer.write(f'HTTP/1.1 {status} X\r\nContent-Length: 2\r\n{head}\r\nok'.encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


    def _report(self, path: str) -> Any:
        if path == '/arrivals':
            return [[r.event.get('data', {}).get('message_id'), r.wall] for r in self.requests]
        return len(self.requests)


async def serve_forever(hang: bool) -> None:
    """`python -m tests.receiver [--hang]`: a receiver in a process of its own; prints its port, then serves.
    GET /count says how many events arrived, GET /arrivals each one's message id and arrival time."""
    receiver = await Receiver(hang=hang).start()
    print(receiver.port, flush=True)
    await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def receiving(**options: Any) -> AsyncIterator[Receiver]:
    receiver = await Receiver(**options).start()
    try:
        yield receiver
    finally:
        await receiver.stop()


if __name__ == '__main__':
    import sys
    asyncio.run(serve_forever('--hang' in sys.argv))
