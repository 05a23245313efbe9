"""The database connection: MONGO_URI when set, otherwise the embedded server under DATA_DIR/db.

`Database.db` exists from construction on (the client connects lazily), so repositories can be built
before the server is up; `ready` says whether it answers. `start()` retries with backoff until it does.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from loguru import logger
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from app.db.embedded import EmbeddedServer
from app.i18n import lazy

if TYPE_CHECKING:
    from app.config import Settings

PING_TIMEOUT = 1.5
WATCH_INTERVAL = 5.0
MAX_BACKOFF = 30.0


async def transactions_supported(client: AsyncMongoClient) -> bool:
    """Whether the server runs transactions: a replica set (the embedded server is one) or a sharded cluster."""
    hello = await client.admin.command('hello')
    return 'setName' in hello or hello.get('msg') == 'isdbgrid'


def _short(error: BaseException) -> str:
    text = str(error).split(', Timeout:')[0].split(' (configured timeouts')[0]
    return (text or type(error).__name__)[:300]


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ready = False
        self.last_error: str | None = None
        self.failed_attempts = 0  # connection attempts of start() that failed since it last succeeded
        self.embedded: EmbeddedServer | None = None
        if settings.mongo_uri:
            self.uri = settings.mongo_uri
        else:
            self.embedded = EmbeddedServer((settings.data_dir / 'db').resolve())
            self.uri = self.embedded.uri
        self.client: AsyncMongoClient = AsyncMongoClient(
            self.uri, tz_aware=True, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000, appname='parsegram',
        )
        self._stopping = False
        self._ready_event: asyncio.Event | None = None

    @property
    def db(self) -> AsyncDatabase:
        return self.client[self.settings.mongo_db]

    @property
    def description(self) -> str:
        """What serves the data, in English for the log; `render()` it for a page."""
        if self.embedded is not None:
            return lazy('embedded database in {folder}', folder=str(self.embedded.storage))
        return lazy('the MongoDB server at MONGO_URI')

    def _event(self) -> asyncio.Event:
        if self._ready_event is None:
            self._ready_event = asyncio.Event()
            if self.ready:
                self._ready_event.set()
        return self._ready_event

    def _set_ready(self, ready: bool, error: str | None = None) -> None:
        self.ready = ready
        self.last_error = error
        event = self._event()
        if ready:
            event.set()
        else:
            event.clear()

    async def _attempt(self) -> None:
        if self.embedded is not None and not self.embedded.running:
            await self.embedded.start()
        await asyncio.wait_for(self.client.admin.command('ping'), timeout=5.0)

    async def start(self, *, max_attempts: int | None = None) -> bool:
        """Connect (starting the embedded server if needed), retrying with backoff. True once ready."""
        self._stopping = False
        delay, attempt = 0.5, 0
        while not self._stopping:
            attempt += 1
            try:
                await self._attempt()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                message = _short(error)
                self.failed_attempts += 1
                self._set_ready(False, message)
                logger.warning('Database not reachable ({}), attempt {}: {}; retrying in {:.1f} s',
                               self.description, attempt, message, delay)
                if max_attempts is not None and attempt >= max_attempts:
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            self.failed_attempts = 0
            self._set_ready(True)
            logger.info('Database ready ({})', self.description)
            return True
        return False

    async def wait_ready(self, timeout: float | None = None) -> bool:
        if self.ready:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event().wait(), timeout)
        return self.ready

    async def ping(self, timeout: float = PING_TIMEOUT) -> bool:
        """Whether the server answers within `timeout` seconds (never hangs longer)."""
        try:
            await asyncio.wait_for(self.client.admin.command('ping'), timeout=timeout)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._set_ready(False, _short(error) if str(error) else 'no answer within '
                            f'{timeout:.1f} s')
            return False
        if not self.ready:
            self._set_ready(True)
        return True

    async def watch(self, interval: float = WATCH_INTERVAL) -> None:
        """Keep `ready` current; restart the embedded server if it died. Runs until cancelled or stopped."""
        while not self._stopping:
            await asyncio.sleep(interval)
            if self._stopping:
                return
            if self.embedded is not None and not self.embedded.running:
                logger.warning('The embedded database is not running; restarting it')
                self._set_ready(False, 'the embedded database stopped; restarting')
                await self.start()
                continue
            was_ready = self.ready
            started = time.monotonic()
            ok = await self.ping()
            if was_ready and not ok:
                logger.warning('Database stopped answering: {}', self.last_error)
            elif ok and not was_ready:
                logger.info('Database reachable again after {:.1f} s', time.monotonic() - started)

    async def stop(self) -> None:
        self._stopping = True
        self.ready = False
        with contextlib.suppress(Exception):
            await self.client.close()
        if self.embedded is not None:
            await self.embedded.stop()
