"""`TelegramDC`: the test Telegram server — TCP listener, auth keys, faults, World dispatch, control port.

dc = TelegramDC(control_port=0).start_in_thread()     # or: await dc.start() in a running loop
telethon.crypto.rsa.add_key(dc.public_key_pem.decode(), old=False)
session = StringSession(); session.set_dc(dc.dc_id, dc.host, dc.port)
user_id = dc.call(dc.world.create_user, '9996610001', 'Ann')   # World changes run in the DC's loop
dc.add_fault('messages.getHistory', 'FLOOD_WAIT', seconds=30, count=2)
dc.stop_thread()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from telethon.tl.tlobject import TLObject

from .faults import ConnectionDropped, Fault, Faults, tl_name
from .keys import KeyStore, ServerKey
from .limits import Limits
from .session import Connection, DcClient

log = logging.getLogger(__name__)


class FaultError(Exception):
    """An injected Telegram error, answered as rpc_error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f'{code} {message}')
        self.code = code
        self.message = message


class TelegramDC:
    def __init__(
        self,
        world: Any | None = None,
        *,
        host: str = '127.0.0.1',
        port: int = 0,
        control_port: int | None = None,
        dc_id: int = 2,
        gzip_threshold: int | None = 1024,
        limits: str = 'off',
    ) -> None:
        if world is None:
            from .world import World

            world = World()
        self.world = world
        self.host = host
        self.port = port
        self.control_port = control_port
        self.dc_id = dc_id
        self.gzip_threshold = gzip_threshold
        self.server_key = ServerKey.generate()
        self.public_key_pem: bytes = self.server_key.public_key_pem
        self.keys = KeyStore()
        self.faults = Faults()
        self.limits = Limits(limits)
        self.connections: set[Connection] = set()
        self.clients: set[DcClient] = set()
        self.containers_sent = 0
        self._server: asyncio.base_events.Server | None = None
        self._control: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._thread_id: int | None = None
        self._stop_event: asyncio.Event | None = None

    # ---- life cycle in the current loop -----------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread_id = threading.get_ident()
        self._server = await asyncio.start_server(self._on_connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        for name, value in (('dc_id', self.dc_id), ('host', self.host), ('port', self.port)):
            setattr(self.world, name, value)
        if self.control_port is not None:
            from .control import ControlServer

            self._control = ControlServer(self, self.host, self.control_port)
            await self._control.start()
            self.control_port = self._control.port
        log.info('test DC %d listening on %s:%d', self.dc_id, self.host, self.port)

    async def stop(self) -> None:
        if self._control is not None:
            await self._control.stop()
            self._control = None
        if self._server is not None:
            self._server.close()
            self.disconnect_all()
            await self._server.wait_closed()
            self._server = None

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(self, reader, writer)
        self.connections.add(connection)
        await connection.run()

    def connection_closed(self, connection: Connection) -> None:
        self.connections.discard(connection)

    # ---- life cycle in a thread of its own (pytest) -----------------------------------------------

    def start_in_thread(self) -> TelegramDC:
        ready: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)

            async def main() -> None:
                self._stop_event = asyncio.Event()
                try:
                    await self.start()
                except BaseException as exc:
                    ready.set_exception(exc)
                    return
                ready.set_result(None)
                await self._stop_event.wait()
                await self.stop()

            try:
                loop.run_until_complete(main())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name='telegram-dc', daemon=True)
        self._thread.start()
        ready.result(timeout=60)
        return self

    def stop_thread(self) -> None:
        if self._thread is None or self._loop is None or self._stop_event is None:
            return
        self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join(timeout=10)
        self._thread = None

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Run fn (sync or async) in the DC's loop and return its result; safe from any thread."""
        if self._loop is None:
            raise RuntimeError('the DC is not running')
        if threading.get_ident() == self._thread_id:
            return fn(*args, **kw)
        future: concurrent.futures.Future = concurrent.futures.Future()

        def runner() -> None:
            try:
                result = fn(*args, **kw)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)
                return
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)

                def finish(done: asyncio.Future) -> None:
                    if done.cancelled():
                        future.cancel()
                    elif done.exception() is not None:
                        future.set_exception(done.exception())
                    else:
                        future.set_result(done.result())

                task.add_done_callback(finish)
            else:
                future.set_result(result)

        self._loop.call_soon_threadsafe(runner)
        return future.result(timeout=60)

    # ---- requests ---------------------------------------------------------------------------------

    async def dispatch(self, client: DcClient, request: TLObject) -> Any:
        action = self.faults.take(request)
        if action is not None:
            if action.delay:
                await asyncio.sleep(action.delay)
            if action.drop:
                raise ConnectionDropped(type(request).__name__)
            if action.code is not None:
                raise FaultError(action.code, action.message or 'INTERNAL')
        user = getattr(self.world, 'user_of', lambda _client: None)(client)
        wait = self.limits.check(getattr(user, 'id', None), tl_name(request))
        if wait is not None:
            raise FaultError(420, f'FLOOD_WAIT_{wait}')
        result = self.world.invoke(client, request)
        if inspect.isawaitable(result):
            result = await result
        return result

    def attach_client(self, client: DcClient) -> None:
        self.clients.add(client)
        self._notify_world('attach', client)

    def detach_client(self, client: DcClient) -> None:
        self.clients.discard(client)
        self._notify_world('detach', client)

    def _notify_world(self, name: str, client: DcClient) -> None:
        method = getattr(self.world, name, None)
        if method is None:
            return
        try:
            result = method(client)
            if inspect.isawaitable(result):
                asyncio.ensure_future(result)
        except Exception:
            log.exception('world.%s failed', name)

    # ---- faults -----------------------------------------------------------------------------------

    def _off_loop(self) -> bool:
        return self._loop is not None and threading.get_ident() != self._thread_id

    def add_fault(self, method: str, error: str, seconds: float | None = None, count: int = 1) -> Fault:
        """The next `count` calls of `method` ('auth.sendCode', 'SendCodeRequest', '*') fail: FLOOD_WAIT (with
        seconds), INTERNAL, SLOW (answer after seconds), DROP (close the connection; also for the key exchange's
        'reqPqMulti'), or any Telegram error name."""
        if self._off_loop():
            return self.call(self.add_fault, method, error, seconds, count)
        return self.faults.add(method, error, seconds=seconds, count=count)

    def clear_faults(self) -> None:
        if self._off_loop():
            return self.call(self.clear_faults)
        self.faults.clear()

    def faults_left(self) -> int:
        """How many uses of the faults set are not taken yet (a SLOW call that started has taken its use)."""
        if self._off_loop():
            return self.call(self.faults_left)
        return self.faults.left()

    def set_limits(self, profile: str, overrides: dict[str, Any] | None = None) -> dict[str, dict]:
        """Use Telegram's limits ('realistic') or none ('off'), with per-method changes such as
        {'messages.getHistory': {'rate': 20}}; forgets the waits already set. Safe from any thread."""
        if self._off_loop():
            return self.call(self.set_limits, profile, overrides)
        self.limits.use(profile, overrides)
        return self.limits.describe()

    def stats(self) -> dict:
        if self._off_loop():
            return self.call(self.stats)
        return self.limits.stats()

    def reset_stats(self) -> None:
        if self._off_loop():
            return self.call(self.reset_stats)
        self.limits.reset_stats()

    def disconnect_all(self) -> int:
        """Drop every TCP connection; clients keep their auth keys and may reconnect. Safe from any thread."""
        if self._off_loop():
            return self.call(self.disconnect_all)
        connections = list(self.connections)
        for connection in connections:
            connection.close()
        return len(connections)
