"""The accounts JSON API end to end: the app as in production, the test DC, the real database."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import LogCapture


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


async def start(api, phone: str) -> dict:
    answer = await api.post('/api/mtproto/auth/start', json={'phone': phone})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_code_login_then_list_and_health(telegram_dc, api, app_root):
    phone = telegram_dc.new_phone(1)
    username = f'api{uuid.uuid4().hex[:6]}'
    telegram_dc.create_user(phone, 'Api', username=username)
    started = await start(api, f'+{phone}')
    assert started['status'] == 'code_sent'
    assert started['code_type'] == 'app' and started['timeout'] == 60
    verified = await api.post('/api/mtproto/auth/verify', json={'account_id': started['account_id'], 'code': '11111'})
    assert verified.status_code == 200
    assert verified.json()['status'] == 'authorized'
    listed = (await api.get('/api/mtproto/accounts')).json()
    assert [(a['id'], a['username'], a['state'], a['connected']) for a in listed] == [
        (started['account_id'], username, 'connected', True)]
    assert not any('session' in key for account in listed for key in account)
    health = (await api.get('/api/health')).json()
    assert health['accounts'] == {'connected': 1, 'total': 1}


async def test_two_factor_login_and_wrong_password(telegram_dc, api):
    phone = telegram_dc.new_phone(2)
    user_id = telegram_dc.create_user(phone, 'Tfa', password='api-2fa-pass')
    telegram_dc.dc.call(telegram_dc.world.set_password, user_id, 'api-2fa-pass', 'favourite pass')
    started = await start(api, phone)
    verified = (await api.post('/api/mtproto/auth/verify',
                               json={'account_id': started['account_id'], 'code': '22222'})).json()
    assert verified == {'account_id': started['account_id'], 'status': 'password_required', 'hint': 'favourite pass',
                        'code_type': 'app', 'phone_masked': verified['phone_masked']}
    wrong = await api.post('/api/mtproto/auth/password', json={'account_id': started['account_id'], 'password': 'nope'})
    assert wrong.status_code == 400
    assert wrong.json()['error']['code'] == 'PASSWORD_HASH_INVALID'
    right = await api.post('/api/mtproto/auth/password',
                           json={'account_id': started['account_id'], 'password': 'api-2fa-pass'})
    assert right.status_code == 200
    assert right.json() == {'account_id': started['account_id'], 'status': 'authorized', 'display_name': 'Tfa',
                            'phone_masked': verified['phone_masked']}


async def test_qr_login(telegram_dc, api):
    phone = telegram_dc.new_phone(3)
    user_id = telegram_dc.create_user(phone, 'Qr')
    answer = await api.post('/api/mtproto/auth/qr', json={})
    assert answer.status_code == 200
    qr = answer.json()
    assert qr['url'].startswith('tg://login?token=') and qr['expires_at']
    pending = (await api.get(f'/api/mtproto/auth/qr/{qr["account_id"]}')).json()
    assert pending['status'] == 'qr_pending'
    assert telegram_dc.accept_qr(user_id)
    for _ in range(100):
        status = (await api.get(f'/api/mtproto/auth/qr/{qr["account_id"]}')).json()
        if status['status'] != 'qr_pending':
            break
        await asyncio.sleep(0.05)
    assert status['status'] == 'authorized'
    listed = (await api.get('/api/mtproto/accounts')).json()
    assert [a['user_id'] for a in listed] == [user_id]


async def test_wrong_expired_resent_code(telegram_dc, api):
    phone = telegram_dc.new_phone(4)
    telegram_dc.create_user(phone, 'Codes')
    account_id = (await start(api, phone))['account_id']
    wrong = await api.post('/api/mtproto/auth/verify', json={'account_id': account_id, 'code': '00000'})
    assert (wrong.status_code, wrong.json()['error']['code']) == (400, 'PHONE_CODE_INVALID')
    telegram_dc.dc.call(telegram_dc.world.expire_codes, phone)
    expired = await api.post('/api/mtproto/auth/verify', json={'account_id': account_id, 'code': '44444'})
    assert (expired.status_code, expired.json()['error']['code']) == (400, 'PHONE_CODE_EXPIRED')
    assert 'Resend' in expired.json()['error']['message']
    resent = await api.post('/api/mtproto/auth/resend', json={'account_id': account_id})
    assert resent.status_code == 200 and resent.json()['status'] == 'code_sent'
    done = await api.post('/api/mtproto/auth/verify', json={'account_id': account_id, 'code': '44444'})
    assert done.json()['status'] == 'authorized'


async def test_cancel_unknown_and_malformed(telegram_dc, api):
    phone = telegram_dc.new_phone(5)
    telegram_dc.create_user(phone, 'Cancel')
    account_id = (await start(api, phone))['account_id']
    cancelled = await api.post('/api/mtproto/auth/cancel', json={'account_id': account_id})
    assert cancelled.json()['status'] == 'cancelled'
    after = await api.post('/api/mtproto/auth/verify', json={'account_id': account_id, 'code': '55555'})
    assert after.status_code == 404
    unknown = await api.post('/api/mtproto/auth/verify', json={'account_id': 'nope', 'code': '55555'})
    assert (unknown.status_code, unknown.json()['error']['code']) == (404, 'ACCOUNT_NOT_FOUND')
    assert (await api.get('/api/mtproto/auth/qr/nope')).status_code == 404
    assert (await api.delete('/api/mtproto/accounts/nope')).status_code == 404
    malformed = await api.post('/api/mtproto/auth/start', content=b'{"phone": ',
                               headers={'content-type': 'application/json'})
    assert (malformed.status_code, malformed.json()['error']['code']) == (400, 'BAD_REQUEST')
    missing = await api.post('/api/mtproto/auth/verify', json={'account_id': account_id})
    assert missing.status_code == 400
    bad_phone = await api.post('/api/mtproto/auth/start', json={'phone': 'call me'})
    assert (bad_phone.status_code, bad_phone.json()['error']['code']) == (400, 'PHONE_NUMBER_INVALID')
    no_token = await api.get('/api/mtproto/accounts', headers={'Authorization': ''})
    assert no_token.status_code == 401


async def test_flood_wait_answers_429_with_retry_after(telegram_dc, api):
    phone = telegram_dc.new_phone(6)
    telegram_dc.create_user(phone, 'Flood')
    telegram_dc.add_fault('auth.sendCode', 'FLOOD_WAIT', seconds=30)
    try:
        answer = await api.post('/api/mtproto/auth/start', json={'phone': phone})
    finally:
        telegram_dc.clear_faults()
    assert answer.status_code == 429
    assert answer.headers['Retry-After'] == '30'
    assert answer.json()['error']['code'] == 'FLOOD_WAIT'


async def test_two_accounts_at_once_and_log_out(telegram_dc, api, app_root):
    phones = [telegram_dc.new_phone(7), telegram_dc.new_phone(8)]
    for i, phone in enumerate(phones):
        telegram_dc.create_user(phone, f'Pair{i}')
    first, second = await asyncio.gather(*(start(api, phone) for phone in phones))
    answers = await asyncio.gather(
        api.post('/api/mtproto/auth/verify', json={'account_id': first['account_id'], 'code': '77777'}),
        api.post('/api/mtproto/auth/verify', json={'account_id': second['account_id'], 'code': '88888'}))
    assert [a.json()['status'] for a in answers] == ['authorized', 'authorized']
    assert app_root.accounts.counts() == (2, 2)
    out = await api.delete(f'/api/mtproto/accounts/{first["account_id"]}')
    assert out.json() == {'account_id': first['account_id'], 'status': 'logged_out'}
    listed = {a['id']: a for a in (await api.get('/api/mtproto/accounts')).json()}
    assert (listed[first['account_id']]['state'], listed[first['account_id']]['reason']) == ('revoked', 'logged out')
    assert listed[second['account_id']]['state'] == 'connected'
    removed = await api.delete(f'/api/mtproto/accounts/{first["account_id"]}')
    assert removed.json()['status'] == 'removed'
    assert [a['id'] for a in (await api.get('/api/mtproto/accounts')).json()] == [second['account_id']]


async def test_no_secret_in_answers_or_logs(telegram_dc, api, app_root, log_capture: LogCapture):
    phone = telegram_dc.new_phone(9)
    telegram_dc.create_user(phone, 'Quiet', password='very-secret-2fa')
    account_id = (await start(api, phone))['account_id']
    answers = [await api.post('/api/mtproto/auth/verify', json={'account_id': account_id, 'code': '99999'}),
               await api.post('/api/mtproto/auth/password',
                              json={'account_id': account_id, 'password': 'very-secret-2fa'})]
    answers.append(await api.get('/api/mtproto/accounts'))
    session = app_root.accounts.client(account_id).session.save()
    texts = [a.text for a in answers] + [log_capture.text]
    for text in texts:
        assert '99999' not in text
        assert 'very-secret-2fa' not in text
        assert session[1:40] not in text
    assert account_id in log_capture.text  # the capture saw the login


@pytest.mark.parametrize('app_extra_env', [{}])
async def test_without_telegram_credentials_503_names_the_settings(api):
    for path, body in (('/api/mtproto/auth/start', {'phone': '+999661234'}), ('/api/mtproto/auth/qr', {})):
        answer = await api.post(path, json=body)
        assert answer.status_code == 503
        message = answer.json()['error']['message']
        assert 'TELEGRAM_API_ID' in message and 'TELEGRAM_API_HASH' in message
