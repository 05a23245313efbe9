"""A page's subscription to channel events: what changed is redrawn in place, a burst of events at once."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from nicegui import background_tasks, ui

from app.events import ChannelChanged, JobChanged, PostsStored
from app.i18n import current_language, use_language

if TYPE_CHECKING:
    from app.root import Root

COALESCE_SECONDS = 0.2  # the events of one batch (job, channel, posts) make one refresh

Refresh = Callable[[set[int]], Awaitable[None]]


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
        self._scheduled = False
        self._refreshing = asyncio.Lock()
        self.language = current_language()  # events come from jobs, outside the page's request
        self.subscription = root.events.subscribe((ChannelChanged, JobChanged, PostsStored), self._changed)
        ui.context.client.on_disconnect(self.subscription.close)

    def _changed(self, event: ChannelChanged | JobChanged | PostsStored) -> None:
        if self.channel_id is not None and event.channel_id != self.channel_id:
            return
        self._dirty.add(event.channel_id)
        if isinstance(event, ChannelChanged) and (event.added or event.deleted):
            self._structural = True
        if not self._scheduled:
            self._scheduled = True
            background_tasks.create(self._flush_soon(), name='page refresh')

    async def _flush_soon(self) -> None:
        await asyncio.sleep(COALESCE_SECONDS)
        with use_language(self.language):
            await self.now()

    async def now(self, *channel_ids: int) -> None:
        """Refresh these channels and whatever else changed, right away (after a click).

        One refresh at a time: two that overlap (a click's and a coalesced one) could finish out of order, and the
        one that read the database first would leave its older numbers on the page until the next event."""
        async with self._refreshing:
            dirty, self._dirty = self._dirty | set(channel_ids), set()
            structural, self._structural = self._structural, False
            self._scheduled = False
            if structural and self.on_structure is not None:
                await self.on_structure()
            elif dirty:
                await self.refresh(dirty)
