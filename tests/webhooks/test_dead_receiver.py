"""A receiver that never answers holds up its own webhooks' queues and nothing else: a backfill beside ten webhooks
pointing at it asks Telegram for history at the pace it would alone, as the DC's request times show."""
from __future__ import annotations

import itertools
import statistics
import uuid

import pytest

from app.clock import SystemClock
from app.crypto import SecretBox
from app.db.models import JobKind, JobStatus
from app.feed_consumers import FeedConsumers
from app.mtproto.accounts import AccountManager
from app.mtproto.channels import ChannelService
from app.mtproto.limits import MethodClass
from app.mtproto.sync import SyncService
from app.webhooks.addresses import AddressPolicy
from app.webhooks.outbox import WebhookOutbox
from app.webhooks.sender import IN_FLIGHT, TIMEOUT_SECONDS, WebhookSenders
from app.webhooks.signing import new_secret
from tests.mtproto.test_login_flows import make_settings
from tests.receiver import receiving
from tests.support import door_client, eventually
from tests.telegram_dc.limits import REALISTIC

SPEED = 2  # Telegram's limits and Parsegram's pacing, both twice as fast
DC_LIMITS = {method: {'rate': limit.rate * SPEED} for method, limit in REALISTIC.items()}
POSTS = 1_000  # ten history pages
HOOKS = 10
BOX = SecretBox('dead-receiver')


@pytest.mark.timeout(120)
@pytest.mark.dc_limits('realistic', **DC_LIMITS)
async def test_a_dead_receiver_does_not_slow_a_backfill(telegram_dc, repos, tmp_path):
    settings = make_settings(telegram_dc, tmp_path, request_pace_scale=SPEED)
    accounts = AccountManager(settings=settings, repo=repos.accounts, secret_box=SecretBox('r' * 32),
                              owner_id=f'dead-{uuid.uuid4().hex[:6]}', lease_seconds=3, tick_seconds=0.3)
    channels = ChannelService(repos=repos, accounts=accounts)  # the app's own pacing, at SPEED
    sync = SyncService(repos=repos, channels=channels, accounts=accounts, owner_id=accounts.owner_id,
                       tick_seconds=0.2)
    consumers = FeedConsumers(repos.feed, repos.writer, repos.comment_writer)
    consumers.add(WebhookOutbox(repos, repos.events_log, repos.webhooks))
    senders = WebhookSenders(repo=repos.webhooks, log=repos.events_log, secret_box=BOX,
                             policy=AddressPolicy('true'), clock=SystemClock(), owner_id=accounts.owner_id)
    parts = (accounts, channels, sync, consumers, senders)
    async with receiving(hang=True) as dead:
        for n in range(HOOKS):
            await repos.webhooks.create(url=f'{dead.url}/{n}', events=['post.created'], secret_enc=BOX.encrypt(
                new_secret()), position=await repos.events_log.head())
        for part in parts:
            await part.start()
        try:
            phone = telegram_dc.new_phone(5)
            user_id = telegram_dc.create_user(phone, 'Backfiller')
            client = door_client(telegram_dc, accounts.door)
            account_id = await accounts.adopt(f'acc-{uuid.uuid4().hex[:6]}', client,
                                              await telegram_dc.login(client, phone))
            await eventually(lambda: account_id in accounts.usable_account_ids())
            info = telegram_dc.create_channel('Long history', username=f'long_{uuid.uuid4().hex[:8]}', posts=POSTS,
                                              seed=5)
            telegram_dc.reset_stats()
            await channels.add(f'@{info["username"]}', account_id=account_id)

            async def backfilled():
                return await repos.jobs.collection.find_one({'channel_id': info['channel_id'], 'status':
                                                             JobStatus.DONE.value, 'kind': JobKind.BACKFILL.value})
            await eventually(backfilled, timeout=90, interval=0.1)
            assert await repos.posts.count(channel_id=info['channel_id']) == POSTS
            # while the backfill ran, the receiver held every request it was sent and answered none
            assert len(dead.requests) >= IN_FLIGHT
            assert all(hook.delivered == 0 for hook in await repos.webhooks.list())
            await eventually(lambda: _events(repos, POSTS), timeout=30)  # and every post became an event
        finally:
            for part in reversed(parts):
                await part.stop()

    stats = telegram_dc.stats()
    assert stats['flood_waits'] == []
    times = stats['users'][str(user_id)]['messages.getHistory']['times']
    assert len(times) >= POSTS // 100
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    interval = 1 / accounts.door.limiter.budgets[MethodClass.HISTORY].per_second
    # a backfill waiting on deliveries would pause for whole timeouts; this one keeps its pace
    assert max(gaps) < TIMEOUT_SECONDS / 2, gaps
    assert statistics.median(gaps) <= 1.5 * interval, (gaps, interval)


async def _events(repos, count: int) -> bool:
    return await repos.events_log.collection.count_documents({'type': 'post.created'}) >= count
