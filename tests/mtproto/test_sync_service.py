"""SyncService with the real AccountManager against the test DC: schedule, sync, live, FloodWait, pause, restart."""
from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import Counter
from datetime import timedelta

import pytest

from app.clock import ManualClock
from app.crypto import SecretBox
from app.db.models import Job, JobKind, JobStatus, utcnow
from app.events import PostsStored
from app.mtproto import runner
from app.mtproto.accounts import AccountManager
from app.mtproto.channels import ChannelError, ChannelService
from app.mtproto.limits import Budget, MethodClass
from app.mtproto.sync import WAIT_NO_ACCOUNT, SyncService
from app.pages.channel_widgets import progress_text
from tests.mtproto.test_login_flows import make_settings
from tests.support import door_client, eventually, unpaced

HANDSHAKE = {'invokeWithLayer', 'initConnection', 'help.getConfig'}  # the connection's own set-up, not a request


class Stack:
    def __init__(self, telegram_dc, repos, tmp_path, clock=None):
        self.telegram_dc = telegram_dc
        self.repos = repos
        self.accounts = AccountManager(settings=make_settings(telegram_dc, tmp_path), repo=repos.accounts,
                                       secret_box=SecretBox('s' * 32), owner_id=f'test-{uuid.uuid4().hex[:6]}',
                                       lease_seconds=3, tick_seconds=0.3, health_seconds=0.5, clock=clock)
        self.channels = ChannelService(repos=repos, accounts=self.accounts, limiter=unpaced(clock))
        self.sync = SyncService(repos=repos, channels=self.channels, accounts=self.accounts,
                                owner_id=self.accounts.owner_id, tick_seconds=0.2)
        self.user_id = None
        self.account_id = None

    async def start(self):
        await self.accounts.start()
        await self.sync.start()
        self.phone = phone = self.telegram_dc.new_phone(6)
        self.user_id = self.telegram_dc.create_user(phone, 'Syncer')
        client = door_client(self.telegram_dc, self.accounts.door)
        user = await self.telegram_dc.login(client, phone)
        self.account_id = await self.accounts.adopt(f'acc-{uuid.uuid4().hex[:6]}', client, user)
        await eventually(lambda: self.account_id in self.accounts.usable_account_ids())

    async def stop(self):
        await self.sync.stop()
        await self.accounts.stop()

    async def job_done(self, channel_id: int, kind: JobKind, timeout: float = 60.0):
        async def finished():
            return await self.repos.jobs.collection.find_one(
                {'channel_id': channel_id, 'kind': kind.value, 'status': JobStatus.DONE.value})
        return await eventually(finished, timeout)

    async def settle(self, channel_id: int, now=None):
        """The backfill, the catch-up sync and the audit that follow it are done; nothing is scheduled soon."""
        await self.job_done(channel_id, JobKind.BACKFILL)
        await self.job_done(channel_id, JobKind.SYNC)
        await self.job_done(channel_id, JobKind.AUDIT)
        await self.repos.channels.set_sync_settings(channel_id, interval_seconds=3600)
        await self.repos.channels.set_state(channel_id, next_sync_at=(now or utcnow()) + timedelta(hours=1))


@pytest.fixture
async def clocked(telegram_dc, repos, tmp_path):
    """The stack on a clock the test moves: every wait is told by it, from the door to the scheduler."""
    made = Stack(telegram_dc, repos, tmp_path, clock=ManualClock())
    await made.start()
    yield made
    await made.stop()
    telegram_dc.clear_faults()


def _name(prefix):
    return f'{prefix}_{uuid.uuid4().hex[:8]}'


async def test_added_channel_is_backfilled_then_sync_finds_new_edited_deleted_posts_and_views(stack, telegram_dc):
    username = _name('sync')
    info = telegram_dc.create_channel('Sync Me', username=username, posts=250, seed=21)  # not joined: no live
    channel_id = info['channel_id']
    stored_events: list[PostsStored] = []
    stack.sync.events.subscribe(PostsStored, stored_events.append)
    result = await stack.channels.add(f'@{username}')
    assert result.created
    await stack.settle(channel_id)
    channel = await stack.repos.channels.get(channel_id)
    assert channel.state.backfilled and channel.state.posts_stored == 250 and channel.state.last_message_id == 250
    # the backfill announced every batch it wrote, with a stored count that went up batch by batch
    await stack.sync.events.drain()
    counts = [e.posts_stored for e in stored_events if e.channel_id == channel_id]
    assert len(counts) >= 2 and counts == sorted(counts) and counts[-1] == 250  # batches may be written together
    assert sorted(i for e in stored_events for i in e.new) == list(range(1, 251))
    assert await stack.repos.posts.count(channel_id=channel_id) == 250

    new_id = telegram_dc.post_message(channel_id, 'brand new #fresh post')
    recent_id = telegram_dc.post_message(channel_id, 'will be edited')
    gone_id = telegram_dc.post_message(channel_id, 'will be deleted')
    job = await stack.sync.enqueue(channel_id)
    assert job.kind == JobKind.SYNC
    await eventually(lambda: _status(stack, job.id, JobStatus.DONE))
    assert (await stack.repos.posts.get(channel_id=channel_id, message_id=gone_id)).deleted is False

    telegram_dc.edit_message(channel_id, recent_id, 'edited text')
    telegram_dc.delete_messages(channel_id, [gone_id])
    telegram_dc.set_views(channel_id, new_id, 4242)
    newer_id = telegram_dc.post_message(channel_id, 'one more')
    first = await stack.repos.jobs.latest_for_channel(channel_id)
    announced = asyncio.ensure_future(stack.sync.events.next(PostsStored, lambda e: e.channel_id == channel_id))
    second = await stack.sync.enqueue(channel_id)
    assert second.id != first.id
    await eventually(lambda: _status(stack, second.id, JobStatus.DONE))
    changes = await announced
    assert changes.new == (newer_id,) and changes.edited == (recent_id,) and changes.deleted == (gone_id,)

    posts = stack.repos.posts
    assert (await posts.get(channel_id=channel_id, message_id=newer_id)).text == 'one more'
    edited = await posts.get(channel_id=channel_id, message_id=recent_id)
    assert edited.text == 'edited text' and edited.edit_date is not None
    deleted = await posts.get(channel_id=channel_id, message_id=gone_id)
    assert deleted.deleted and deleted.text == 'will be deleted'  # marked, never removed
    assert (await posts.get(channel_id=channel_id, message_id=new_id)).views == 4242
    assert (await stack.repos.channels.get(channel_id)).state.last_message_id == newer_id
    assert len(await stack.repos.metrics.series(channel_id=channel_id)) >= 3  # one subscriber snapshot per sync
    # Recent posts get an hourly views/forwards/reactions snapshot: the first sync took it, the second was too soon.
    history = await stack.repos.metrics.post_series(channel_id=channel_id, message_id=new_id)
    assert len(history) == 1 and history[0].values['views'] != 4242
    assert set(history[0].values) == {'views', 'forwards', 'replies', 'reactions'}


async def _status(stack, job_id, status):
    job = await stack.repos.jobs.get(job_id)
    return job if job and job.status == status else None


@pytest.mark.parametrize('method', ['messages.getHistory', 'channels.getFullChannel', 'contacts.resolveUsername'])
async def test_flood_wait_makes_the_job_wait_then_it_completes_by_itself(clocked, telegram_dc, method):
    clock = clocked.accounts.clock
    username = _name('flood')
    info = telegram_dc.create_channel('Flooded', username=username, posts=120, seed=22)
    await clocked.channels.add(f'@{username}')
    await clocked.settle(info['channel_id'], now=clock.now())
    if method == 'contacts.resolveUsername':  # Telegram calls the stored access hash invalid: looked up again
        await clocked.repos.channels.collection.update_one(
            {'_id': info['channel_id']}, {'$bit': {f'access_hashes.{clocked.account_id}': {'xor': 0x5A5A}}})
    telegram_dc.add_fault(method, 'FLOOD_WAIT', seconds=420, count=1)
    job = await clocked.sync.enqueue(info['channel_id'])
    waiting = await eventually(lambda: _status(clocked, job.id, JobStatus.WAITING), timeout=30, interval=0.02)
    assert abs(waiting.wait_until - (clock.now() + timedelta(seconds=420))) < timedelta(milliseconds=1)
    stats = await clocked.sync.channel_stats(await clocked.repos.channels.get(info['channel_id']))
    assert stats['sync_status'] == 'waiting' and stats['progress']['wait_until'] == waiting.wait_until
    await clock.advance(419)
    await clocked.sync.next_pass()
    assert (await clocked.repos.jobs.get(job.id)).status == JobStatus.WAITING  # not a second early
    await clock.advance(2)
    clocked.sync.wake()
    done = await eventually(lambda: _status(clocked, job.id, JobStatus.DONE), timeout=20)
    assert done.error is None


async def test_every_request_passes_the_door_and_is_counted_there(stack, telegram_dc):
    door = stack.accounts.door
    before = Counter(door.sent_by(stack.account_id))
    telegram_dc.reset_stats()
    info = telegram_dc.create_channel('Counted', username=_name('counted'), posts=250, seed=24)
    telegram_dc.add_member(info['channel_id'], stack.user_id)
    await stack.channels.add(f'@{info["username"]}')
    await stack.settle(info['channel_id'])
    telegram_dc.post_message(info['channel_id'], 'a live post')
    telegram_dc.disconnect_all()  # a reconnect: getUsers, getState and the catch-up's differences
    await eventually(lambda: stack.account_id in stack.accounts.usable_account_ids(), timeout=30)
    await stack.sync.enqueue(info['channel_id'])
    await eventually(lambda: _status_of_latest(stack, info['channel_id'], JobStatus.DONE), timeout=30)

    def received() -> Counter:
        calls = telegram_dc.stats()['users'].get(str(stack.user_id), {})
        return Counter({name: call['calls'] for name, call in calls.items() if name not in HANDSHAKE})

    def sent_now() -> Counter:
        return Counter(door.sent_by(stack.account_id)) - before

    with contextlib.suppress(AssertionError):  # the last answers may still be on their way
        await eventually(lambda: sent_now() == received(), timeout=10)
    sent = sent_now()
    assert sent == received(), f'the door counted {dict(sent)}, the DC received {dict(received())}'
    assert {'messages.getHistory', 'contacts.resolveUsername', 'channels.getFullChannel', 'users.getUsers',
            'updates.getState'} <= set(sent), sent
    assert telegram_dc.stats()['flood_waits'] == []


async def _status_of_latest(stack, channel_id, status):
    job = await stack.repos.jobs.collection.find_one({'channel_id': channel_id}, sort=[('created_at', -1)])
    return job if job and job['status'] == status.value else None


async def test_a_resolve_wait_outlives_logging_the_account_out_and_in_again(stack, telegram_dc):
    username = telegram_dc.create_channel('Wanted', username=_name('wanted'), posts=3)['username']
    telegram_dc.add_fault('contacts.resolveUsername', 'FLOOD_WAIT', seconds=540)
    with pytest.raises(ChannelError):
        await stack.channels.add(f'@{username}')
    assert await stack.accounts.log_out(stack.account_id) == 'logged_out'
    client = door_client(telegram_dc, stack.accounts.door)
    again = await stack.accounts.adopt('acc-again', client, await telegram_dc.login(client, stack.phone))
    assert again == stack.account_id  # the same Telegram user: the same record, with its waits
    await eventually(lambda: again in stack.accounts.usable_account_ids())
    telegram_dc.reset_stats()
    with pytest.raises(ChannelError) as refused:
        await stack.channels.add(f'@{username}')
    assert refused.value.code == 'FLOOD_WAIT' and 530 <= refused.value.retry_after <= 540
    calls = telegram_dc.stats()['users'].get(str(stack.user_id), {})
    assert 'contacts.resolveUsername' not in calls, 'the new login asked Telegram during the wait'


async def test_removing_the_account_and_logging_in_again_keeps_what_telegram_counts(stack, telegram_dc):
    names = [telegram_dc.create_channel(f'Counted {i}', username=_name('count'), posts=3)['username'] for i in range(2)]
    await stack.channels.add(f'@{names[0]}')
    telegram_dc.add_fault('contacts.resolveUsername', 'FLOOD_WAIT', seconds=540)
    with pytest.raises(ChannelError):
        await stack.channels.add(f'@{names[1]}')
    assert await stack.accounts.log_out(stack.account_id) == 'logged_out'
    assert await stack.accounts.log_out(stack.account_id) == 'removed'  # gone from the list
    client = door_client(telegram_dc, stack.accounts.door)
    again = await stack.accounts.adopt('acc-new-record', client, await telegram_dc.login(client, stack.phone))
    assert again == 'acc-new-record'  # a new record of the same Telegram user: Telegram's counts follow it
    await eventually(lambda: again in stack.accounts.usable_account_ids())
    assert stack.channels.limiter.left_today(again, MethodClass.RESOLVE) == 200 - 2
    telegram_dc.reset_stats()
    with pytest.raises(ChannelError) as refused:
        await stack.channels.add(f'@{names[1]}')
    assert refused.value.code == 'FLOOD_WAIT' and 530 <= refused.value.retry_after <= 540
    assert 'contacts.resolveUsername' not in telegram_dc.stats()['users'].get(str(stack.user_id), {})


async def test_the_sync_after_a_backfill_reads_only_what_was_posted_since(stack, telegram_dc):
    info = telegram_dc.create_channel('Read once', username=_name('once'), posts=200, seed=26)
    for i in range(150):  # posted this week: inside the sync's 7-day refresh window
        telegram_dc.post_message(info['channel_id'], f'recent {i}')
    telegram_dc.reset_stats()
    await stack.channels.add(f'@{info["username"]}')
    await stack.settle(info['channel_id'])
    calls = telegram_dc.stats()['users'][str(stack.user_id)]
    # the backfill: the newest id, then 350 posts in pages of 100 (4 pages); its sync: the newest page, once
    assert calls['messages.getHistory']['calls'] == 1 + 4 + 1, calls
    assert calls['channels.getFullChannel']['calls'] == 1  # when it was added, not again for the sync
    assert await stack.repos.posts.count(channel_id=info['channel_id']) == 350

    edited = telegram_dc.post_message(info['channel_id'], 'to be corrected')
    await stack.sync.enqueue(info['channel_id'])  # the next sync reads the window again: edits are seen
    await eventually(lambda: _status_of_latest(stack, info['channel_id'], JobStatus.DONE), timeout=30)
    telegram_dc.edit_message(info['channel_id'], edited, 'corrected')
    await stack.sync.enqueue(info['channel_id'])
    await eventually(lambda: _text(stack.repos.posts, info['channel_id'], edited, 'corrected'), timeout=30)


async def test_a_sync_is_read_by_its_own_busy_account_rather_than_spend_a_look_up(stack, telegram_dc):
    small = telegram_dc.create_channel('Small', username=_name('small'), posts=50, seed=27)
    await stack.channels.add(f'@{small["username"]}')
    await stack.settle(small['channel_id'])
    phone = telegram_dc.new_phone(8)
    second_user_id = telegram_dc.create_user(phone, 'Idle')
    client = door_client(telegram_dc, stack.accounts.door)
    second = await stack.accounts.adopt(f'acc-{uuid.uuid4().hex[:6]}', client, await telegram_dc.login(client, phone))
    await eventually(lambda: second in stack.accounts.usable_account_ids())
    stack.channels.limiter.set_budget(MethodClass.HISTORY, Budget(per_second=3))  # the big backfill takes seconds
    big = telegram_dc.create_channel('Big', username=_name('big'), posts=1500, seed=28)
    await stack.channels.add(f'@{big["username"]}')
    await eventually(lambda: _status_of_latest(stack, big['channel_id'], JobStatus.RUNNING), interval=0.02)
    telegram_dc.reset_stats()

    job = await stack.sync.enqueue(small['channel_id'])  # its only reader is busy with the big backfill
    done = await eventually(lambda: _status(stack, job.id, JobStatus.DONE), timeout=30)
    assert done.account_id == stack.account_id
    assert 'contacts.resolveUsername' not in telegram_dc.stats()['users'].get(str(second_user_id), {})


async def test_live_updates_arrive_and_missed_ones_are_caught_up(stack, telegram_dc):
    info = telegram_dc.create_channel('Live', username=_name('live'), posts=30, seed=23)
    channel_id = info['channel_id']
    telegram_dc.add_member(channel_id, stack.user_id)
    result = await stack.channels.add(f'-100{channel_id}')
    assert stack.account_id in result.channel.joined_by
    await stack.settle(channel_id)
    posts = stack.repos.posts

    new_id = telegram_dc.post_message(channel_id, 'live news')
    assert (await eventually(lambda: posts.get(channel_id=channel_id, message_id=new_id), timeout=10)).text == \
        'live news'
    telegram_dc.edit_message(channel_id, new_id, 'live news, corrected')
    await eventually(lambda: _text(posts, channel_id, new_id, 'live news, corrected'), timeout=10)
    telegram_dc.delete_messages(channel_id, [new_id])
    await eventually(lambda: _deleted(posts, channel_id, new_id), timeout=10)
    assert not await stack.repos.jobs.active_for_channel(channel_id)  # all of it without a sync job

    telegram_dc.disconnect_all()
    missed_id = telegram_dc.post_message(channel_id, 'posted while the connection was down')
    await eventually(lambda: posts.get(channel_id=channel_id, message_id=missed_id), timeout=30)


async def _text(posts, channel_id, message_id, text):
    post = await posts.get(channel_id=channel_id, message_id=message_id)
    return post is not None and post.text == text


async def _deleted(posts, channel_id, message_id):
    post = await posts.get(channel_id=channel_id, message_id=message_id)
    return post is not None and post.deleted


async def test_pause_resume_and_cancel(stack, telegram_dc):
    # 30 batches take 9 s: time to pause it even on a loaded machine
    stack.channels.limiter.set_budget(MethodClass.HISTORY, Budget(per_second=1 / 0.3))
    info = telegram_dc.create_channel('Big', username=_name('big'), posts=3000, seed=24)
    channel_id = info['channel_id']
    await stack.channels.add(f'@{info["username"]}')
    job = await eventually(lambda: stack.repos.jobs.active_for_channel(channel_id))

    async def started():
        current = await stack.repos.jobs.get(job.id)
        return current.progress.done > 0
    await eventually(started)
    paused = await stack.sync.pause(job.id)
    assert paused.status == JobStatus.PAUSED

    assert not stack.sync.is_running(job.id)  # the pause returns once its batch in flight is written
    frozen = (await stack.repos.jobs.get(job.id)).progress.done
    await stack.sync.next_pass()  # the schedule must not take a paused job up again
    assert not stack.sync.is_running(job.id)
    still = await stack.repos.jobs.get(job.id)
    assert still.status == JobStatus.PAUSED and still.progress.done == frozen < 3000
    stack.channels.limiter.set_budget(MethodClass.HISTORY, Budget(per_second=1000, burst=50))
    await stack.sync.resume(job.id)
    await eventually(lambda: _status(stack, job.id, JobStatus.DONE), timeout=60)
    assert await stack.repos.posts.count(channel_id=channel_id) == 3000

    await stack.repos.channels.set_state(channel_id, next_sync_at=utcnow())  # due, as right after any backfill
    sync_job = await stack.sync.enqueue(channel_id)
    cancelled = await stack.sync.cancel(sync_job.id)
    assert cancelled.status == JobStatus.CANCELLED
    assert await stack.repos.jobs.active_for_channel(channel_id) is None
    await stack.sync.next_pass()  # the schedule must not start another one straight away
    assert (await stack.repos.jobs.latest_for_channel(channel_id)).id == sync_job.id


async def test_unfinished_job_of_a_dead_process_is_resumed_from_its_checkpoint(stack, telegram_dc, repos):
    info = telegram_dc.create_channel('Orphan', username=_name('orphan'), posts=400, seed=25)
    channel_id = info['channel_id']
    await stack.sync.stop()  # the process that "died": nothing schedules this channel meanwhile
    stack.channels.on_added.clear()  # add without the automatic backfill
    await stack.channels.add(f'@{info["username"]}')
    # no scheduled sync after the backfill: its first page (posts 301-400) would blur what the backfill fetched
    await repos.channels.set_sync_settings(channel_id, enabled=False)
    job = await repos.jobs.create(kind=JobKind.BACKFILL, channel_id=channel_id, checkpoint={'top_id': 400,
                                                                                          'offset_id': 201})
    await repos.jobs.update(job.id, status=JobStatus.RUNNING, owner='a-process-that-died')
    restarted = SyncService(repos=repos, channels=stack.channels, accounts=stack.accounts, owner_id='new-owner',
                            tick_seconds=0.2, orphan_seconds=1.5)
    stack.sync = restarted
    await restarted.start()
    await restarted.next_pass()  # a whole pass, well within the 1.5 s a silent process is given
    running = await repos.jobs.get(job.id)
    assert running.owner == 'a-process-that-died' and running.progress.done == 0  # not taken while it may be alive
    await eventually(lambda: _status(stack, job.id, JobStatus.DONE), timeout=30)
    assert (await repos.jobs.get(job.id)).owner == 'new-owner'
    # only ids below the checkpoint were fetched: the ones above were "already stored" by the dead process
    ids = await repos.posts.ids_between(channel_id=channel_id, min_id=1, max_id=400)
    assert ids == list(range(1, 201))


async def test_a_revoked_accounts_channels_move_to_another_account(stack, telegram_dc):
    info = telegram_dc.create_channel('Handover', username=_name('handover'), posts=60, seed=26)
    channel_id = info['channel_id']
    await stack.channels.add(f'@{info["username"]}', account_id=stack.account_id)
    await stack.settle(channel_id)
    first_account, first_user = stack.account_id, stack.user_id

    phone = telegram_dc.new_phone(7)
    telegram_dc.create_user(phone, 'Second')
    client = door_client(telegram_dc, stack.accounts.door)
    second_user = await telegram_dc.login(client, phone)
    second = await stack.accounts.adopt(f'acc-{uuid.uuid4().hex[:6]}', client, second_user)
    await eventually(lambda: second in stack.accounts.usable_account_ids())
    assert list((await stack.repos.channels.get(channel_id)).access_hashes) == [first_account]

    telegram_dc.revoke_sessions(first_user)
    await eventually(lambda: first_account not in stack.accounts.usable_account_ids(), timeout=30)
    new_id = telegram_dc.post_message(channel_id, 'read by the second account')
    job = await stack.sync.enqueue(channel_id)
    done = await eventually(lambda: _status(stack, job.id, JobStatus.DONE), timeout=30)
    assert done.account_id == second
    assert await stack.repos.posts.get(channel_id=channel_id, message_id=new_id)
    assert second in (await stack.repos.channels.get(channel_id)).access_hashes


async def test_a_channel_no_account_can_read_says_so_instead_of_a_bare_countdown(stack, telegram_dc):
    info = telegram_dc.create_channel('Orphaned', username=_name('noreader'), posts=20, seed=27)
    channel_id = info['channel_id']
    await stack.channels.add(f'@{info["username"]}', account_id=stack.account_id)
    await stack.settle(channel_id)
    telegram_dc.revoke_sessions(stack.user_id)
    await eventually(lambda: stack.account_id not in stack.accounts.usable_account_ids(), timeout=30)

    job = await stack.sync.enqueue(channel_id)
    waiting = await eventually(lambda: _status(stack, job.id, JobStatus.WAITING), timeout=30)
    assert waiting.wait_reason == WAIT_NO_ACCOUNT
    stats = await stack.sync.channel_stats(await stack.repos.channels.get(channel_id))
    assert 'log one in on Accounts' in progress_text(stats)


async def test_a_three_hour_flood_wait_on_resolve_leaves_the_accounts_history_work_running(stack, telegram_dc):
    kept = telegram_dc.create_channel('Kept', username=_name('kept'), posts=300, seed=5)
    later = telegram_dc.create_channel('Later', username=_name('later'), posts=5)
    await stack.channels.add(f'@{kept["username"]}')
    telegram_dc.add_fault('contacts.resolveUsername', 'FLOOD_WAIT', seconds=3 * 3600)
    with pytest.raises(ChannelError) as error:
        await stack.channels.add(f'@{later["username"]}')
    assert (error.value.status, error.value.code) == (429, 'FLOOD_WAIT') and error.value.retry_after >= 3 * 3600 - 5
    telegram_dc.reset_stats()
    with pytest.raises(ChannelError) as again:
        await stack.channels.add(f'@{later["username"]}')
    assert again.value.code == 'FLOOD_WAIT' and re.search(r'the first, Syncer, can make one in (2 h 59|3 h 0) min\. '
                                                          r'Try then, or log in another account\.', again.value.message)
    calls = telegram_dc.stats()['users'].get(str(stack.user_id), {})
    assert 'contacts.resolveUsername' not in calls, 'a stored FloodWait is waited out without asking Telegram again'

    await stack.settle(kept['channel_id'])  # the backfill and its sync ran on the same account meanwhile
    assert await stack.repos.posts.count(channel_id=kept['channel_id']) == 300
    info = await stack.accounts.get_account(stack.account_id)
    assert info.state.value == 'connected' and 3 * 3600 - 60 < info.flood_waits['resolve'] <= 3 * 3600
    stored = await stack.repos.accounts.get(stack.account_id)  # kept for the next start
    assert (stored.flood_waits['resolve'] - utcnow()).total_seconds() > 3 * 3600 - 60


async def test_an_invalid_access_hash_is_resolved_again_once_never_in_a_loop(stack, telegram_dc):
    info = telegram_dc.create_channel('Stale Hash', username=_name('stale'), posts=40, seed=28)
    channel_id = info['channel_id']
    await stack.channels.add(f'@{info["username"]}')
    await stack.settle(channel_id)
    good_hash = (await stack.repos.channels.get(channel_id)).access_hashes[stack.account_id]
    stale = {'$set': {f'access_hashes.{stack.account_id}': good_hash ^ 0x5A5A}}
    await stack.repos.channels.collection.update_one({'_id': channel_id}, stale)
    telegram_dc.reset_stats()

    new_id = telegram_dc.post_message(channel_id, 'read with a fresh hash')
    job = await stack.sync.enqueue(channel_id)
    await eventually(lambda: _status(stack, job.id, JobStatus.DONE), timeout=30)
    assert await stack.repos.posts.get(channel_id=channel_id, message_id=new_id)
    assert (await stack.repos.channels.get(channel_id)).access_hashes[stack.account_id] == good_hash
    calls = telegram_dc.stats()['users'][str(stack.user_id)]
    assert calls['contacts.resolveUsername']['calls'] == 1

    # Stale again within the hour: the job fails with a reason instead of resolving again and again.
    await stack.repos.channels.collection.update_one({'_id': channel_id}, stale)
    for _ in range(2):
        job = await stack.sync.enqueue(channel_id)
        failed = await eventually(lambda j=job: _status(stack, j.id, JobStatus.FAILED), timeout=30)
        assert 'even after looking it up again' in failed.error
    assert telegram_dc.stats()['users'][str(stack.user_id)]['contacts.resolveUsername']['calls'] == 1
    channel = await stack.repos.channels.get(channel_id)
    assert channel.state.status == 'error' and 'another account' in channel.state.error


async def test_a_backfill_after_a_cancel_reads_only_what_is_missing(stack, telegram_dc):
    stack.channels.limiter.set_budget(MethodClass.HISTORY, Budget(per_second=5))  # 20 pages take 4 s
    info = telegram_dc.create_channel('Cancelled Early', username=_name('again'), posts=2000, seed=29)
    channel_id = info['channel_id']
    await stack.channels.add(f'@{info["username"]}')
    job = await eventually(lambda: stack.repos.jobs.active_for_channel(channel_id))
    await stack.sync.events.next(PostsStored, lambda e: e.channel_id == channel_id and e.posts_stored >= 500)
    await stack.sync.cancel(job.id)
    await stack.sync.events.drain()
    stopped = await stack.repos.jobs.get(job.id)
    kept = await stack.repos.posts.count(channel_id=channel_id)
    assert 500 <= kept < 2000 and (await stack.repos.channels.get(channel_id)).state.posts_stored == kept
    newer = [telegram_dc.post_message(channel_id, f'posted meanwhile {i}') for i in range(3)]

    telegram_dc.reset_stats()
    stack.channels.limiter.set_budget(MethodClass.HISTORY, Budget(per_second=1000, burst=50))
    again = await stack.sync.enqueue(channel_id)
    assert again.kind == JobKind.BACKFILL and again.id != job.id
    await eventually(lambda: _status(stack, again.id, JobStatus.DONE), timeout=60)
    assert await stack.repos.posts.count(channel_id=channel_id) == 2003
    assert all([await stack.repos.posts.get(channel_id=channel_id, message_id=i) for i in newer])
    pages_missing = -(-(stopped.checkpoint['offset_id'] - 1) // 100)
    calls = telegram_dc.stats()['users'][str(stack.user_id)]['messages.getHistory']['calls']
    # the top, the page with the new posts, the pages below what was kept, and the sync that follows
    assert calls <= 1 + 1 + pages_missing + 1, (calls, pages_missing)


async def test_sync_now_during_a_running_sync_queues_exactly_one_more(stack, telegram_dc):
    info = telegram_dc.create_channel('Busy', username=_name('busy'), posts=300, seed=30)
    channel_id = info['channel_id']
    await stack.channels.add(f'@{info["username"]}')
    await stack.settle(channel_id)
    telegram_dc.add_fault('messages.getHistory', 'SLOW', seconds=1.0, count=1)  # the sync's first page is slow
    running = await stack.sync.enqueue(channel_id)
    await eventually(lambda: _status(stack, running.id, JobStatus.RUNNING))
    late = telegram_dc.post_message(channel_id, 'posted after the click')
    clicked = [await stack.sync.enqueue(channel_id) for _ in range(3)]
    assert {j.id for j in clicked} == {running.id} and all(j.follow_up for j in clicked)
    await eventually(lambda: _status(stack, running.id, JobStatus.DONE), timeout=30)
    async def next_job():
        latest = await stack.repos.jobs.latest_for_channel(channel_id)
        return latest if latest.id != running.id else None
    follow = await eventually(next_job, timeout=30)
    assert follow.kind == JobKind.SYNC
    await eventually(lambda: _status(stack, follow.id, JobStatus.DONE), timeout=30)
    assert await stack.repos.posts.get(channel_id=channel_id, message_id=late)
    jobs = await stack.repos.jobs.collection.count_documents({'channel_id': channel_id, 'kind': 'sync'})
    assert jobs == 3  # the catch-up after the backfill, the clicked one, and exactly one follow-up


async def test_sync_now_while_an_audit_waits_its_turn_still_reads_what_was_posted(stack, telegram_dc):
    info = telegram_dc.create_channel('Audited', username=_name('audited'), posts=30, seed=32)
    channel_id = info['channel_id']
    await stack.channels.add(f'@{info["username"]}')
    await stack.settle(channel_id)
    # an audit (it reads no new posts) waits for its turn, as after a FloodWait
    audit = Job(id=uuid.uuid4().hex, kind=JobKind.AUDIT, channel_id=channel_id, status=JobStatus.WAITING,
                wait_until=utcnow() + timedelta(seconds=1))
    await stack.repos.jobs.collection.insert_one(audit.to_doc())
    late = telegram_dc.post_message(channel_id, 'posted while the audit waited')
    clicked = await stack.sync.enqueue(channel_id)
    assert clicked.id == audit.id and clicked.follow_up
    await eventually(lambda: stack.repos.posts.get(channel_id=channel_id, message_id=late), timeout=30)


async def test_the_schedule_follows_the_clock(stack, telegram_dc, repos):
    info = telegram_dc.create_channel('On Schedule', username=_name('clock'), posts=30, seed=31)
    channel_id = info['channel_id']
    await stack.channels.add(f'@{info["username"]}')
    await stack.settle(channel_id)  # next sync in an hour
    synced = await stack.repos.jobs.latest_for_channel(channel_id)
    await stack.sync.stop()
    clock = ManualClock()
    stack.sync = SyncService(repos=repos, channels=stack.channels, accounts=stack.accounts,
                             owner_id=stack.accounts.owner_id, tick_seconds=0.2, clock=clock)
    await stack.sync.start()
    await clock.advance(3599)
    await stack.sync.next_pass()
    assert (await stack.repos.jobs.latest_for_channel(channel_id)).id == synced.id  # not due yet
    new_id = telegram_dc.post_message(channel_id, 'on the hour')
    await clock.advance(2)
    await stack.sync.next_pass()
    due = await stack.repos.jobs.latest_for_channel(channel_id)
    assert due.id != synced.id and due.kind == JobKind.SYNC
    await eventually(lambda: _status(stack, due.id, JobStatus.DONE), timeout=30)
    assert await stack.repos.posts.get(channel_id=channel_id, message_id=new_id)
    channel = await stack.repos.channels.get(channel_id)
    assert abs(channel.state.last_synced_at - clock.now()) < timedelta(milliseconds=1)  # the clock it runs by


async def test_a_defect_in_a_job_fails_it_with_an_error_id_instead_of_leaving_it_running(stack, telegram_dc,
                                                                                       monkeypatch):
    info = telegram_dc.create_channel('Defect', username=_name('defect'), posts=20, seed=33)
    channel_id = info['channel_id']
    await stack.channels.add(f'@{info["username"]}')
    await stack.settle(channel_id)

    async def planted(*args, **kwargs):
        raise RuntimeError('a defect the test planted')
    monkeypatch.setattr(runner, 'sync_channel', planted)
    job = await stack.sync.enqueue(channel_id)
    failed = await eventually(lambda: _status(stack, job.id, JobStatus.FAILED), timeout=30)
    assert failed.error.startswith('Unexpected error ') and 'planted' not in failed.error  # the cause stays in the log
    channel = await stack.repos.channels.get(channel_id)
    assert channel.state.error == failed.error and channel.state.status == 'error'
