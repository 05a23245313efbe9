"""Telegram's request limits in the test DC: FLOOD_WAIT per user and method, waits that grow, daily budgets,
and the call statistics tests and benchmarks read from the control port."""

from __future__ import annotations

import httpx
import pytest
from telethon import TelegramClient, functions
from telethon.errors import FloodWaitError

from tests.telegram_dc.__main__ import parse_args
from tests.telegram_dc.limits import DAY, Limits, MethodLimit
from tests.telegram_dc.pytest_plugin import DcHandle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limits_with(**methods: MethodLimit) -> tuple[Limits, Clock]:
    clock = Clock()
    limits = Limits('off', clock=clock)
    limits.methods = dict(methods)
    return limits, clock


def test_a_burst_then_the_sustained_rate_then_flood_wait() -> None:
    limits, clock = limits_with(**{'messages.getHistory': MethodLimit(rate=1.0, burst=3, wait=30)})
    assert [limits.check(7, 'messages.getHistory') for _ in range(3)] == [None, None, None]
    assert limits.check(7, 'messages.getHistory') == 30
    clock.now += 10
    assert limits.check(7, 'messages.getHistory') == 20, 'during the wait every call hears the seconds left'
    clock.now += 20
    assert limits.check(7, 'messages.getHistory') is None, 'the wait is over and the bucket refilled'
    for _ in range(100):  # one call a second, forever, stays inside
        clock.now += 1.0
        assert limits.check(7, 'messages.getHistory') is None


def test_repeated_violations_wait_longer_and_other_methods_and_users_go_on() -> None:
    limits, clock = limits_with(
        **{'messages.getHistory': MethodLimit(rate=1.0, burst=1, wait=30, max_wait=100),
           'channels.getFullChannel': MethodLimit(rate=1.0, burst=1, wait=30)})
    waits = []
    for _ in range(4):
        limits.check(7, 'messages.getHistory')
        waits.append(limits.check(7, 'messages.getHistory'))
        clock.now += waits[-1]
    assert waits == [30, 60, 100, 100]
    limits.check(7, 'messages.getHistory')
    assert limits.check(7, 'messages.getHistory') is not None
    assert limits.check(7, 'channels.getFullChannel') is None, 'a FLOOD_WAIT blocks only its own method'
    assert limits.check(8, 'messages.getHistory') is None, 'and only its own user'
    assert limits.check(7, 'help.getConfig') is None, 'methods without a limit are never refused'
    stats = limits.stats()
    assert stats['users']['7']['messages.getHistory']['calls'] == 10
    assert [f['seconds'] for f in stats['flood_waits'] if f['user'] == 7][:4] == [30, 60, 100, 100]


def test_a_daily_budget_answers_the_time_until_the_oldest_call_leaves_the_day() -> None:
    limits, clock = limits_with(**{'contacts.resolveUsername': MethodLimit(rate=100, burst=100, wait=60, daily=5)})
    for _ in range(5):
        assert limits.check(1, 'contacts.resolveUsername') is None
        clock.now += 60
    assert limits.check(1, 'contacts.resolveUsername') == DAY - 300
    clock.now += DAY - 300
    assert limits.check(1, 'contacts.resolveUsername') is None


def test_joins_by_username_and_by_invite_share_one_bucket() -> None:
    limits = Limits('realistic', clock=Clock())
    outcomes = [limits.check(1, m) for m in ['channels.joinChannel', 'messages.importChatInvite'] * 3]
    assert outcomes[:5] == [None] * 5
    assert outcomes[5] == 300


def test_limits_refuse_nonsense() -> None:
    limits = Limits()
    with pytest.raises(ValueError, match='unknown limits profile'):
        limits.use('fast')
    with pytest.raises(ValueError, match='positive'):
        limits.use('realistic', {'messages.getHistory': {'rate': 0}})
    with pytest.raises(ValueError, match='unknown limit field'):
        limits.use('realistic', {'messages.getHistory': {'speed': 3}})
    with pytest.raises(ValueError, match='needs'):
        limits.use('off', {'messages.getHistory': {'rate': 3}})


def test_the_cli_runs_the_demo_with_realistic_limits() -> None:
    assert parse_args(['--demo']).limits is None  # resolved to 'realistic' by serve()
    assert parse_args(['--limits', 'off', '--demo']).limits == 'off'
    with pytest.raises(SystemExit):
        parse_args(['--limits', 'fast'])


async def _reader(dc: DcHandle, name: str) -> tuple[TelegramClient, dict]:
    client = dc.make_client(flood_sleep_threshold=0)
    phone = dc.new_phone(4)
    user_id = dc.create_user(phone, name)
    await dc.login(client, phone)
    client.user_id = user_id
    return client, dc.create_channel(f'{name} channel', username=f'pacing_{client.user_id}', posts=500)


@pytest.mark.dc_limits('realistic', **{'messages.getHistory': {'burst': 3}})
async def test_a_telethon_client_over_the_limit_hears_flood_wait_and_its_other_calls_go_on(
        telegram_dc: DcHandle) -> None:
    client, channel = await _reader(telegram_dc, 'Pacer')
    other, _ = await _reader(telegram_dc, 'Other')
    try:
        entity = await client.get_input_entity(channel['username'])
        for _ in range(3):
            await client(functions.messages.GetHistoryRequest(entity, 0, 0, 0, 100, 0, 0, 0))
        with pytest.raises(FloodWaitError) as info:
            await client(functions.messages.GetHistoryRequest(entity, 0, 0, 0, 100, 0, 0, 0))
        assert info.value.seconds == 30
        full = await client(functions.channels.GetFullChannelRequest(entity))
        assert full.full_chat.id
        other_entity = await other.get_input_entity(channel['username'])
        await other(functions.messages.GetHistoryRequest(other_entity, 0, 0, 0, 100, 0, 0, 0))
    finally:
        await client.disconnect()
        await other.disconnect()
    stats = telegram_dc.stats()
    mine = stats['users'][str(client.user_id)]['messages.getHistory']
    assert mine['calls'] == 4 and len(mine['times']) == 4
    assert [(f['user'], f['method'], f['seconds']) for f in stats['flood_waits']] == [
        (client.user_id, 'messages.getHistory', 30)]
    assert stats['users'][str(other.user_id)]['messages.getHistory']['calls'] == 1


async def test_limits_and_stats_over_the_control_port(telegram_dc: DcHandle) -> None:
    async with httpx.AsyncClient(base_url=telegram_dc.control_url, timeout=10) as http:
        try:
            answer = await http.put('/limits', json={'profile': 'realistic',
                                                     'methods': {'messages.getHistory': {'rate': 20}}})
            assert answer.status_code == 200
            methods = (await http.get('/limits')).json()['methods']
            assert methods['messages.getHistory']['rate'] == 20
            assert methods['contacts.resolveUsername']['daily'] == 200
            bad = await http.put('/limits', json={'profile': 'fast'})
            assert bad.status_code == 400 and 'realistic' in bad.json()['error']['message']
            assert (await http.delete('/stats')).json() == {'ok': True}
            assert (await http.get('/stats')).json()['flood_waits'] == []
        finally:
            assert (await http.put('/limits', json={'profile': 'off'})).json() == {'methods': {}}
