"""Faults on demand, as a Telethon client notices them: FloodWait, INTERNAL, slow answers, dropped connections."""

from __future__ import annotations

import asyncio
import time

import pytest
from telethon import functions
from telethon.errors import FloodWaitError, ServerError

from tests.support import eventually
from tests.telegram_dc.faults import Faults, error_code, tl_name
from tests.telegram_dc.pytest_plugin import DcHandle


@pytest.fixture
def dc(telegram_dc: DcHandle):
    telegram_dc.clear_faults()
    yield telegram_dc
    telegram_dc.clear_faults()


async def test_flood_wait_on_send_code_for_the_next_calls_only(dc: DcHandle) -> None:
    phone = dc.new_phone(2)
    dc.create_user(phone, 'Flood')
    dc.add_fault('SendCodeRequest', 'FLOOD_WAIT', seconds=37, count=2)
    # Telethon remembers a FloodWait per client, so each call comes from a fresh client to reach the server.
    for _ in range(2):
        client = dc.make_client(flood_sleep_threshold=0)
        await client.connect()
        try:
            with pytest.raises(FloodWaitError) as info:
                await client.send_code_request(phone)
            assert info.value.seconds == 37
        finally:
            await client.disconnect()
    client = dc.make_client(flood_sleep_threshold=0)
    await client.connect()
    try:
        sent = await client.send_code_request(phone)
        assert sent.phone_code_hash
    finally:
        await client.disconnect()


async def test_flood_wait_by_tl_name_while_logged_in(dc: DcHandle) -> None:
    phone = dc.new_phone(3)
    dc.create_user(phone, 'Tl Name')
    client = dc.make_client(flood_sleep_threshold=0)
    await dc.login(client, phone)
    saved = client.session.save()
    try:
        dc.add_fault('users.getFullUser', 'FLOOD_WAIT', seconds=5)
        with pytest.raises(FloodWaitError) as info:
            await client(functions.users.GetFullUserRequest('me'))
        assert info.value.seconds == 5
    finally:
        await client.disconnect()
    again = dc.make_client(saved, flood_sleep_threshold=0)
    await again.connect()
    try:
        full = await again(functions.users.GetFullUserRequest('me'))
        assert full.users[0].phone == phone
    finally:
        await again.disconnect()


async def test_short_flood_wait_is_slept_through_by_telethon(dc: DcHandle) -> None:
    client = dc.make_client(flood_sleep_threshold=10)
    await client.connect()
    try:
        dc.add_fault('help.getConfig', 'FLOOD_WAIT', seconds=1)
        start = time.monotonic()
        assert (await client(functions.help.GetConfigRequest())).this_dc == dc.dc_id
        assert time.monotonic() - start >= 1.0
    finally:
        await client.disconnect()


async def test_internal_error_reaches_the_caller_once_retries_are_used_up(dc: DcHandle) -> None:
    client = dc.make_client(request_retries=0, raise_last_call_error=True)
    await client.connect()
    try:
        dc.add_fault('help.getConfig', 'INTERNAL')
        with pytest.raises(ServerError) as info:
            await client(functions.help.GetConfigRequest())
        assert info.value.code == 500
        assert (await client(functions.help.GetConfigRequest())).this_dc == dc.dc_id
    finally:
        await client.disconnect()


async def test_internal_error_is_retried_by_telethon(dc: DcHandle) -> None:
    client = dc.make_client(request_retries=3)
    await client.connect()
    try:
        dc.add_fault('GetConfigRequest', 'INTERNAL', count=1)
        start = time.monotonic()
        assert (await client(functions.help.GetConfigRequest())).this_dc == dc.dc_id
        assert time.monotonic() - start >= 1.5  # Telethon waits before retrying a server error
    finally:
        await client.disconnect()


async def test_any_named_error_with_its_telegram_code(dc: DcHandle) -> None:
    phone = dc.new_phone(4)
    dc.create_user(phone, 'Named')
    client = dc.make_client()
    await dc.login(client, phone)
    try:
        dc.add_fault('GetUsersRequest', 'AUTH_KEY_UNREGISTERED')
        assert await client.get_me() is None  # what Telethon reports for 401 on get_me
        me = await client.get_me()
        assert me.phone == phone
    finally:
        await client.disconnect()


async def test_slow_answers_do_not_hold_up_other_requests(dc: DcHandle) -> None:
    client = dc.make_client()
    await client.connect()
    try:
        dc.add_fault('help.getConfig', 'SLOW', seconds=1.0)
        start = time.monotonic()
        slow = asyncio.ensure_future(client(functions.help.GetConfigRequest()))
        await eventually(lambda: dc.faults_left() == 0)  # the slowed call has reached the DC
        pong = await client(functions.PingRequest(ping_id=99))
        fast_elapsed = time.monotonic() - start
        await slow
        slow_elapsed = time.monotonic() - start
        assert pong.ping_id == 99
        assert fast_elapsed < 0.8
        assert slow_elapsed >= 1.0
    finally:
        await client.disconnect()


async def test_disconnect_all_then_telethon_reconnects_by_itself(dc: DcHandle) -> None:
    phone = dc.new_phone(5)
    dc.create_user(phone, 'Reconnect')
    client = dc.make_client()
    await dc.login(client, phone)
    try:
        assert dc.disconnect_all() >= 1
        me = await asyncio.wait_for(client.get_me(), 15)
        assert me.phone == phone
        assert client.is_connected()
    finally:
        await client.disconnect()


def test_fault_matching_and_codes() -> None:
    faults = Faults()
    faults.add('auth.sendCode', 'PHONE_NUMBER_BANNED')
    request = functions.auth.SendCodeRequest('99966', 1, 'x', settings=None)
    assert tl_name(request) == 'auth.sendCode'
    assert faults.take(functions.help.GetConfigRequest()) is None
    action = faults.take(request)
    assert (action.code, action.message) == (400, 'PHONE_NUMBER_BANNED')
    assert faults.take(request) is None
    assert error_code('AUTH_KEY_UNREGISTERED') == 401
    assert error_code('FLOOD_WAIT_3') == 420
    with pytest.raises(ValueError):
        faults.add('x', 'FLOOD_WAIT')


async def test_request_in_flight_survives_a_dropped_connection(dc: DcHandle) -> None:
    client = dc.make_client()
    await client.connect()
    try:
        dc.add_fault('help.getConfig', 'SLOW', seconds=2.0)
        pending = asyncio.ensure_future(client(functions.help.GetConfigRequest()))
        await eventually(lambda: dc.faults_left() == 0)  # the slowed call has reached the DC
        assert dc.disconnect_all() >= 1
        cfg = await asyncio.wait_for(pending, 15)  # Telethon sends it again on its new connection
        assert cfg.this_dc == dc.dc_id
    finally:
        await client.disconnect()


async def test_drop_closes_the_connection_and_telethon_sends_the_call_again(dc: DcHandle) -> None:
    client = dc.make_client()
    await client.connect()
    try:
        first = await client(functions.help.GetConfigRequest())
        dc.add_fault('help.getConfig', 'DROP')
        again = await asyncio.wait_for(client(functions.help.GetConfigRequest()), 15)
        assert again.this_dc == first.this_dc and dc.dc.faults.pending() == []
    finally:
        await client.disconnect()


async def test_drop_during_the_key_exchange_fails_that_connect_only(dc: DcHandle) -> None:
    dc.add_fault('reqPqMulti', 'DROP')
    dc.add_fault('*', 'INTERNAL')  # a fault for every call waits for the calls: the key exchange leaves it alone
    client = dc.make_client()
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await client.connect()
    await client.disconnect()
    assert [f.error for f in dc.dc.faults.pending()] == ['INTERNAL']
    dc.clear_faults()
    client = dc.make_client()
    await client.connect()
    try:
        assert (await client(functions.help.GetConfigRequest())).this_dc == dc.dc_id
    finally:
        await client.disconnect()
