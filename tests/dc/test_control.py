"""The HTTP control API changes the World the way a Telethon client then sees it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest
from telethon import TelegramClient, functions
from telethon.crypto import rsa
from telethon.errors import AuthKeyUnregisteredError, FloodWaitError
from telethon.sessions import StringSession

from tests.telegram_dc.pytest_plugin import DcHandle


@pytest.fixture
async def http(telegram_dc: DcHandle):
    async with httpx.AsyncClient(base_url=telegram_dc.control_url, timeout=10) as client:
        yield client
    telegram_dc.clear_faults()


async def test_health(http: httpx.AsyncClient, telegram_dc: DcHandle) -> None:
    answer = await http.get('/health')
    assert answer.status_code == 200
    body = answer.json()
    assert body['status'] == 'ok'
    assert (body['dc_id'], body['port']) == (telegram_dc.dc_id, telegram_dc.port)


async def test_user_and_channel_then_history_seen_by_client(http: httpx.AsyncClient, telegram_dc: DcHandle) -> None:
    phone = telegram_dc.new_phone(6)
    answer = await http.post('/users', json={'phone': phone, 'first_name': 'Control'})
    assert answer.status_code == 201
    user_id = answer.json()['user_id']
    again = await http.post('/users', json={'phone': phone, 'first_name': 'Twice'})
    assert again.status_code in (400, 409)
    assert 'error' in again.json()

    answer = await http.post('/channels', json={'title': 'Control news', 'username': 'control_news_1', 'posts': 12})
    assert answer.status_code == 201
    channel = answer.json()
    assert channel['username'] == 'control_news_1'
    channel_id = channel['channel_id']

    posted = await http.post(f'/channels/{channel_id}/messages', json={'text': 'fresh from control'})
    assert posted.status_code == 201
    new_id = posted.json()['message_id']
    assert new_id == 13
    edited = await http.patch(f'/channels/{channel_id}/messages/5', json={'text': 'edited through control'})
    assert edited.status_code == 200
    deleted = await http.delete(f'/channels/{channel_id}/messages/3')
    assert deleted.status_code == 200

    client = telegram_dc.make_client()
    me = await telegram_dc.login(client, phone)
    try:
        assert me.id == user_id
        messages = await client.get_messages('control_news_1', limit=None)
        by_id = {m.id: m for m in messages}
        assert by_id[new_id].message == 'fresh from control'
        assert by_id[5].message == 'edited through control'
        assert by_id[5].edit_date is not None
        assert 3 not in by_id
        assert len(messages) == 12
    finally:
        await client.disconnect()


async def test_code_for_a_regular_number_is_readable(http: httpx.AsyncClient, telegram_dc: DcHandle) -> None:
    phone = '15550001234'
    await http.post('/users', json={'phone': phone, 'first_name': 'Regular'})
    assert (await http.get(f'/codes/{phone}')).status_code == 404
    client = telegram_dc.make_client()
    await client.connect()
    try:
        sent = await client.send_code_request(phone)
        answer = await http.get(f'/codes/{phone}')
        assert answer.status_code == 200
        code = answer.json()['code']
        me = await client.sign_in(phone, code, phone_code_hash=sent.phone_code_hash)
        assert me.phone == phone
    finally:
        await client.disconnect()


async def test_qr_accept_logs_the_waiting_client_in(http: httpx.AsyncClient, telegram_dc: DcHandle) -> None:
    phone = telegram_dc.new_phone(7)
    user_id = (await http.post('/users', json={'phone': phone, 'first_name': 'Qr'})).json()['user_id']
    client = telegram_dc.make_client()
    await client.connect()
    try:
        qr = await client.qr_login()
        assert qr.url.startswith('tg://login?token=')
        waiting = asyncio.ensure_future(qr.wait(timeout=10))
        await asyncio.sleep(0.2)
        assert (await http.post('/qr/accept', json={'user_id': user_id})).status_code == 200
        me = await waiting
        assert me.id == user_id
        assert await client.is_user_authorized()
    finally:
        await client.disconnect()


async def test_revoke_sessions(http: httpx.AsyncClient, telegram_dc: DcHandle) -> None:
    phone = telegram_dc.new_phone(8)
    user_id = (await http.post('/users', json={'phone': phone, 'first_name': 'Revoked'})).json()['user_id']
    client = telegram_dc.make_client()
    await telegram_dc.login(client, phone)
    try:
        assert (await http.post('/sessions/revoke', json={'user_id': user_id})).status_code == 200
        with pytest.raises(AuthKeyUnregisteredError):
            await client(functions.users.GetFullUserRequest('me'))
    finally:
        await client.disconnect()


async def test_faults_and_disconnect(http: httpx.AsyncClient, telegram_dc: DcHandle) -> None:
    client = telegram_dc.make_client(flood_sleep_threshold=0)
    await client.connect()
    try:
        answer = await http.post('/faults', json={'method': 'help.getConfig', 'error': 'FLOOD_WAIT', 'seconds': 12})
        assert answer.status_code == 200
        with pytest.raises(FloodWaitError) as info:
            await client(functions.help.GetConfigRequest())
        assert info.value.seconds == 12

        dropped = await http.post('/disconnect')
        assert dropped.json()['disconnected'] >= 1
        pong = await asyncio.wait_for(client(functions.PingRequest(ping_id=3)), 15)
        assert pong.ping_id == 3
    finally:
        await client.disconnect()


async def test_errors_are_json_with_4xx(http: httpx.AsyncClient) -> None:
    cases = [
        await http.post('/users', json={'first_name': 'No phone'}),
        await http.post('/users', content=b'{not json', headers={'content-type': 'application/json'}),
        await http.get('/nowhere'),
        await http.get('/users'),
        await http.post('/faults', json={'method': 'x', 'error': 'FLOOD_WAIT'}),
        await http.post('/channels/999999/messages', json={'text': 'to nowhere'}),
        await http.post('/qr/accept', json={'user_id': 424242}),
    ]
    for answer in cases:
        assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
        assert answer.json()['error']['message']


async def test_cli_prints_ports_and_environment_that_work(tmp_path) -> None:
    key_file = tmp_path / 'dc.pem'
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        '-m',
        'tests.telegram_dc',
        '--port',
        '0',
        '--control-port',
        '0',
        '--public-key-out',
        str(key_file),
        cwd=Path(__file__).resolve().parents[2],
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        env: dict[str, str] = {}
        control = ''
        while 'TELEGRAM_PUBLIC_KEY' not in env:
            line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
            assert line or process.returncode is None, 'the DC exited early'
            if line.startswith('Control:'):
                control = line.split()[-1]
            elif '=' in line:
                name, _, value = line.partition('=')
                env[name] = value
        assert set(env) == {
            'TELEGRAM_API_ID',
            'TELEGRAM_API_HASH',
            'TELEGRAM_DC',
            'TELEGRAM_DC_ID',
            'TELEGRAM_PUBLIC_KEY',
        }
        async with httpx.AsyncClient(base_url=control) as http:
            assert (await http.get('/health')).json()['status'] == 'ok'

        rsa.add_key(Path(env['TELEGRAM_PUBLIC_KEY']).read_text(), old=False)
        host, port = env['TELEGRAM_DC'].rsplit(':', 1)
        session = StringSession()
        session.set_dc(int(env['TELEGRAM_DC_ID']), host, int(port))
        client = TelegramClient(session, int(env['TELEGRAM_API_ID']), env['TELEGRAM_API_HASH'])
        await client.connect()
        try:
            assert (await client(functions.help.GetConfigRequest())).this_dc == int(env['TELEGRAM_DC_ID'])
        finally:
            await client.disconnect()
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 15) == 0


def test_new_phone_skips_numbers_already_taken(telegram_dc: DcHandle) -> None:
    first = telegram_dc.new_phone(9)
    telegram_dc.create_user(first[:-4] + f'{int(first[-4:]) + 1:04d}', 'Squatter')
    second = telegram_dc.new_phone(9)
    assert second[:6] == '999669' and len(second) == 10
    assert int(second[-4:]) == int(first[-4:]) + 2
