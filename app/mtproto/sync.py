"""SyncService: runs backfill and sync jobs, schedules channels, paces accounts, waits out FloodWaits.

Its public actions and lifecycle live here; which job runs next is in scheduler.py, running one in runner.py.

- Every channel is synced every `sync.interval_seconds`; a new channel is backfilled first.
- A job runs with one account that can read the channel (the least busy one); on FloodWait the job goes
  `waiting` until `wait_until` and is picked up again by itself, possibly by another account.
- Jobs survive restarts: a running job whose process died (no update for `orphan_seconds`) is claimed again
  and continues from its checkpoint; queued and waiting jobs are simply picked up.
- Live updates (app.mtproto.live) are attached to every connected account through the AccountManager.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from telethon import TelegramClient

from app.clock import Clock
from app.db.channel_directory import ChannelDirectory
from app.db.channel_list import ChannelQuery
from app.db.jobs_repo import ACTIVE
from app.db.models import Channel, Job, JobKind, JobStatus, SyncStatus
from app.events import ChannelChanged, JobChanged, PostsStored
from app.i18n import lazy
from app.mtproto.channels import ChannelError, ChannelService
from app.mtproto.jobs import done_ranges
from app.mtproto.live import LiveUpdates
from app.mtproto.runner import RunnerMixin
from app.mtproto.scheduler import (
    SPREAD_MIN_POSTS,
    WAIT_BUDGET,
    WAIT_FLOOD,
    WAIT_NO_ACCOUNT,
    Accounts,
    SchedulerMixin,
    Wait,
)

if TYPE_CHECKING:
    from app.db.post_writer import WriteResult
    from app.db.repos import Repos

__all__ = ['WAIT_BUDGET', 'WAIT_FLOOD', 'WAIT_NO_ACCOUNT', 'SyncService', 'Wait']

STOP_WAIT = 30.0  # seconds a pause or cancel waits for the batch in flight; a write takes well under one


class SyncService(SchedulerMixin, RunnerMixin):
    def __init__(self, *, repos: Repos, channels: ChannelService, accounts: Accounts | None, owner_id: str,
                 tick_seconds: float = 2.0, orphan_seconds: float = 90.0, clock: Clock | None = None,
                 spread_min_posts: int = SPREAD_MIN_POSTS) -> None:
        self.repos = repos
        self.spread_min_posts = spread_min_posts  # a backfill this long pays for a look-up to spread it
        self.channels = channels
        self.events = channels.events  # one bus for the services that work on channels
        self.accounts = accounts
        self.owner_id = owner_id
        self.clock = clock or channels.clock
        self.tick_seconds = tick_seconds
        # A running job whose record has not changed for this long belongs to a process that died.
        self.orphan_seconds = orphan_seconds
        self.live = LiveUpdates(repos, self.events, on_reconnect=self._catch_up)
        repos.writer.listeners['bus'] = self._announce_write
        # what the channel list filters and sorts by
        self.directory = ChannelDirectory(repos, self.events, clock=self.clock)
        self._running: dict[str, tuple[asyncio.Task, str]] = {}  # job id -> (task, account id)
        self._stop_reason: dict[str, JobStatus] = {}
        self._wake = asyncio.Event()
        self._passes = 0
        self._pass_done = asyncio.Event()
        self._enqueue_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._started = False
        # (account, channel) pairs that failed to resolve: not tried again before then, so never in a loop
        self._cannot_read: dict[tuple[str, int], datetime] = {}
        self._unsized: set[str] = set()  # backfills whose size was asked for, to decide on a look-up
        self._reresolved: dict[tuple[str, int], datetime] = {}  # when an invalid access hash was last resolved
        channels.on_added.append(self._on_channel_added)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._wake = asyncio.Event()
        if self.accounts is not None:
            self.accounts.add_listener(self._on_connected, self._on_disconnected)
        self._spawn(self._loop(), 'sync-loop')

    async def stop(self) -> None:
        self._started = False
        self.live.detach_all()
        for job_id, (task, _) in list(self._running.items()):
            self._stop_reason[job_id] = JobStatus.QUEUED
            task.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def wake(self) -> None:
        self._wake.set()

    def is_running(self, job_id: str) -> bool:
        """Whether this process is running the job now; a stopped job's run ends after its batch in flight."""
        return job_id in self._running

    # ------------------------------------------------------------ writes that announce themselves

    async def _set_state(self, channel_id: int, **fields: Any) -> None:
        await self.repos.channels.set_state(channel_id, **fields)
        self.events.publish(ChannelChanged(channel_id=channel_id))

    def _announce_write(self, written: WriteResult) -> None:
        content = (written.created, written.edited, written.restored, written.deleted)
        if any(content):  # counters alone change nothing a page shows at once
            self.events.publish(PostsStored(
                channel_id=written.channel_id, new=tuple(written.created),
                edited=tuple(written.edited + written.restored), deleted=tuple(written.deleted),
                posts_stored=written.posts_stored))

    def _job_changed(self, job: Job) -> Job:
        self.events.publish(JobChanged(job_id=job.id, channel_id=job.channel_id, status=job.status.value,
                                       done=job.progress.done, total=job.progress.total or 0))
        return job

    async def _transition(self, job_id: str, **fields: Any) -> Job | None:
        job = await self.repos.jobs.transition(job_id, **fields)
        return self._job_changed(job) if job is not None else None

    async def _update_job(self, job_id: str, **fields: Any) -> Job | None:
        job = await self.repos.jobs.update(job_id, **fields)
        return self._job_changed(job) if job is not None else None

    # ------------------------------------------------------------ public actions

    async def enqueue(self, channel_id: int, *, kind: JobKind | None = None) -> Job:
        """Queue a job for the channel ("sync now"); an active job of the channel is returned instead."""
        async with self._enqueue_lock:  # one check-then-create at a time, so a channel never gets two jobs
            return await self._enqueue(channel_id, kind)

    async def _enqueue(self, channel_id: int, kind: JobKind | None) -> Job:
        active = await self.repos.jobs.active_for_channel(channel_id)
        if active is not None:
            if active.status == JobStatus.PAUSED:
                return await self.resume(active.id) or active
            # a running job may already have read past what was posted since, and an audit or the reading of older
            # comments reads no new posts at all: one more sync follows either
            if not active.follow_up and (active.status == JobStatus.RUNNING
                                         or active.kind in (JobKind.AUDIT, JobKind.COMMENTS)):
                return await self._update_job(active.id, follow_up=True) or active
            return active
        channel = await self.repos.channels.get(channel_id)
        if channel is None:
            raise ChannelError(404, 'CHANNEL_NOT_FOUND', lazy('No such channel is stored.'))
        if kind is None:
            kind = JobKind.SYNC if channel.state.backfilled else JobKind.BACKFILL
        checkpoint = await self._stored_ranges(channel_id) if kind == JobKind.BACKFILL else None
        job = self._job_changed(await self.repos.jobs.create(kind=kind, channel_id=channel_id, checkpoint=checkpoint))
        await self._set_state(channel_id, status=SyncStatus.QUEUED, job_id=job.id, error=None)
        self.wake()
        return job

    async def _stored_ranges(self, channel_id: int) -> dict[str, Any] | None:
        """What an earlier, unfinished backfill of the channel stored completely, for the next one to skip."""
        previous = await self.repos.jobs.latest_for_channel(channel_id, JobKind.BACKFILL)
        if previous is None or previous.status == JobStatus.DONE:
            return None
        ranges = done_ranges(previous.checkpoint)
        return {'done_ranges': ranges} if ranges else None

    async def pause(self, job_id: str) -> Job | None:
        job = await self._transition(
            job_id, to=JobStatus.PAUSED, allowed_from=(JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING))
        if job is not None:
            stopping = self._cancel_task(job_id, JobStatus.PAUSED)
            await self._set_state(job.channel_id, status=SyncStatus.PAUSED)
            await self._stopped(stopping)
        return job

    async def resume(self, job_id: str) -> Job | None:
        job = await self._transition(job_id, to=JobStatus.QUEUED, allowed_from=(JobStatus.PAUSED,))
        if job is not None:
            await self._set_state(job.channel_id, status=SyncStatus.QUEUED)
            self.wake()
        return job

    async def cancel(self, job_id: str) -> Job | None:
        async with self._enqueue_lock:  # so the scheduler cannot queue a new job between these two writes
            job = await self._transition(job_id, to=JobStatus.CANCELLED, allowed_from=ACTIVE)
            if job is None:
                return None
            stopping = self._cancel_task(job_id, JobStatus.CANCELLED)
            channel = await self.repos.channels.get(job.channel_id)
            if channel is not None:  # the cancelled run stands for this interval's: no new one right away
                top = channel.state.top_message_id or job.checkpoint.get('top_id') or 0  # "5,300 of about 20,000"
                await self._set_state(
                    channel.id, status=SyncStatus.IDLE, top_message_id=top,
                    next_sync_at=self.clock.now() + timedelta(seconds=channel.sync.interval_seconds))
        await self._stopped(stopping)
        return job

    async def set_schedule(self, channel_id: int, *, enabled: bool | None = None,
                           interval_seconds: int | None = None) -> None:
        """Turn scheduled syncs on or off and/or change their interval; the next one is due one interval from now."""
        await self.repos.channels.set_sync_settings(channel_id, enabled=enabled, interval_seconds=interval_seconds)
        channel = await self.repos.channels.get(channel_id)
        if channel is not None and channel.sync.enabled:
            await self._set_state(
                channel_id, next_sync_at=self.clock.now() + timedelta(seconds=channel.sync.interval_seconds))
        elif channel is not None:
            self.events.publish(ChannelChanged(channel_id=channel_id))

    async def pause_channel(self, channel_id: int) -> None:
        """Stop all work on a channel until it is resumed: its active job pauses and its schedule is switched off."""
        active = await self.repos.jobs.active_for_channel(channel_id)
        if active is not None and active.status != JobStatus.PAUSED:
            await self.pause(active.id)
        await self.set_schedule(channel_id, enabled=False)

    async def resume_channel(self, channel_id: int) -> None:
        active = await self.repos.jobs.active_for_channel(channel_id)
        if active is not None and active.status == JobStatus.PAUSED:
            await self.resume(active.id)
        await self.set_schedule(channel_id, enabled=True)

    async def delete_channel(self, channel_id: int, *, keep_files: bool = True) -> bool:
        active = await self.repos.jobs.active_for_channel(channel_id)
        if active is not None:
            await self.cancel(active.id)
        return await self.channels.delete(channel_id, keep_files=keep_files)

    def _cancel_task(self, job_id: str, reason: JobStatus) -> asyncio.Task | None:
        entry = self._running.get(job_id)
        if entry is None:
            return None
        self._stop_reason[job_id] = reason
        entry[0].cancel()
        return entry[0]

    @staticmethod
    async def _stopped(task: asyncio.Task | None) -> None:
        """Wait for a stopped job's run to end (its batch in flight written and counted), so a pause or cancel
        that returns leaves the channel's count and checkpoint as they stay."""
        if task is not None and task is not asyncio.current_task():
            await asyncio.wait({task}, timeout=STOP_WAIT)

    # ------------------------------------------------------------ hooks

    async def _on_channel_added(self, channel: Channel) -> None:
        await self.enqueue(channel.id, kind=JobKind.BACKFILL)

    async def _on_connected(self, account_id: str, client: TelegramClient) -> None:
        self.live.attach(account_id, client)
        await self._catch_up(account_id)

    async def _catch_up(self, account_id: str) -> None:
        """Whatever happened while this account was away is caught up by a sync of the channels it joined."""
        for channel in await self.repos.channels.list():
            if account_id in channel.joined_by and channel.state.backfilled:
                await self._set_state(channel.id, next_sync_at=self.clock.now())
        self.wake()

    async def _on_disconnected(self, account_id: str) -> None:
        self.live.detach(account_id)
        for job_id, (task, running_account) in list(self._running.items()):
            if running_account == account_id:
                self._stop_reason[job_id] = JobStatus.QUEUED  # another account (or this one, later) continues
                task.cancel()
        self.wake()

    # ------------------------------------------------------------ views for API and pages

    async def channel_stats(self, channel: Channel) -> dict[str, Any]:
        job = await self.repos.jobs.get(channel.state.job_id) if channel.state.job_id else None
        return stats_of(channel, job)

    async def channel_stats_many(self, channels: list[Channel]) -> list[dict[str, Any]]:
        """The stats of a list of channels from one read of their jobs."""
        jobs = await self.repos.jobs.get_many([c.state.job_id for c in channels if c.state.job_id])
        return [stats_of(channel, jobs.get(channel.state.job_id or '')) for channel in channels]

    async def channel_page(self, query: ChannelQuery) -> tuple[list[Channel], list[dict[str, Any]], int]:
        """One page of the channel list with each channel's stats, and the total that matches: the list's index
        chooses the page, then two reads (its channels, their jobs)."""
        ids, total = await self.directory.page(query)
        found = await self.repos.channels.get_many(ids)
        channels = [found[channel_id] for channel_id in ids if channel_id in found]
        return channels, await self.channel_stats_many(channels), total


def stats_of(channel: Channel, job: Job | None) -> dict[str, Any]:
    progress = None
    if job is not None and job.status in ACTIVE:
        progress = {'kind': JobKind(job.kind).value, 'done': job.progress.done, 'total': job.progress.total,
                    'eta_seconds': job.eta_seconds,
                    'status': JobStatus(job.status).value, 'wait_until': job.wait_until,
                    'wait_reason': job.wait_reason}
    status = sync_status(job)
    if status == SyncStatus.IDLE and not channel.sync.enabled:
        status = SyncStatus.PAUSED  # its schedule is off: nothing runs until someone asks
    return {'posts_stored': channel.state.posts_stored, 'last_synced_at': channel.state.last_synced_at,
            'last_post_at': channel.state.last_post_at, 'sync_status': status.value,
            'progress': progress, 'job_id': channel.state.job_id, 'history_complete': channel.state.backfilled,
            'history_total': channel.state.top_message_id or None}


def sync_status(job: Job | None) -> SyncStatus:
    """A channel's sync status, read from its latest job: the job is the one source of it."""
    if job is None or job.status in (JobStatus.DONE, JobStatus.CANCELLED):
        return SyncStatus.IDLE
    if job.status == JobStatus.RUNNING:
        return SyncStatus.BACKFILLING if job.kind == JobKind.BACKFILL else SyncStatus.SYNCING
    return {JobStatus.QUEUED: SyncStatus.QUEUED, JobStatus.WAITING: SyncStatus.WAITING,
            JobStatus.PAUSED: SyncStatus.PAUSED, JobStatus.FAILED: SyncStatus.ERROR}[JobStatus(job.status)]
