"""SyncService: runs backfill and sync jobs, schedules channels, paces accounts, waits out FloodWaits.

- Every channel is synced every `sync.interval_seconds`; a new channel is backfilled first.
- A job runs with one account that can read the channel (the least busy one); on FloodWait the job goes
  `waiting` until `wait_until` and is picked up again by itself, possibly by another account.
- Jobs survive restarts: a running job whose process died (no update for `orphan_seconds`) is claimed again
  and continues from its checkpoint; queued and waiting jobs are simply picked up.
- Live updates (app.mtproto.live) are attached to every connected account through the AccountManager.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger
from telethon import TelegramClient, errors

from app.db.jobs_repo import ACTIVE
from app.db.models import Channel, Job, JobKind, JobStatus, SyncStatus, utcnow
from app.events import ChannelChanged, JobChanged, PostsStored
from app.mtproto.channels import ChannelError, ChannelService
from app.mtproto.jobs import BackfillProgress, backfill, done_ranges, sync_channel
from app.mtproto.limits import MethodClass
from app.mtproto.live import LiveUpdates

if TYPE_CHECKING:
    from app.db.repos import Repos

MAX_JOBS_PER_ACCOUNT = 2
NO_ACCOUNT_RETRY = 15  # seconds before a job without a usable account looks again
CANNOT_READ_RETRY = 3600  # seconds before an account that failed to resolve a channel tries it again
WAIT_FLOOD = 'flood_wait'  # Telegram asked the accounts that can read the channel to wait
WAIT_NO_ACCOUNT = 'no_account'  # no connected account can read the channel
REVOKED_ERRORS = (errors.AuthKeyUnregisteredError, errors.SessionRevokedError, errors.UserDeactivatedError,
                  errors.AuthKeyDuplicatedError, errors.SessionExpiredError, errors.UserDeactivatedBanError)


@dataclass(frozen=True)
class Wait:
    until: datetime
    reason: str


class Accounts(Protocol):
    """What SyncService needs from the AccountManager."""

    def usable_account_ids(self) -> list[str]: ...

    def client(self, account_id: str) -> TelegramClient | None: ...

    def flood_wait_until(self, account_id: str, kind: str | None = None) -> datetime | None: ...

    def add_listener(self, on_connected: Any, on_disconnected: Any) -> None: ...

    async def note_flood_wait(self, account_id: str, seconds: int, kind: str | None = None) -> None: ...

    async def note_revoked(self, account_id: str, reason: str = ...) -> None: ...


class SyncService:
    def __init__(self, *, repos: Repos, channels: ChannelService, accounts: Accounts | None, owner_id: str,
                 tick_seconds: float = 2.0, orphan_seconds: float = 90.0) -> None:
        self.repos = repos
        self.channels = channels
        self.events = channels.events  # one bus for the services that work on channels
        self.accounts = accounts
        self.owner_id = owner_id
        self.tick_seconds = tick_seconds
        # A running job whose record has not changed for this long belongs to a process that died.
        self.orphan_seconds = orphan_seconds
        self.live = LiveUpdates(repos, self.events, on_reconnect=self._catch_up)
        self._running: dict[str, tuple[asyncio.Task, str]] = {}  # job id -> (task, account id)
        self._stop_reason: dict[str, JobStatus] = {}
        self._wake = asyncio.Event()
        self._enqueue_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._started = False
        # (account, channel) pairs that failed to resolve: not tried again before then, so never in a loop
        self._cannot_read: dict[tuple[str, int], datetime] = {}
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

    # ------------------------------------------------------------ writes that announce themselves

    async def _set_state(self, channel_id: int, **fields: Any) -> None:
        await self.repos.channels.set_state(channel_id, **fields)
        self.events.publish(ChannelChanged(channel_id=channel_id))

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
            if active.status == JobStatus.RUNNING and not active.follow_up:
                # it may already have read past what was posted since: one more sync follows it
                return await self._update_job(active.id, follow_up=True) or active
            return active
        channel = await self.repos.channels.get(channel_id)
        if channel is None:
            raise ChannelError(404, 'CHANNEL_NOT_FOUND', 'No such channel is stored.')
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
            self._cancel_task(job_id, JobStatus.PAUSED)
            await self._set_state(job.channel_id, status=SyncStatus.PAUSED)
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
            self._cancel_task(job_id, JobStatus.CANCELLED)
            channel = await self.repos.channels.get(job.channel_id)
            if channel is not None:  # the cancelled run stands for this interval's: no new one right away
                await self._set_state(
                    channel.id, status=SyncStatus.IDLE,
                    next_sync_at=utcnow() + timedelta(seconds=channel.sync.interval_seconds))
        return job

    async def set_schedule(self, channel_id: int, *, enabled: bool | None = None,
                           interval_seconds: int | None = None) -> None:
        """Turn scheduled syncs on or off and/or change their interval; the next one is due one interval from now."""
        await self.repos.channels.set_sync_settings(channel_id, enabled=enabled, interval_seconds=interval_seconds)
        channel = await self.repos.channels.get(channel_id)
        if channel is not None and channel.sync.enabled:
            await self._set_state(
                channel_id, next_sync_at=utcnow() + timedelta(seconds=channel.sync.interval_seconds))

    async def delete_channel(self, channel_id: int) -> bool:
        active = await self.repos.jobs.active_for_channel(channel_id)
        if active is not None:
            await self.cancel(active.id)
        return await self.channels.delete(channel_id)

    def _cancel_task(self, job_id: str, reason: JobStatus) -> None:
        entry = self._running.get(job_id)
        if entry is not None:
            self._stop_reason[job_id] = reason
            entry[0].cancel()

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
                await self._set_state(channel.id, next_sync_at=utcnow())
        self.wake()

    async def _on_disconnected(self, account_id: str) -> None:
        self.live.detach(account_id)
        for job_id, (task, running_account) in list(self._running.items()):
            if running_account == account_id:
                self._stop_reason[job_id] = JobStatus.QUEUED  # another account (or this one, later) continues
                task.cancel()
        self.wake()

    # ------------------------------------------------------------ the loop

    async def _loop(self) -> None:
        while self._started:
            try:
                await self._schedule_due()
                await self._dispatch()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception('sync scheduling failed')
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.tick_seconds)
            except TimeoutError:
                pass

    async def _schedule_due(self) -> None:
        for channel in await self.repos.channels.due():
            async with self._enqueue_lock:
                # the list may be stale: a cancel or a finished job since then has moved the channel's next sync
                next_sync = utcnow() + timedelta(seconds=channel.sync.interval_seconds)
                if not await self.repos.channels.claim_due(channel.id, next_sync_at=next_sync):
                    continue
                if await self.repos.jobs.active_for_channel(channel.id) is None:
                    await self._enqueue(channel.id, None)

    async def _dispatch(self) -> None:
        now = utcnow()
        for job in await self.repos.jobs.unfinished():
            if job.id in self._running:
                continue
            if job.status == JobStatus.WAITING and job.wait_until and job.wait_until > now:
                continue
            steal_from = None
            if job.status == JobStatus.RUNNING and job.owner != self.owner_id:
                if job.updated_at > now - timedelta(seconds=self.orphan_seconds):
                    continue  # another live process runs it
                steal_from = job.owner  # its process died mid-job: continue from the checkpoint
            channel = await self.repos.channels.get(job.channel_id)
            if channel is None:
                await self._transition(job.id, to=JobStatus.CANCELLED, allowed_from=ACTIVE)
                continue
            chosen = await self._choose_account(channel)
            if chosen is None:
                continue  # its accounts are busy with other jobs: it stays queued until one finishes
            if isinstance(chosen, Wait):
                await self._update_job(job.id, status=JobStatus.WAITING, wait_until=chosen.until,
                                             wait_reason=chosen.reason)
                await self._set_state(channel.id, status=SyncStatus.WAITING)
                continue
            account_id, client = chosen
            channel = await self.repos.channels.get(job.channel_id) or channel  # a re-resolve added a hash
            claimed = await self.repos.jobs.claim(job.id, owner=self.owner_id, steal_from=steal_from)
            if claimed is None:
                continue
            self._job_changed(claimed)
            claimed = await self._update_job(job.id, account_id=account_id) or claimed
            task = self._spawn(self._run(claimed, channel, account_id, client), f'job-{job.id}')
            self._running[job.id] = (task, account_id)

    def _busy(self, account_id: str) -> int:
        return sum(1 for _, running_account in self._running.values() if running_account == account_id)

    async def _choose_account(self, channel: Channel) -> tuple[str, TelegramClient] | Wait | None:
        """A usable account that can read the channel; None while they are all busy; else how long to wait.

        History work is spread: when every account that reads a public channel is busy, an idle account with
        resolves left today resolves it once and reads it too, so N accounts backfill N channels side by side.
        """
        if self.accounts is None:
            return Wait(utcnow() + timedelta(seconds=NO_ACCOUNT_RETRY), WAIT_NO_ACCOUNT)
        connected = [a for a in self.accounts.usable_account_ids()
                     if self.accounts.flood_wait_until(a, MethodClass.HISTORY) is None]
        usable = [a for a in connected if self._busy(a) < MAX_JOBS_PER_ACCOUNT]
        readers = sorted((a for a in usable if a in channel.access_hashes),
                         key=lambda a: (self._busy(a), a != channel.state.account_id))
        if channel.username and not (readers and self._busy(readers[0]) == 0):
            others = [a for a in usable if a not in channel.access_hashes]
            if readers or any(a in channel.access_hashes for a in connected):
                # worth a resolve only for an idle account that has one to spend
                others = [a for a in others if self._busy(a) == 0 and self.channels.can_call(a, MethodClass.RESOLVE)]
            for account_id in sorted(others, key=self._busy):
                chosen = await self._read_through(account_id, channel)
                if chosen is not None:
                    return chosen
        if any(a in channel.access_hashes for a in connected) and not readers:
            return None
        for account_id in readers:
            client = self.accounts.client(account_id)
            if client is not None:
                return account_id, client
        waits = [w for a in channel.access_hashes
                 if (w := self.accounts.flood_wait_until(a, MethodClass.HISTORY)) is not None]
        if waits:
            return Wait(min(waits), WAIT_FLOOD)
        return Wait(utcnow() + timedelta(seconds=NO_ACCOUNT_RETRY), WAIT_NO_ACCOUNT)

    async def _read_through(self, account_id: str, channel: Channel) -> tuple[str, TelegramClient] | None:
        """Resolve a public channel with another account so that it can read it as well."""
        assert self.accounts is not None
        client = self.accounts.client(account_id)
        retry_at = self._cannot_read.get((account_id, channel.id))
        if client is None or (retry_at is not None and retry_at > utcnow()):
            return None
        try:
            await self.channels.add_with_client(client, account_id, f'@{channel.username}')
        except ChannelError as error:
            logger.info('account {} cannot read channel {}: {}', account_id, channel.id, error.message)
            wait = max(error.retry_after or 0, CANNOT_READ_RETRY)
            self._cannot_read[(account_id, channel.id)] = utcnow() + timedelta(seconds=wait)
            return None
        return account_id, client

    # ------------------------------------------------------------ running one job

    async def _run(self, job: Job, channel: Channel, account_id: str, client: TelegramClient) -> None:
        try:
            await self.run_job(job, channel, account_id, client)
        except asyncio.CancelledError:
            reason = self._stop_reason.pop(job.id, JobStatus.QUEUED)
            if reason == JobStatus.QUEUED:
                await self._transition(job.id, to=JobStatus.QUEUED, allowed_from=(JobStatus.RUNNING,))
        finally:
            self._running.pop(job.id, None)
            self.wake()

    async def run_job(self, job: Job, channel: Channel, account_id: str, client: TelegramClient) -> None:
        """Run a claimed job to its end, or leave it waiting/queued/failed with a reason."""
        pace = self.channels.limiter.pacer(account_id, MethodClass.HISTORY)
        status = SyncStatus.BACKFILLING if job.kind == JobKind.BACKFILL else SyncStatus.SYNCING
        await self._set_state(channel.id, status=status, job_id=job.id, account_id=account_id)
        try:
            peer = self.channels.input_channel(channel, account_id)
            if job.kind == JobKind.BACKFILL:
                # the count from here on moves with every batch written: right while running, paused or cancelled
                await self.repos.channels.set_state(channel.id, posts_stored=await self.repos.posts.count(
                    channel_id=channel.id))

                async def progress(step: BackfillProgress) -> None:
                    stored = await self.repos.channels.add_posts_stored(channel.id, len(step.new_ids))
                    self.events.publish(PostsStored(channel_id=channel.id, new=tuple(step.new_ids),
                                                    posts_stored=stored))
                    self.events.publish(JobChanged(job_id=job.id, channel_id=channel.id, status=JobStatus.RUNNING,
                                                   done=step.done, total=step.total))
                job = await backfill(client, self.repos, job, peer, pace=pace, on_progress=progress)
                await self._set_state(
                    channel.id, backfilled=True, last_message_id=job.checkpoint.get('top_id', 0),
                    top_message_id=job.checkpoint.get('top_id', 0))
                next_sync = utcnow()  # catch what was posted during the backfill right away
            else:
                channel = await self.channels.refresh(client, account_id, channel)
                result = await sync_channel(
                    client, self.repos, channel.id, peer, last_message_id=channel.state.last_message_id,
                    refresh_days=channel.sync.refresh_days, deep_before=channel.state.deep_check_before, pace=pace)
                await self._set_state(
                    channel.id, last_message_id=max(result.top_id, channel.state.last_message_id),
                    top_message_id=result.top_id, deep_check_before=result.deep_before)
                await self.repos.jobs.save_checkpoint(
                    job.id, checkpoint={'new': result.new, 'updated': result.updated, 'deleted': result.deleted},
                    done=1, total=1, eta_seconds=0)
                next_sync = utcnow() + timedelta(seconds=channel.sync.interval_seconds)
            stored = await self.repos.posts.count(channel_id=channel.id)
            if job.kind == JobKind.SYNC and (result.new_ids or result.edited_ids or result.deleted_ids):
                self.events.publish(PostsStored(channel_id=channel.id, new=tuple(result.new_ids),
                                                edited=tuple(result.edited_ids), deleted=tuple(result.deleted_ids),
                                                posts_stored=stored))
            await self._set_state(
                channel.id, status=SyncStatus.IDLE, last_synced_at=utcnow(), next_sync_at=next_sync,
                posts_stored=stored, error=None)
            finished = await self._transition(job.id, to=JobStatus.DONE, allowed_from=(JobStatus.RUNNING,))
            if finished is not None and finished.follow_up:
                await self.enqueue(channel.id, kind=JobKind.SYNC)
        except errors.FloodWaitError as error:
            until = utcnow() + timedelta(seconds=error.seconds)
            logger.info('account {} must wait {} s (job {})', account_id, error.seconds, job.id)
            if self.accounts is not None:
                await self.accounts.note_flood_wait(account_id, error.seconds, MethodClass.HISTORY)
            await self._transition(job.id, to=JobStatus.WAITING, allowed_from=(JobStatus.RUNNING,),
                                             wait_until=until, wait_reason=WAIT_FLOOD)
            await self._set_state(channel.id, status=SyncStatus.WAITING)
        except errors.ChannelInvalidError:
            await self._access_hash_invalid(job, channel, account_id, client)
        except REVOKED_ERRORS as error:
            logger.warning('account {} lost its session while syncing channel {}', account_id, channel.id)
            if self.accounts is not None:
                await self.accounts.note_revoked(account_id, type(error).__name__)
            await self.repos.channels.forget_account(account_id)
            await self._transition(job.id, to=JobStatus.QUEUED, allowed_from=(JobStatus.RUNNING,))
        except (ChannelError, errors.RPCError, ConnectionError, OSError) as error:
            message = error.message if isinstance(error, ChannelError) else f'{type(error).__name__}: {error}'
            logger.warning('job {} for channel {} failed: {}', job.id, channel.id, message)
            await self._fail(job, channel, message)

    async def _fail(self, job: Job, channel: Channel, message: str) -> None:
        # the channel first: whoever sees the job failed then finds the reason on the channel as well
        await self._set_state(
            channel.id, status=SyncStatus.ERROR, error=message,
            next_sync_at=utcnow() + timedelta(seconds=channel.sync.interval_seconds))
        await self._transition(job.id, to=JobStatus.FAILED, allowed_from=(JobStatus.RUNNING,),
                                         error=message)

    async def _access_hash_invalid(self, job: Job, channel: Channel, account_id: str, client: TelegramClient) -> None:
        """Resolve the channel again, once an hour at most per account, and retry the job with the fresh hash."""
        key = (account_id, channel.id)
        last = self._reresolved.get(key)
        if last is not None and last > utcnow() - timedelta(seconds=CANNOT_READ_RETRY):
            await self._fail(job, channel, "Telegram refuses this account's access to the channel even after "
                             'looking it up again; check that the channel still exists, or read it with another '
                             'account.')
            return
        self._reresolved[key] = utcnow()
        try:
            await self.channels.reresolve(client, account_id, channel)
        except ChannelError as error:
            await self._fail(job, channel, error.message)
            return
        await self._transition(job.id, to=JobStatus.QUEUED, allowed_from=(JobStatus.RUNNING,))

    # ------------------------------------------------------------ views for API and pages

    async def channel_stats(self, channel: Channel) -> dict[str, Any]:
        job = None
        if channel.state.job_id:
            job = await self.repos.jobs.get(channel.state.job_id)
        progress = None
        if job is not None and job.status in ACTIVE:
            progress = {'done': job.progress.done, 'total': job.progress.total, 'eta_seconds': job.eta_seconds,
                        'status': job.status.value if hasattr(job.status, 'value') else job.status,
                        'wait_until': job.wait_until, 'wait_reason': job.wait_reason}
        status = SyncStatus(channel.state.status)
        if progress is not None and job.status in (JobStatus.WAITING, JobStatus.PAUSED):
            status = SyncStatus(job.status.value)  # the job changes first; the channel's copy follows a moment later
        return {'posts_stored': channel.state.posts_stored, 'last_synced_at': channel.state.last_synced_at,
                'sync_status': status.value, 'progress': progress, 'job_id': channel.state.job_id}
