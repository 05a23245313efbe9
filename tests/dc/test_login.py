"""Logging in to the test DC with the real Telethon client: code, 2FA, QR, errors, log out, revoked sessions."""

from __future__ import annotations

import asyncio

import pytest
from telethon import errors, functions, types


@pytest.fixture
async def client(telegram_dc):
    client = telegram_dc.make_client()
    await client.connect()
    yield client
    await client.disconnect()


async def test_code_login_signs_in_the_user(telegram_dc, client):
    phone = telegram_dc.new_phone(4)
    user_id = telegram_dc.create_user(phone, 'Code', last_name='Login')
    assert await client.get_me() is None
    sent = await client.send_code_request(phone)
    assert isinstance(sent.type, types.auth.SentCodeTypeApp)
    user = await client.sign_in(phone, '44444')
    assert (user.id, user.first_name, user.phone) == (user_id, 'Code', phone)
    me = await client.get_me()
    assert me.id == user_id and me.is_self
    assert await client.is_user_authorized()


async def test_session_string_survives_a_new_client(telegram_dc, client):
    phone = telegram_dc.new_phone(4)
    user_id = telegram_dc.create_user(phone, 'Saved')
    await telegram_dc.login(client, phone)
    saved = client.session.save()
    await client.disconnect()
    again = telegram_dc.make_client(saved)
    await again.connect()
    try:
        assert (await again.get_me()).id == user_id
    finally:
        await again.disconnect()


async def test_wrong_code_then_right_code(telegram_dc, client):
    phone = telegram_dc.new_phone(5)
    telegram_dc.create_user(phone, 'Typo')
    await client.send_code_request(phone)
    with pytest.raises(errors.PhoneCodeInvalidError):
        await client.sign_in(phone, '12345')
    assert (await client.sign_in(phone, '55555')).first_name == 'Typo'


async def test_expired_and_cancelled_codes_are_refused(telegram_dc, client):
    phone = telegram_dc.new_phone(6)
    telegram_dc.create_user(phone, 'Late')
    await client.send_code_request(phone)
    telegram_dc.dc.call(telegram_dc.world.expire_codes, phone)
    with pytest.raises(errors.PhoneCodeExpiredError):
        await client.sign_in(phone, '66666')

    sent = await client.send_code_request(phone)
    await client(functions.auth.CancelCodeRequest(phone, sent.phone_code_hash))
    with pytest.raises(errors.PhoneCodeExpiredError):
        await client.sign_in(phone, '66666', phone_code_hash=sent.phone_code_hash)


async def test_resend_switches_to_sms_and_keeps_working(telegram_dc, client):
    phone = telegram_dc.new_phone(7)
    telegram_dc.create_user(phone, 'Resend')
    first = await client.send_code_request(phone)
    again = await client.send_code_request(phone)  # Telethon resends when it already holds a hash
    assert isinstance(again.type, types.auth.SentCodeTypeSms)
    assert again.phone_code_hash == first.phone_code_hash
    assert (await client.sign_in(phone, '77777')).first_name == 'Resend'


async def test_invalid_and_unknown_numbers(telegram_dc, client):
    with pytest.raises(errors.PhoneNumberInvalidError):
        await client.send_code_request('12')
    unknown = telegram_dc.new_phone(8)
    await client.send_code_request(unknown)
    with pytest.raises(errors.PhoneNumberUnoccupiedError):
        await client.sign_in(unknown, '88888')
    assert await client.get_me() is None


async def test_numbers_outside_the_test_range_get_a_random_code(telegram_dc, client):
    phone = '+44 7700 900' + str(100 + telegram_dc.dc.call(lambda: len(telegram_dc.world.users)))
    user_id = telegram_dc.create_user(phone, 'Random')
    await client.send_code_request(phone)
    code = telegram_dc.login_code(phone)
    assert code is not None and len(code) == 5 and code.isdigit()
    assert (await client.sign_in(phone, code)).id == user_id
    assert telegram_dc.login_code(phone) is None  # used up


async def test_two_factor_login_with_srp(telegram_dc, client):
    phone = telegram_dc.new_phone(9)
    user_id = telegram_dc.create_user(phone, 'Secret', password='open sesame', hint='sesame')
    await client.send_code_request(phone)
    with pytest.raises(errors.SessionPasswordNeededError):
        await client.sign_in(phone, '99999')
    assert await client.get_me() is None
    password = await client(functions.account.GetPasswordRequest())
    assert password.has_password and password.hint == 'sesame'
    assert isinstance(password.current_algo, types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow)
    with pytest.raises(errors.PasswordHashInvalidError):
        await client.sign_in(password='open sesame?')
    user = await client.sign_in(password='open sesame')
    assert user.id == user_id
    assert (await client.get_me()).id == user_id


async def test_qr_login_completes_when_accepted(telegram_dc, client):
    phone = telegram_dc.new_phone(3)
    user_id = telegram_dc.create_user(phone, 'Scanner')
    qr = await client.qr_login()
    assert qr.url.startswith('tg://login?token=')
    waiting = asyncio.create_task(qr.wait(timeout=10))
    await asyncio.sleep(0.2)
    assert await asyncio.to_thread(telegram_dc.accept_qr, user_id)
    user = await waiting
    assert user.id == user_id
    assert (await client.get_me()).id == user_id


async def test_qr_login_of_a_2fa_account_asks_for_the_password(telegram_dc, client):
    phone = telegram_dc.new_phone(3)
    user_id = telegram_dc.create_user(phone, 'QR Secret', password='pw-qr')
    qr = await client.qr_login()
    waiting = asyncio.create_task(qr.wait(timeout=10))
    await asyncio.sleep(0.2)
    await asyncio.to_thread(telegram_dc.accept_qr, user_id)
    with pytest.raises(errors.SessionPasswordNeededError):
        await waiting
    assert (await client.sign_in(password='pw-qr')).id == user_id


async def test_log_out_ends_the_session(telegram_dc, client):
    phone = telegram_dc.new_phone(2)
    telegram_dc.create_user(phone, 'Leaving')
    await telegram_dc.login(client, phone)
    saved = client.session.save()
    assert await client.log_out()
    again = telegram_dc.make_client(saved)
    await again.connect()
    try:
        assert await again.get_me() is None
        with pytest.raises(errors.AuthKeyUnregisteredError):
            await again(functions.updates.GetStateRequest())
    finally:
        await again.disconnect()


async def test_revoked_sessions_get_auth_key_unregistered(telegram_dc, client):
    phone = telegram_dc.new_phone(2)
    user_id = telegram_dc.create_user(phone, 'Revoked')
    other = telegram_dc.make_client()
    await telegram_dc.login(client, phone)
    await telegram_dc.login(other, phone)
    try:
        assert await asyncio.to_thread(telegram_dc.revoke_sessions, user_id) == 2
        with pytest.raises(errors.AuthKeyUnregisteredError):
            await other(functions.users.GetFullUserRequest(types.InputUserSelf()))
        assert await client.get_me() is None
    finally:
        await other.disconnect()


async def test_sign_up_creates_the_account(telegram_dc, client):
    phone = telegram_dc.new_phone(8)
    sent = await client.send_code_request(phone)
    answer = await client(functions.auth.SignInRequest(phone, sent.phone_code_hash, '88888'))
    assert isinstance(answer, types.auth.AuthorizationSignUpRequired)
    with pytest.raises(errors.FirstNameInvalidError):
        await client(functions.auth.SignUpRequest(phone, sent.phone_code_hash, ' ', ''))
    created = await client(functions.auth.SignUpRequest(phone, sent.phone_code_hash, 'New', 'Person'))
    assert created.user.first_name == 'New' and created.user.phone == phone
    assert (await client.get_me()).id == created.user.id
    assert telegram_dc.dc.call(telegram_dc.world.user_by_phone, phone).first_name == 'New'


async def test_a_qr_token_is_accepted_once_and_then_logs_in(telegram_dc, client):
    user_id = telegram_dc.create_user(telegram_dc.new_phone(3), 'Nobody waiting')
    qr = await client.qr_login()
    assert await asyncio.to_thread(telegram_dc.accept_qr, user_id)
    assert not await asyncio.to_thread(telegram_dc.accept_qr, user_id)
    success = await client(functions.auth.ExportLoginTokenRequest(1, 'x', []))
    assert isinstance(success, types.auth.LoginTokenSuccess) and success.authorization.user.id == user_id
    assert qr.expires.tzinfo is not None


async def test_client_start_runs_the_whole_interactive_flow(telegram_dc):
    phone = telegram_dc.new_phone(6)
    user_id = telegram_dc.create_user(phone, 'Starter', password='start-pw')
    client = telegram_dc.make_client()
    try:
        await client.start(phone=phone, code_callback=lambda: '66666', password='start-pw')
        assert (await client.get_me()).id == user_id
    finally:
        await client.disconnect()
