"""Consumers of the change feed: each reads from its own stored position, in order, and catches up by itself.

A consumer (the search index, webhooks, alerts) subclasses FeedConsumer. Its reader takes a batch of changes
after the consumer's position, hands it to `handle` and saves the new position. With `transactional` (the
default) both happen in one MongoDB transaction: a consumer whose effects are in MongoDB sees every change
exactly once, also when it is stopped mid-batch. A consumer with effects elsewhere (an index on disk, a request
to a webhook) sees a batch again if it stopped before the position was saved, and must take a repeat calmly.

The in-process bus only wakes readers early; they also look every `poll_seconds`, so writes of other Parsegram
processes on the same database are found too. Entries every consumer has passed are trimmed after FEED_KEEP_DAYS.
"""
from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING

from loguru import logger
from pymongo.asynchronous.client_session import AsyncClientSession

from app.db.change_feed import Change, ChangeFeed
from app.db.models import utcnow

if TYPE_CHECKING:
    from app.db.post_writer import PostWriter, WriteResult

BATCH = 500
POLL_SECONDS = 5.0
RETRY_SECONDS = 10.0
TRIM_EVERY = timedelta(hours=1)
STOP_SECONDS = 10.0


class PositionMoved(Exception):
    """Another process handled this batch first (a shared consumer): read on from where it got to."""


class FeedConsumer:
    name: str = ''
    transactional: bool = True
    # One position for every Parsegram process on the database (webhooks, alerts): each batch is handled by
    # whichever process commits first; the other finds the position moved inside its transaction and gives way.
    shared: bool = False

    async def handle(self, changes: list[Change], session: AsyncClientSession | None) -> None:
        raise NotImplementedError

    async def load_position(self, feed: ChangeFeed) -> int:
        return await feed.position(self.name)

    async def save_position(self, feed: ChangeFeed, position: int, session: AsyncClientSession | None) -> None:
        await feed.save_position(self.name, position, session=session)

    def committed(self) -> None:
        """Called once a handled batch and its position are committed (to tell others what it wrote)."""

    async def reset_position(self, feed: ChangeFeed) -> int | None:
        """A new position to go on from (after the consumer rebuilt its state), or None to go on as before."""
        return None

    async def close(self) -> None:
        """Release what the consumer holds (called when the process stops)."""


class FeedReader:
    """Runs one consumer: read after its position, handle, save, repeat; wait for a wake or a poll when idle."""

    def __init__(self, feed: ChangeFeed, consumer: FeedConsumer, *, batch: int = BATCH,
                 poll_seconds: float = POLL_SECONDS) -> None:
        self.feed = feed
        self.consumer = consumer
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.position = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._stopped = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """End the run at its next turn, whether or not a cancellation reaches it."""
        self._stopped = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopped:
            try:
                self.position = await self.consumer.load_position(self.feed)
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception('feed consumer {} could not find its position', self.consumer.name)
                await asyncio.sleep(RETRY_SECONDS)
        while not self._stopped:
            self._wake.clear()
            try:
                moved = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:  # the batch is read again after a pause: a consumer never skips a change
                logger.exception('feed consumer {} failed at position {}', self.consumer.name, self.position)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if not moved:
                self._idle.set()
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that arrives as the
                # wake does, and the reader then outlives the app's stop (seen as a shutdown that never ended)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await self._wake.wait()
                self._idle.clear()

    async def step(self) -> bool:
        """Handle the next batch after the stored position; False when there was none."""
        reset = await self.consumer.reset_position(self.feed)
        if reset is not None:
            self.position = reset
        changes = await self.feed.read(after=self.position, limit=self.batch)
        if not changes:
            return False
        last = changes[-1].position

        async def work(session: AsyncClientSession | None) -> None:
            if self.consumer.shared:
                if await self.feed.position(self.consumer.name, session=session) != self.position:
                    raise PositionMoved
            await self.consumer.handle(changes, session)
            await self.consumer.save_position(self.feed, last, session)

        try:
            if self.consumer.transactional:
                async with self.feed.collection.database.client.start_session() as session:
                    await session.with_transaction(work)
            else:
                await work(None)
        except PositionMoved:
            self.position = await self.consumer.load_position(self.feed)
            return True
        self.position = last
        self.consumer.committed()
        return True


class FeedConsumers:
    """The readers of this process: started with the app, woken by each committed write, trimming the feed."""

    def __init__(self, feed: ChangeFeed, *writers: PostWriter, keep_days: int = 30) -> None:
        self.feed = feed
        self.keep = timedelta(days=keep_days)
        self.readers: dict[str, FeedReader] = {}
        self._tasks: list[asyncio.Task] = []
        for writer in writers:  # the posts' writer and the comments': both write to the one feed
            writer.listeners['feed'] = self._written

    def add(self, consumer: FeedConsumer, **options: float) -> FeedReader:
        reader = FeedReader(self.feed, consumer, **options)  # type: ignore[arg-type]
        self.readers[consumer.name] = reader
        return reader

    def wake(self, name: str) -> None:
        if name in self.readers:
            self.readers[name].wake()

    def _written(self, _: WriteResult) -> None:
        for reader in self.readers.values():
            reader.wake()

    async def start(self) -> None:
        for reader in self.readers.values():
            self._tasks.append(asyncio.create_task(reader.run(), name=f'feed-{reader.consumer.name}'))
        self._tasks.append(asyncio.create_task(self._trim_loop(), name='feed-trim'))

    async def _trim_loop(self) -> None:
        while True:
            try:
                dropped = await self.feed.trim(older_than=utcnow() - self.keep)
                if dropped:
                    logger.info('change feed: {} old writes trimmed', dropped)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception('trimming the change feed failed')
            await asyncio.sleep(TRIM_EVERY.total_seconds())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for reader in self.readers.values():
            reader.stop()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
            for task in pending:
                logger.warning('{} did not stop within {} s; left behind', task.get_name(), STOP_SECONDS)
        self._tasks.clear()
        for reader in self.readers.values():
            try:
                await reader.consumer.close()
            except Exception:
                logger.exception('feed consumer {} failed to close', reader.consumer.name)
