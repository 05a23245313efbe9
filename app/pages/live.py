"""A page's subscription to channel events: what changed is redrawn in place, a burst of events at once."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nicegui import background_tasks, ui

from app.events import ChannelChanged, Event, JobChanged, PostsStored, Subscription
from app.i18n import current_language, use_language

if TYPE_CHECKING:
    from app.root import Root

COALESCE_SECONDS = 0.2  # the events of one batch (job, channel, posts) make one refresh

Refresh = Callable[[set[int]], Awaitable[None]]


def subscribe_while_open(root: Root, types: type[Event] | tuple[type[Event], ...],
                         handler: Callable[[Any], None]) -> Subscription:
    """Events of these types for the current page, until its client disconnects."""
    subscription = root.events.subscribe(types, handler)
    ui.context.client.on_disconnect(subscription.close)
    return subscription


class Later:
    """Calls `run` once, `seconds` after the first `soon()` since it last ran, in the language of the page that
    made it (events come from jobs, outside the page's request): a burst of events makes one redraw."""

    def __init__(self, seconds: float, run: Callable[[], Awaitable[None]], name: str) -> None:
        self.seconds = seconds
        self.run = run
        self.name = name
        self.language = current_language()
        self._scheduled = False

    def soon(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            background_tasks.create(self._after_a_while(), name=self.name)

    async def _after_a_while(self) -> None:
        await asyncio.sleep(self.seconds)
        self._scheduled = False  # events from here on are this run's or bring another
        with use_language(self.language):
            await self.run()


class ChannelEvents:
    """Calls `refresh(channel_ids)` soon after events about those channels; ends with the page's client."""

    def __init__(self, root: Root, refresh: Refresh, *, channel_id: int | None = None,
                 on_structure: Callable[[], Awaitable[None]] | None = None) -> None:
        """`on_structure`, when given, is called instead of `refresh` after a channel was added or deleted."""
        self.refresh = refresh
        self.channel_id = channel_id
        self.on_structure = on_structure
        self._structural = False
        self._dirty: set[int] = set()
        self._refreshing = asyncio.Lock()
        self._later = Later(COALESCE_SECONDS, self.now, 'page refresh')
        self.subscription = subscribe_while_open(root, (ChannelChanged, JobChanged, PostsStored), self._changed)

    def _changed(self, event: ChannelChanged | JobChanged | PostsStored) -> None:
        if self.channel_id is not None and event.channel_id != self.channel_id:
            return
        self._dirty.add(event.channel_id)
        if isinstance(event, ChannelChanged) and (event.added or event.deleted):
            self._structural = True
        self._later.soon()

    async def now(self, *channel_ids: int) -> None:
        """Refresh these channels and whatever else changed, right away (after a click).

        One refresh at a time: two that overlap (a click's and a coalesced one) could finish out of order, and the
        one that read the database first would leave its older numbers on the page until the next event."""
        async with self._refreshing:
            dirty, self._dirty = self._dirty | set(channel_ids), set()
            structural, self._structural = self._structural, False
            if structural and self.on_structure is not None:
                await self.on_structure()
            elif dirty:
                await self.refresh(dirty)
