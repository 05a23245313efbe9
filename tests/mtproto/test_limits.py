"""Parsegram's own request pacing: a bucket per account and method class, a daily resolve budget, and a backfill
that never hears FLOOD_WAIT from a server with Telegram's limits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db.models import JobKind, utcnow
from app.mtproto.channels import ChannelError, ChannelService
from app.mtproto.door import TelegramDoor
from app.mtproto.jobs import backfill
from app.mtproto.limits import DAY, Budget, BudgetSpent, MethodClass, RequestLimiter
from tests.mtproto.test_login_flows import make_settings
from tests.support import door_client, unpaced, within_bucket


class Clock:
    """A clock the test owns: sleeping moves it forward at once."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(**budgets: Budget) -> tuple[RequestLimiter, Clock]:
    clock = Clock()
    return RequestLimiter({MethodClass(k): b for k, b in budgets.items()}, clock=clock, sleep=clock.sleep), clock


async def test_history_goes_in_a_small_burst_then_one_call_a_second() -> None:
    pacing, clock = limiter(history=Budget(per_second=1.0, burst=3))
    start = clock.now
    times = []
    for _ in range(10):
        await pacing.acquire('a', MethodClass.HISTORY)
        times.append(clock.now - start)
    assert times == pytest.approx([0, 0, 0, 1, 2, 3, 4, 5, 6, 7])
    assert pacing.recent_calls('a') == {'minute': 10, 'hour': 10}
    assert pacing.recent_calls('b') == {'minute': 0, 'hour': 0}


async def test_resolves_stop_at_the_daily_budget_and_say_when_the_next_one_fits() -> None:
    pacing, clock = limiter(resolve=Budget(per_second=1 / 15, burst=5, per_day=200))
    for _ in range(200):
        await pacing.acquire('a', MethodClass.RESOLVE)
    assert pacing.left_today('a') == 0 and pacing.left_today('b') == 200
    with pytest.raises(BudgetSpent) as spent:
        await pacing.acquire('a', MethodClass.RESOLVE)
    expected = utcnow() + timedelta(seconds=DAY + 120 - 195 * 15)
    assert abs((spent.value.retry_at - expected).total_seconds()) < 5
    await pacing.acquire('a', MethodClass.HISTORY)  # other method classes go on
    await pacing.acquire('b', MethodClass.RESOLVE)  # and other accounts
    clock.now += (spent.value.retry_at - utcnow()).total_seconds() + 1
    await pacing.acquire('a', MethodClass.RESOLVE)  # the first burst of five has left the day: one of them is used
    assert pacing.left_today('a') == 4


async def test_a_spent_budget_is_a_clear_error_for_the_person_adding_a_channel(repos, telegram_dc) -> None:
    pacing, _ = limiter(resolve=Budget(per_second=100, burst=100, per_day=1))
    service = ChannelService(repos=repos, limiter=pacing)
    door = TelegramDoor(pacing)
    await pacing.acquire('acc', MethodClass.RESOLVE)
    with pytest.raises(ChannelError) as error:  # refused at the door: the client never connects, nothing is sent
        await service.add_with_client(door_client(telegram_dc, door, 'acc'), 'acc', '@somebody_else')
    assert door.sent_by('acc') == {}
    assert (error.value.status, error.value.code) == (429, 'BUDGET_SPENT')
    assert 'another account' in error.value.message and error.value.retry_after > 3600


def test_settings_set_the_safe_defaults_and_tests_may_scale_them(telegram_dc, tmp_path) -> None:
    safe = RequestLimiter.from_settings(make_settings(telegram_dc, tmp_path))
    assert safe.budgets[MethodClass.HISTORY] == Budget(per_second=1.0, burst=3)
    assert safe.budgets[MethodClass.RESOLVE].per_day == 200
    assert safe.budgets[MethodClass.JOIN].per_second == pytest.approx(1 / 60)
    fast = RequestLimiter.from_settings(make_settings(telegram_dc, tmp_path, request_pace_scale=10))
    assert fast.budgets[MethodClass.HISTORY].per_second == 10


# The DC's getHistory ceiling here is 20 calls a second with a burst of 10: Telegram's shape, twenty times as fast
# so the test takes seconds. Parsegram runs at 0.9 of it, as it runs at 0.9 of Telegram's with its defaults.
DC_HISTORY = {'rate': 20, 'burst': 10}


# 200 getHistory calls paced just under the DC's ceiling (about 11 s of pacing): the pace has to hold past the
# bucket's burst for many windows, so the run cannot be shorter. Pages of 10 posts keep the database's share small
# (20,000 posts stored and dropped took up to 4 minutes while the other workers were busy).
POSTS, PAGE = 2_000, 10


@pytest.mark.timeout(120)
@pytest.mark.dc_limits('realistic', **{'messages.getHistory': DC_HISTORY})
async def test_a_200_page_backfill_hears_no_flood_wait_and_keeps_the_rate(telegram_dc, repos) -> None:
    phone = telegram_dc.new_phone(7)
    user_id = telegram_dc.create_user(phone, 'Careful')
    pacing = unpaced()
    pacing.set_budget(MethodClass.HISTORY, Budget(per_second=18, burst=3))
    client = door_client(telegram_dc, TelegramDoor(pacing), 'acc')  # paced by the door, as every app client
    await telegram_dc.login(client, phone)
    try:
        info = telegram_dc.create_channel('Two hundred pages', username=f'pace_{user_id}', posts=POSTS, seed=3)
        service = ChannelService(repos=repos, limiter=pacing)
        channel = (await service.add_with_client(client, 'acc', f'@{info["username"]}')).channel
        job = await repos.jobs.create(kind=JobKind.BACKFILL, channel_id=channel.id)
        peer = service.input_channel(channel, 'acc')
        await backfill(client, repos, job, peer, batch=PAGE)
    finally:
        await client.disconnect()
    assert await repos.posts.count(channel_id=channel.id) == POSTS
    stats = telegram_dc.stats()
    assert stats['flood_waits'] == []
    times = stats['users'][str(user_id)]['messages.getHistory']['times']
    assert len(times) >= 200
    assert within_bucket(times, DC_HISTORY['rate'], DC_HISTORY['burst'])  # no stretch beats the DC's bucket
