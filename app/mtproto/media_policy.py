"""A channel's download policy at work: its files are kept by themselves, as posts arrive and for the history read
before, newest first, of the chosen types and sizes, until the channel's kept files reach the quota.

One file at a time per process, through the MediaService and so the door: the files class has its own pace and
FloodWaits, so this work never takes a turn of the history reading. A channel's work is leased to one process;
its progress (files and bytes done and in all, the pace, a wait and why) is in `media_jobs` for the pages and the API.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger

from app.background_loop import BackgroundLoop
from app.clock import Clock, SystemClock
from app.db.models import Channel
from app.events import ChannelChanged, EventBus, PostsStored
from app.mtproto.errors import ServiceError

if TYPE_CHECKING:
    from app.db.repos import Repos
    from app.mtproto.media import MediaService

TICK_SECONDS = 30.0
LEASE_SECONDS = 120.0
SKIPPED = {'NO_MEDIA', 'MEDIA_GONE', 'FILE_REFERENCE_EXPIRED', 'TELEGRAM_REFUSED_FILE'}  # this file cannot be kept
WAITS = {'FLOOD_WAIT', 'BUDGET_SPENT', 'NO_ACCOUNT', 'ACCOUNT_UNAVAILABLE', 'NO_ACCESS'}  # try again later


def plan(candidates: list[tuple[int, int]], kept: set[int], room: int) -> list[tuple[int, int]]:
    """The files to keep next, newest first: those not kept yet that fit in what is left of the quota (a file too
    big for what is left is passed over for smaller ones)."""
    chosen = []
    for message_id, size in candidates:
        if message_id in kept or size > room:
            continue
        chosen.append((message_id, size))
        room -= size
    return chosen


class MediaPolicyRunner(BackgroundLoop):
    name = 'media policy'

    def __init__(self, *, repos: Repos, media: MediaService, events: EventBus, owner_id: str,
                 clock: Clock | None = None, tick_seconds: float = TICK_SECONDS) -> None:
        self.repos = repos
        self.media = media
        self.events = events
        self.owner_id = owner_id
        self.clock = clock or SystemClock()
        self.tick_seconds = tick_seconds
        super().__init__()
        self._not_before: dict[int, datetime] = {}  # a channel whose work waits (a FloodWait, no account)
        events.watch((PostsStored,), self._heard)  # a policy set or changed wakes it directly (wake())

    def _heard(self, event: PostsStored) -> None:
        if event.new:
            self._wake.set()

    async def turn(self) -> None:
        await self.run_once()

    async def pause(self) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), self._sleep_seconds())
        except TimeoutError:
            pass

    def _sleep_seconds(self) -> float:
        now = self.clock.now()
        soonest = min(((at - now).total_seconds() for at in self._not_before.values()), default=self.tick_seconds)
        return max(0.5, min(self.tick_seconds, soonest))

    async def run_once(self) -> None:
        """One pass: every channel with a policy whose work is not waiting and not another process's."""
        for channel in await self.repos.channels.with_media_policy():
            if self._stopping:
                return
            waits_until = self._not_before.get(channel.id)
            if waits_until is not None and waits_until > self.clock.now():
                continue
            self._not_before.pop(channel.id, None)
            if await self.repos.media.claim_job(channel.id, self.owner_id, lease_seconds=LEASE_SECONDS):
                await self.work(channel)

    async def work(self, channel: Channel) -> None:
        policy = channel.media_policy
        storage = await self.repos.media.storage(channel.id)
        used = sum(entry['bytes'] for entry in storage.values())
        candidates = await self.repos.posts.files_to_keep(channel.id, policy.types, policy.max_file_bytes)
        kept = await self.repos.media.kept_ids(channel.id)
        todo = plan(candidates, kept, policy.quota_bytes - used)
        if not todo:
            quota_full = any(message_id not in kept for message_id, _ in candidates)  # left: none fits any more
            job = await self.repos.media.job(channel.id) or {}
            if job.get('status') != 'done' or job.get('quota_full') != quota_full:
                await self._save(channel.id, status='done', wait_until=None, reason=None, eta_seconds=0,
                                 quota_full=quota_full)
            return
        total_bytes = sum(size for _, size in todo)
        left_out = sum(message_id not in kept for message_id, _ in candidates) > len(todo)  # no room for them
        await self._save(channel.id, status='running', files_done=0, files_total=len(todo), bytes_done=0,
                         bytes_total=total_bytes, started_at=self.clock.now(), wait_until=None, reason=None,
                         eta_seconds=None, skipped=0, quota_full=left_out)
        began, done_files, done_bytes, skipped = self.clock.now(), 0, 0, 0
        for message_id, size in todo:
            if self._stopping:
                return
            post = await self.repos.posts.get(channel_id=channel.id, message_id=message_id)
            if post is None:
                skipped += 1
                continue
            try:
                await self.media.keep(channel, post)
            except ServiceError as error:
                if error.code in WAITS:
                    seconds = error.retry_after or self.tick_seconds
                    until = self.clock.now() + timedelta(seconds=seconds)
                    self._not_before[channel.id] = until
                    await self._save(channel.id, status='waiting', wait_until=until, reason=error.message,
                                     eta_seconds=None)
                    return
                if error.code not in SKIPPED:
                    raise
                skipped += 1
                logger.info('post {} of channel {}: its file is passed over ({})', message_id, channel.id, error.code)
                continue
            done_files += 1
            done_bytes += size
            elapsed = (self.clock.now() - began).total_seconds()
            left = total_bytes - done_bytes
            eta = round(left * elapsed / done_bytes) if done_bytes and elapsed > 0 else None
            await self._save(channel.id, files_done=done_files, bytes_done=done_bytes, eta_seconds=eta,
                             skipped=skipped)
            await self.repos.media.claim_job(channel.id, self.owner_id, lease_seconds=LEASE_SECONDS)
        await self._save(channel.id, status='done', eta_seconds=0, skipped=skipped, finished_at=self.clock.now())
        logger.info('channel {}: the download policy kept {} files ({} bytes)', channel.id, done_files, done_bytes)

    async def _save(self, channel_id: int, **fields: Any) -> None:
        await self.repos.media.save_job(channel_id, **fields)
        self.events.publish(ChannelChanged(channel_id=channel_id))
