"""History work spread over accounts: with two or four accounts a set of public channels backfills side by side,
each account within its own limits, and an account that cannot read a channel is not asked again and again."""
from __future__ import annotations

import uuid

import pytest

from app.crypto import SecretBox
from app.db.models import JobKind, JobStatus
from app.mtproto.accounts import AccountManager
from app.mtproto.channels import ChannelService
from app.mtproto.limits import Budget, MethodClass
from app.mtproto.sync import SyncService
from tests.mtproto.test_login_flows import make_settings
from tests.support import door_client, eventually, unpaced, within_bucket

# Telegram's shape twenty times as fast (see test_limits); Parsegram paces each account at 0.9 of it.
DC_HISTORY = {'rate': 20, 'burst': 10}
DC_LIMITS = {'messages.getHistory': DC_HISTORY, 'channels.getFullChannel': {'rate': 100, 'burst': 50, 'wait': 30}}


# per channel: 8 history pages, enough for every account to read one while the others read theirs; a backfill
# pays for a look-up from SPREAD (the app's rule is 2,000 posts: the same rule, at a size a test reads quickly)
POSTS = 800
SPREAD = 500


def services(telegram_dc, repos, tmp_path) -> tuple[AccountManager, ChannelService, SyncService]:
    manager = AccountManager(settings=make_settings(telegram_dc, tmp_path), repo=repos.accounts,
                             secret_box=SecretBox('s' * 32), owner_id=f'test-{uuid.uuid4().hex[:6]}',
                             lease_seconds=3, tick_seconds=0.3, health_seconds=0.5)
    pacing = unpaced()
    pacing.set_budget(MethodClass.HISTORY, Budget(per_second=18, burst=3))
    channels = ChannelService(repos=repos, accounts=manager, limiter=pacing)
    sync = SyncService(repos=repos, channels=channels, accounts=manager, owner_id=manager.owner_id, tick_seconds=0.2,
                       spread_min_posts=SPREAD)
    return manager, channels, sync


async def log_in(telegram_dc, manager: AccountManager, accounts: int) -> dict[str, int]:
    """`accounts` accounts logged in and usable: account id → Telegram user id, in the order they logged in."""
    users: dict[str, int] = {}
    for i in range(accounts):
        phone = telegram_dc.new_phone(5)
        user_id = telegram_dc.create_user(phone, f'Spread {i}')
        client = door_client(telegram_dc, manager.door)
        account_id = await manager.adopt(f'acc-{uuid.uuid4().hex[:6]}', client, await telegram_dc.login(client, phone))
        users[account_id] = user_id
    await eventually(lambda: len(manager.usable_account_ids()) >= accounts)
    return users


@pytest.mark.timeout(180)
@pytest.mark.parametrize('accounts', [2, 4])
@pytest.mark.dc_limits('realistic', **DC_LIMITS)
async def test_channels_backfill_side_by_side_on_every_account_each_within_its_limits(
        accounts, telegram_dc, repos, tmp_path) -> None:
    manager, channels, sync = services(telegram_dc, repos, tmp_path)
    await manager.start()
    await sync.start()
    try:
        users = await log_in(telegram_dc, manager, accounts)
        first = next(iter(users))
        infos = [telegram_dc.create_channel(f'Spread {i}', username=f'sp{uuid.uuid4().hex[:8]}', posts=POSTS, seed=i)
                 for i in range(4)]
        telegram_dc.reset_stats()
        for info in infos:  # one account adds them all: the others learn them when there is work for them
            await channels.add(f'@{info["username"]}', account_id=first)

        async def backfilled():
            done = await repos.jobs.collection.count_documents(
                {'kind': JobKind.BACKFILL.value, 'status': JobStatus.DONE.value,
                 'channel_id': {'$in': [i['channel_id'] for i in infos]}})
            return done == 4
        await eventually(backfilled, timeout=150)
    finally:
        await sync.stop()
        await manager.stop()
    for info in infos:
        assert await repos.posts.count(channel_id=info['channel_id']) == POSTS
    stats = telegram_dc.stats()
    assert stats['flood_waits'] == []
    readers = {}
    for account_id, user_id in users.items():
        calls = stats['users'].get(str(user_id), {})
        times = calls.get('messages.getHistory', {}).get('times', [])
        readers[account_id] = len(times)
        assert within_bucket(times, DC_HISTORY['rate'], DC_HISTORY['burst'])
        # one resolve per channel it reads at most, never one per dispatch
        assert calls.get('contacts.resolveUsername', {}).get('calls', 0) <= 4
    assert all(count >= POSTS // 100 for count in readers.values()), readers  # each read one channel at least


@pytest.mark.timeout(120)
@pytest.mark.dc_limits('realistic', **DC_LIMITS)
async def test_a_small_channel_waits_for_its_busy_reader_rather_than_spend_a_look_up(telegram_dc, repos, tmp_path):
    manager, channels, sync = services(telegram_dc, repos, tmp_path)
    await manager.start()
    await sync.start()
    try:
        first, *others = await log_in(telegram_dc, manager, 3)
        big = [telegram_dc.create_channel(f'Big {i}', username=f'bg{uuid.uuid4().hex[:8]}', posts=POSTS, seed=i)
               for i in range(2)]
        small = telegram_dc.create_channel('Small', username=f'sm{uuid.uuid4().hex[:8]}', posts=8, seed=5)
        for info in (*big, small):  # the first account reads them all; the others are idle
            await channels.add(f'@{info["username"]}', account_id=first)

        async def backfilled():
            done = await repos.jobs.collection.count_documents(
                {'kind': JobKind.BACKFILL.value, 'status': JobStatus.DONE.value,
                 'channel_id': {'$in': [i['channel_id'] for i in (*big, small)]}})
            return done == 3
        await eventually(backfilled, timeout=100)
    finally:
        await sync.stop()
        await manager.stop()
    # 8 posts are one page: not worth one of the day's 200 look-ups; a channel of 800 posts is, by this rule
    assert not set(others) & set((await repos.channels.get(small['channel_id'])).access_hashes)
    assert await repos.posts.count(channel_id=small['channel_id']) == 8
    stored = [await repos.channels.get(info['channel_id']) for info in big]
    assert any(set(others) & set(channel.access_hashes) for channel in stored)
    assert telegram_dc.stats()['flood_waits'] == []
