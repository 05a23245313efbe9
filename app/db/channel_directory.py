"""The channel list's index: every channel's sortable fields in memory, so a page of the list is filtered, sorted
and counted here and only its own channels are read from the database.

Writes announce themselves as events; `EventBus.watch` marks the channel at once, and the next read rereads
the marked channels (and their latest jobs) before answering, so a read right after a write sees it. The
whole index is read again now and then, for changes made behind the events' back.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from app.clock import Clock, SystemClock
from app.db.channel_list import LIST_FIELDS, ChannelQuery, ListEntry
from app.db.models import JobStatus
from app.events import ChannelChanged, Event, JobChanged, PostsStored

if TYPE_CHECKING:
    from app.db.repos import Repos
    from app.events import EventBus

RELOAD_SECONDS = 60.0


class ChannelDirectory:
    def __init__(self, repos: Repos, events: EventBus, *, reload_seconds: float = RELOAD_SECONDS,
                 clock: Clock | None = None) -> None:
        self.repos = repos
        self.clock = clock or SystemClock()
        self.reload_seconds = reload_seconds
        self._entries: dict[int, ListEntry] = {}
        self._loaded_at: float | None = None
        self._dirty: set[int] = set()
        self._lock = asyncio.Lock()
        events.watch((ChannelChanged, JobChanged, PostsStored), self._mark)

    def _mark(self, event: Event) -> None:
        self._dirty.add(event.channel_id)  # type: ignore[attr-defined]

    async def page(self, query: ChannelQuery) -> tuple[list[int], int]:
        """The ids of one page of the list, in order, and how many channels match in all."""
        entries = [entry for entry in (await self.entries()) if query.matches(entry)]
        ordered = query.order(entries)
        return [entry.id for entry in ordered[query.offset:query.offset + query.limit]], len(entries)

    async def tags(self) -> dict[str, int]:
        """Every tag in use, with how many channels carry it."""
        counts: dict[str, int] = {}
        for entry in await self.entries():
            for tag in entry.tags:
                counts[tag] = counts.get(tag, 0) + 1
        return dict(sorted(counts.items()))

    async def entries(self) -> list[ListEntry]:
        async with self._lock:
            if self._loaded_at is None or self.clock.monotonic() - self._loaded_at > self.reload_seconds:
                await self._load()
            elif self._dirty:
                await self._reread(self._dirty)
            return list(self._entries.values())

    async def _load(self) -> None:
        self._dirty.clear()
        self._loaded_at = self.clock.monotonic()
        docs = await self.repos.channels.collection.find({}, LIST_FIELDS).to_list()
        statuses = await self._job_statuses(docs)
        self._entries = {doc['_id']: ListEntry.of(doc, statuses.get((doc.get('state') or {}).get('job_id')))
                         for doc in docs}

    async def _reread(self, channel_ids: set[int]) -> None:
        ids, self._dirty = list(channel_ids), set()
        docs = await self.repos.channels.collection.find({'_id': {'$in': ids}}, LIST_FIELDS).to_list()
        statuses = await self._job_statuses(docs)
        for channel_id in ids:
            self._entries.pop(channel_id, None)
        for doc in docs:
            self._entries[doc['_id']] = ListEntry.of(doc, statuses.get((doc.get('state') or {}).get('job_id')))

    async def _job_statuses(self, docs: list[dict]) -> dict[str | None, JobStatus]:
        job_ids = [job_id for doc in docs if (job_id := (doc.get('state') or {}).get('job_id'))]
        if not job_ids:
            return {}
        jobs = await self.repos.jobs.collection.find({'_id': {'$in': job_ids}}, {'status': 1}).to_list()
        return {job['_id']: JobStatus(job['status']) for job in jobs}
