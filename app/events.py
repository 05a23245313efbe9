"""What happened, announced once: typed domain events and the in-process bus that delivers them.

Services publish; pages, the scheduler and (later) webhooks, alerts and the search index subscribe. Each
subscription has its own bounded queue and its own delivery task, so a publisher never waits for a subscriber
and a slow or failing subscriber delays nobody but itself. A full queue drops its oldest event and counts it.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from loguru import logger

from app.db.models import utcnow


@dataclass(frozen=True, kw_only=True)
class Event:
    at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, kw_only=True)
class PostsStored(Event):
    """Posts of one channel were written: which ids are new, which were edited, which were deleted."""
    channel_id: int
    new: tuple[int, ...] = ()
    edited: tuple[int, ...] = ()
    deleted: tuple[int, ...] = ()
    posts_stored: int | None = None  # the channel's stored total after this write, when known


@dataclass(frozen=True, kw_only=True)
class JobChanged(Event):
    """A job was queued, claimed, checkpointed, paused, resumed, cancelled, finished or failed."""
    job_id: str
    channel_id: int
    status: str
    done: int = 0
    total: int = 0


@dataclass(frozen=True, kw_only=True)
class ChannelChanged(Event):
    """A channel was added, deleted, or its metadata, settings or sync state changed."""
    channel_id: int
    added: bool = False
    deleted: bool = False


@dataclass(frozen=True, kw_only=True)
class AccountChanged(Event):
    """An account connected, disconnected, was revoked, logged in or was removed."""
    account_id: str
    state: str


@dataclass(frozen=True, kw_only=True)
class FloodWaitChanged(Event):
    """Telegram asked an account to wait before calling a class of methods again (until None: it may go on)."""
    account_id: str
    kind: str
    until: datetime | None


@dataclass(frozen=True, kw_only=True)
class NotificationsChanged(Event):
    """Notifications were added or read (the bell's count changed)."""


E = TypeVar('E', bound=Event)
Handler = Callable[[Any], Awaitable[None] | None]
QUEUE_SIZE = 1000


class Subscription:
    def __init__(self, bus: EventBus, types: tuple[type[Event], ...], handler: Handler, maxsize: int) -> None:
        self.bus = bus
        self.types = types
        self.handler = handler
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0
        self._task: asyncio.Task | None = None

    def offer(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                logger.warning('{} fell behind: {} events dropped', _name(self.handler), self.dropped)
        self.queue.put_nowait(event)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._deliver(), name=f'events-{_name(self.handler)}')

    async def _deliver(self) -> None:
        while not self.queue.empty():
            event = self.queue.get_nowait()
            try:
                result = self.handler(event)
                if asyncio.iscoroutine(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception('{} failed on {}', _name(self.handler), type(event).__name__)

    def close(self) -> None:
        self.bus._subscriptions = [s for s in self.bus._subscriptions if s is not self]
        if self._task is not None and not self._task.done() and self._task is not _current_task():
            self._task.cancel()

    async def drain(self) -> None:
        """Wait until everything published so far has been handled."""
        while self._task is not None and not self._task.done() and self._task is not _current_task():
            await asyncio.wait({self._task})


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._watchers: list[tuple[tuple[type[Event], ...], Callable[[Event], None]]] = []

    def watch(self, types: tuple[type[Event], ...], marker: Callable[[Event], None]) -> None:
        """Call `marker` inside `publish` itself, before it returns: for in-memory marks that a read right after a
        write must already see (e.g. "this channel changed"). It must be quick and must not fail."""
        self._watchers.append((types, marker))

    def subscribe(self, types: type[Event] | tuple[type[Event], ...], handler: Handler, *,
                  maxsize: int = QUEUE_SIZE) -> Subscription:
        """Call `handler` (sync or async) with every event of these types, in order, in a background task."""
        subscription = Subscription(self, types if isinstance(types, tuple) else (types,), handler, maxsize)
        self._subscriptions.append(subscription)
        return subscription

    def publish(self, event: Event) -> None:
        """Hand the event to every matching subscriber; returns at once. Needs a running event loop."""
        for types, marker in self._watchers:
            if isinstance(event, types):
                marker(event)
        for subscription in list(self._subscriptions):
            if isinstance(event, subscription.types):
                subscription.offer(event)

    async def next(self, event_type: type[E], predicate: Callable[[E], bool] = lambda _: True, *,
                   timeout: float = 30.0) -> E:
        """The next event of this type that matches: for callers (and tests) that wait for something to happen."""
        future: asyncio.Future[E] = asyncio.get_running_loop().create_future()

        def check(event: E) -> None:
            if not future.done() and predicate(event):
                future.set_result(event)

        subscription = self.subscribe(event_type, check)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            subscription.close()

    async def drain(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.drain()

    async def stop(self) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription.close()
        await asyncio.gather(*(s._task for s in subscriptions if s._task is not None), return_exceptions=True)


def _current_task() -> asyncio.Task | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _name(handler: Handler) -> str:
    return getattr(handler, '__qualname__', None) or type(handler).__name__
