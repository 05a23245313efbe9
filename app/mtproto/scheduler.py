"""Which job runs next, and with which account: the scheduler half of SyncService.

Due channels become queued jobs; queued and waiting jobs whose time has come are claimed and started with the
least busy account that can read the channel (or one that resolves a public channel to read it as well).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger
from telethon import TelegramClient

from app.db.jobs_repo import ACTIVE
from app.db.models import Channel, Job, JobKind, JobStatus, SyncStatus, utcnow
from app.mtproto.channels import ChannelError
from app.mtproto.jobs import start_backfill
from app.mtproto.limits import MethodClass

if TYPE_CHECKING:
    from app.clock import Clock
    from app.db.repos import Repos
    from app.mtproto.channels import ChannelService

MAX_JOBS_PER_ACCOUNT = 2
NO_ACCOUNT_RETRY = 15  # seconds before a job without a usable account looks again
CANNOT_READ_RETRY = 3600  # seconds before an account that failed to resolve a channel tries it again
# A look-up (200 a day, the harshest waits) is spent to spread history only on a backfill with at least this many
# posts left: 20 pages, 20 s of an account's history pace and more. A sync reads a page or a few: never spread.
SPREAD_MIN_POSTS = 2_000
WAIT_FLOOD = 'flood_wait'  # Telegram asked the accounts that can read the channel to wait
WAIT_NO_ACCOUNT = 'no_account'  # no connected account can read the channel
WAIT_BUDGET = 'budget'  # the look-up a job needs waits for a day's budget of the accounts


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

    async def note_revoked(self, account_id: str, reason: str = ...) -> None: ...


class SchedulerMixin:
    repos: Repos
    channels: ChannelService
    accounts: Accounts | None
    owner_id: str
    tick_seconds: float
    orphan_seconds: float
    _running: dict[str, tuple[asyncio.Task, str]]
    _wake: asyncio.Event
    _enqueue_lock: asyncio.Lock
    _started: bool
    _cannot_read: dict[tuple[str, int], datetime]
    _unsized: set[str]
    spread_min_posts: int
    _passes: int
    _pass_done: asyncio.Event
    clock: Clock

    async def _loop(self) -> None:
        while self._started:
            try:
                await self._schedule_due()
                await self._dispatch()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception('sync scheduling failed')
            self._passes += 1
            self._pass_done.set()
            self._pass_done = asyncio.Event()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.tick_seconds)
            except TimeoutError:
                pass

    async def next_pass(self) -> None:
        """Return once a whole scheduling pass has run after this call: a way to wait that needs no sleep."""
        target = self._passes + 2  # the pass under way may have started before the caller's change
        while self._passes < target:
            done = self._pass_done
            self.wake()
            await done.wait()

    async def _schedule_due(self) -> None:
        for channel in await self.repos.channels.due(now=self.clock.now()):
            async with self._enqueue_lock:
                # the list may be stale: a cancel or a finished job since then has moved the channel's next sync
                next_sync = self.clock.now() + timedelta(seconds=channel.sync.interval_seconds)
                if not await self.repos.channels.claim_due(channel.id, next_sync_at=next_sync, now=self.clock.now()):
                    continue
                if await self.repos.jobs.active_for_channel(channel.id) is None:
                    await self._enqueue(channel.id, None)

    async def _dispatch(self) -> None:
        now = self.clock.now()
        for job in await self.repos.jobs.unfinished():
            if job.id in self._running:
                continue
            if job.status == JobStatus.WAITING and job.wait_until and job.wait_until > now:
                continue
            steal_from = None
            if job.status == JobStatus.RUNNING and job.owner != self.owner_id:
                # the database stamps updates with the wall clock: a dead process is judged by it
                if job.updated_at > utcnow() - timedelta(seconds=self.orphan_seconds):
                    continue  # another live process runs it
                steal_from = job.owner  # its process died mid-job: continue from the checkpoint
            channel = await self.repos.channels.get(job.channel_id)
            if channel is None:
                await self._transition(job.id, to=JobStatus.CANCELLED, allowed_from=ACTIVE)
                continue
            chosen = await self._choose_account(channel, job)
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

    async def _choose_account(self, channel: Channel, job: Job) -> tuple[str, TelegramClient] | Wait | None:
        """The account that reads the channel now (the one rule, `ChannelService.able`); None while the accounts
        that can are all busy; else how long to wait.

        History work is spread: when every account that reads a public channel is busy, an idle account with
        look-ups left resolves it once and reads it too, so N accounts backfill N channels side by side; only a
        backfill whose size pays for the look-up is spread (`spread_min_posts`), or a channel no connected account
        can read any more.
        """
        if self.accounts is None:
            return Wait(self.clock.now() + timedelta(seconds=NO_ACCOUNT_RETRY), WAIT_NO_ACCOUNT)
        able = self.channels.able(MethodClass.HISTORY, channel, load=self._busy, prefer=channel.state.account_id)
        holders = [a for a in able if a in channel.access_hashes]
        readers = [a for a in holders if self._busy(a) < MAX_JOBS_PER_ACCOUNT]
        if channel.username and not (readers and self._busy(readers[0]) == 0) \
                and await self._pays_for_a_look_up(channel, job, holders):
            spenders = [a for a in self.channels.able(MethodClass.RESOLVE, load=self._busy)
                        if a in able and a not in channel.access_hashes and self._busy(a) < MAX_JOBS_PER_ACCOUNT
                        and (not holders or self._busy(a) == 0)]  # with a reader to wait for: an idle one only
            for account_id in spenders:
                chosen = await self._read_through(account_id, channel)
                if chosen is not None:
                    return chosen
        for account_id in readers:
            client = self.accounts.client(account_id)
            if client is not None:
                return account_id, client
        if holders:
            return None
        waits = [w for a in channel.access_hashes
                 if (w := self.accounts.flood_wait_until(a, MethodClass.HISTORY)) is not None]
        if waits:
            return Wait(min(waits), WAIT_FLOOD)
        return Wait(self.clock.now() + timedelta(seconds=NO_ACCOUNT_RETRY), WAIT_NO_ACCOUNT)

    async def _pays_for_a_look_up(self, channel: Channel, job: Job, holders: list[str]) -> bool:
        if not holders:
            return True  # no connected account reads it: a look-up is the only way to read it
        if job.kind != JobKind.BACKFILL:
            return False  # a sync reads a page or a few
        top = job.checkpoint.get('top_id') or channel.state.top_message_id or await self._newest_id(channel, job,
                                                                                                      holders)
        return bool(top) and top - channel.state.posts_stored >= self.spread_min_posts

    async def _newest_id(self, channel: Channel, job: Job, holders: list[str]) -> int:
        """The backfill's first request (the newest post's id), made now by a busy account that reads the channel,
        so that the channel's size decides on a look-up; the backfill starts from it. 0 when it cannot be had."""
        assert self.accounts is not None
        if job.id in self._unsized:
            return 0
        self._unsized.add(job.id)  # asked once per job
        account_id = holders[0]
        client = self.accounts.client(account_id)
        if client is None:
            return 0
        try:
            job.checkpoint = await start_backfill(client, self.repos, job,
                                                  self.channels.input_channel(channel, account_id))
        except Exception as error:  # noqa: BLE001 - no size: no look-up; the backfill itself will meet the error
            logger.info('the size of channel {} is not known: {}', channel.id, error)
            return 0
        return job.checkpoint['top_id']

    async def _read_through(self, account_id: str, channel: Channel) -> tuple[str, TelegramClient] | None:
        """Resolve a public channel with another account so that it can read it as well."""
        assert self.accounts is not None
        client = self.accounts.client(account_id)
        retry_at = self._cannot_read.get((account_id, channel.id))
        if client is None or (retry_at is not None and retry_at > self.clock.now()):
            return None
        try:
            await self.channels.add_with_client(client, account_id, f'@{channel.username}')
        except ChannelError as error:
            logger.info('account {} cannot read channel {}: {}', account_id, channel.id, error.message)
            wait = max(error.retry_after or 0, CANNOT_READ_RETRY)
            self._cannot_read[(account_id, channel.id)] = self.clock.now() + timedelta(seconds=wait)
            return None
        return account_id, client
