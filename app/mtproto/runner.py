"""Running one claimed job to its end: the runner half of SyncService.

A job ends done, or waiting (FloodWait), queued again (its account went away), or failed with a reason; the
channel's state is written before the job's final status, so whoever sees the job end finds the channel's too.
"""
from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger
from telethon import TelegramClient, errors

from app.db.models import Channel, Job, JobKind, JobStatus, SyncStatus
from app.db.posts_repo import newest_hint
from app.events import JobChanged
from app.mtproto.audit import audit_channel
from app.mtproto.channels import ChannelError
from app.mtproto.comments import CommentsRead, read_comments
from app.mtproto.jobs import BackfillProgress, backfill, sync_channel
from app.mtproto.scheduler import CANNOT_READ_RETRY, WAIT_BUDGET, WAIT_FLOOD, Accounts

if TYPE_CHECKING:
    from app.clock import Clock
    from app.db.repos import Repos
    from app.events import EventBus
    from app.mtproto.channels import ChannelService

WAIT_CODES = ('FLOOD_WAIT', 'BUDGET_SPENT')
REVOKED_ERRORS = (errors.AuthKeyUnregisteredError, errors.SessionRevokedError, errors.UserDeactivatedError,
                  errors.AuthKeyDuplicatedError, errors.SessionExpiredError, errors.UserDeactivatedBanError)


class RunnerMixin:
    repos: Repos
    channels: ChannelService
    accounts: Accounts | None
    events: EventBus
    _running: dict[str, tuple[asyncio.Task, str]]
    _stop_reason: dict[str, JobStatus]
    _reresolved: dict[tuple[str, int], datetime]
    clock: Clock

    async def _run(self, job: Job, channel: Channel, account_id: str, client: TelegramClient) -> None:
        try:
            await self.run_job(job, channel, account_id, client)
        except asyncio.CancelledError:
            reason = self._stop_reason.pop(job.id, JobStatus.QUEUED)
            if reason == JobStatus.QUEUED:
                await self._transition(job.id, to=JobStatus.QUEUED, allowed_from=(JobStatus.RUNNING,))
            # a batch may have been written but not yet counted when the job stopped: count what is there
            with contextlib.suppress(Exception):
                await self._set_state(channel.id, posts_stored=await self.repos.posts.count(channel_id=channel.id))
        finally:
            self._running.pop(job.id, None)
            self.wake()

    async def run_job(self, job: Job, channel: Channel, account_id: str, client: TelegramClient) -> None:
        """Run a claimed job to its end, or leave it waiting/queued/failed with a reason."""
        status = SyncStatus.BACKFILLING if job.kind == JobKind.BACKFILL else SyncStatus.SYNCING
        await self._set_state(channel.id, status=status, job_id=job.id, account_id=account_id)
        audit_next = False  # set by the sync that follows a backfill: the audit comes after it
        comments_next = False  # set by that audit for a channel with comments: their history comes after it
        try:
            peer = self.channels.input_channel(channel, account_id)
            if job.kind == JobKind.BACKFILL:
                # the count from here on moves with every batch written: right while running, paused or cancelled
                await self.repos.channels.set_state(channel.id, posts_stored=await self.repos.posts.count(
                    channel_id=channel.id))

                async def progress(step: BackfillProgress) -> None:  # the post writer has counted and announced
                    self.events.publish(JobChanged(job_id=job.id, channel_id=channel.id, status=JobStatus.RUNNING,
                                                   done=step.done, total=step.total))
                began = self.clock.now()
                job = await backfill(client, self.repos, job, peer, on_progress=progress)
                await self._set_state(
                    channel.id, backfilled=True, last_message_id=job.checkpoint.get('top_id', 0),
                    top_message_id=job.checkpoint.get('top_id', 0), backfill_read_at=began)
                next_sync = self.clock.now()  # catch what was posted during the backfill right away
                newest = job.checkpoint.get('top_id', 0)
            elif job.kind == JobKind.AUDIT:
                async def checked(done: int, total: int) -> None:
                    await self.repos.jobs.save_checkpoint(job.id, checkpoint={}, done=done, total=total,
                                                          eta_seconds=None)
                    self.events.publish(JobChanged(job_id=job.id, channel_id=channel.id, status=JobStatus.RUNNING,
                                                   done=done, total=total))
                newest = newest_hint(channel)
                audit = await audit_channel(client, self.repos, channel.id, peer, newest=newest, progress=checked)
                await self.repos.jobs.save_checkpoint(
                    job.id, checkpoint={'missing': audit.missing, 'refilled': audit.refilled, 'deleted': audit.deleted,
                                        'service': audit.service}, done=audit.missing, total=audit.missing,
                    eta_seconds=0)
                next_sync = channel.state.next_sync_at or self.clock.now()
                comments_next = bool(channel.linked_chat_id) and channel.sync.comment_days > 0
            elif job.kind == JobKind.COMMENTS:
                await self._read_older_comments(client, job, channel, peer)
                next_sync = channel.state.next_sync_at or self.clock.now()
                newest = newest_hint(channel)
            else:
                read_at = channel.state.backfill_read_at
                # right after a backfill, its sync reads only what was posted since: the backfill has just read
                # the refresh window and the channel's metadata
                new_only = read_at is not None and self.clock.now() - read_at < timedelta(
                    seconds=channel.sync.interval_seconds)
                audit_next = new_only
                if not new_only:
                    channel = await self.channels.refresh(client, account_id, channel)
                result = await sync_channel(
                    client, self.repos, channel.id, peer, last_message_id=channel.state.last_message_id,
                    refresh_days=channel.sync.refresh_days, deep_before=channel.state.deep_check_before,
                    new_only=new_only)
                await self._set_state(
                    channel.id, last_message_id=max(result.top_id, channel.state.last_message_id),
                    top_message_id=result.top_id, deep_check_before=result.deep_before, backfill_read_at=None)
                comments = await self._read_recent_comments(client, channel, peer)
                await self.repos.jobs.save_checkpoint(
                    job.id, checkpoint={'new': result.new, 'updated': result.updated, 'deleted': result.deleted,
                                        'comments': {'posts': comments.posts, 'new': len(comments.new),
                                                     'edited': len(comments.edited),
                                                     'deleted': len(comments.deleted)}},
                    done=1, total=1, eta_seconds=0)
                next_sync = self.clock.now() + timedelta(seconds=channel.sync.interval_seconds)
                newest = result.top_id
            stored = await self.repos.posts.count(channel_id=channel.id)
            last_post_at = await self.repos.posts.newest_date(channel_id=channel.id, newest_hint=newest)
            synced = {} if job.kind in (JobKind.AUDIT, JobKind.COMMENTS) else {'last_synced_at': self.clock.now()}
            await self._set_state(channel.id, status=SyncStatus.IDLE, next_sync_at=next_sync, posts_stored=stored,
                                  last_post_at=last_post_at, error=None, **synced)
            finished = await self._transition(job.id, to=JobStatus.DONE, allowed_from=(JobStatus.RUNNING,))
            if finished is not None and finished.follow_up:
                await self.enqueue(channel.id, kind=JobKind.SYNC)
            elif audit_next:  # prove what it holds: ask about the ids the history left out
                await self.enqueue(channel.id, kind=JobKind.AUDIT)
            elif comments_next:  # the comments of the posts older than a sync reads again
                await self.enqueue(channel.id, kind=JobKind.COMMENTS)
        except errors.FloodWaitError as error:
            logger.info('account {} must wait {} s (job {})', account_id, error.seconds, job.id)
            await self._wait(job, channel, error.seconds)
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
        except Exception:  # a defect: the job fails where people see it, not silently "running" for ever
            error_id = uuid.uuid4().hex[:8]
            logger.exception('job {} for channel {} failed unexpectedly (error id {})', job.id, channel.id, error_id)
            await self._fail(job, channel, f'Unexpected error {error_id}; the server log has its details.')

    async def _read_recent_comments(self, client: TelegramClient, channel: Channel, peer: Any) -> CommentsRead:
        """The comments of the posts of the last `comment_days` that have comments, read again (new, edited,
        deleted ones); nothing for a channel without a discussion group."""
        read = CommentsRead()
        days = channel.sync.comment_days
        if not channel.linked_chat_id or days <= 0:
            return read
        for post_id in await self.repos.posts.commented(channel.id, since=self.clock.now() - timedelta(days=days)):
            await read_comments(client, self.repos, channel, peer, post_id, read)
        return read

    async def _read_older_comments(self, client: TelegramClient, job: Job, channel: Channel, peer: Any) -> None:
        """Once per channel: the comments of the posts older than a sync's window, newest first; the checkpoint
        keeps the last post done, so a stopped job goes on from there."""
        if not channel.linked_chat_id:
            return
        window = self.clock.now() - timedelta(days=max(0, channel.sync.comment_days))
        below = job.checkpoint.get('below_id')
        post_ids = await self.repos.posts.commented(channel.id, before=window, below_id=below)
        done, total = job.progress.done or 0, (job.progress.done or 0) + len(post_ids)
        read = CommentsRead()
        began = self.clock.now()
        for post_id in post_ids:
            await read_comments(client, self.repos, channel, peer, post_id, read)
            done += 1
            elapsed = (self.clock.now() - began).total_seconds()
            eta = round(elapsed / read.posts * (total - done)) if read.posts and elapsed > 0 else None
            await self.repos.jobs.save_checkpoint(job.id, checkpoint={'below_id': post_id, 'new': len(read.new)},
                                                  done=done, total=total, eta_seconds=eta)
            self.events.publish(JobChanged(job_id=job.id, channel_id=channel.id, status=JobStatus.RUNNING,
                                           done=done, total=total))

    async def _wait(self, job: Job, channel: Channel, seconds: float, reason: str = WAIT_FLOOD) -> None:
        """Telegram asked to wait (or a day's budget is spent): the job goes on by itself once it is over."""
        await self._transition(job.id, to=JobStatus.WAITING, allowed_from=(JobStatus.RUNNING,),
                               wait_until=self.clock.now() + timedelta(seconds=seconds), wait_reason=reason)
        await self._set_state(channel.id, status=SyncStatus.WAITING)

    async def _fail(self, job: Job, channel: Channel, message: str) -> None:
        # the channel first: whoever sees the job failed then finds the reason on the channel as well
        await self._set_state(
            channel.id, status=SyncStatus.ERROR, error=message,
            next_sync_at=self.clock.now() + timedelta(seconds=channel.sync.interval_seconds))
        await self._transition(job.id, to=JobStatus.FAILED, allowed_from=(JobStatus.RUNNING,), error=message)

    async def _access_hash_invalid(self, job: Job, channel: Channel, account_id: str, client: TelegramClient) -> None:
        """Resolve the channel again, once an hour at most per account, and retry the job with the fresh hash."""
        key = (account_id, channel.id)
        last = self._reresolved.get(key)
        if last is not None and last > self.clock.now() - timedelta(seconds=CANNOT_READ_RETRY):
            await self._fail(job, channel, "Telegram refuses this account's access to the channel even after "
                             'looking it up again; check that the channel still exists, or read it with another '
                             'account.')
            return
        self._reresolved[key] = self.clock.now()
        try:
            await self.channels.reresolve(client, account_id, channel)
        except ChannelError as error:
            if error.code in WAIT_CODES and error.retry_after:  # the look-up has to wait: so does the job
                del self._reresolved[key]
                await self._wait(job, channel, error.retry_after,
                                 WAIT_BUDGET if error.code == 'BUDGET_SPENT' else WAIT_FLOOD)
                return
            await self._fail(job, channel, error.message)
            return
        await self._transition(job.id, to=JobStatus.QUEUED, allowed_from=(JobStatus.RUNNING,))
