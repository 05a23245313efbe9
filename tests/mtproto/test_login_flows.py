"""Login state machines against the test DC with the real Telethon client and the real database."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.config import Settings
from app.crypto import SecretBox
from app.db.models import AccountStatus
from app.mtproto.accounts import AccountManager
from app.mtproto.errors import LoginError, LoginState
from app.mtproto.login import LoginService
from tests.support import eventually


def make_settings(telegram_dc, tmp_path: Path, **overrides) -> Settings:
    env = telegram_dc.env()
    return Settings(telegram_api_id=int(env['TELEGRAM_API_ID']), telegram_api_hash=env['TELEGRAM_API_HASH'],
                    telegram_dc=env['TELEGRAM_DC'], telegram_dc_id=int(env['TELEGRAM_DC_ID']),
                    telegram_public_key=Path(env['TELEGRAM_PUBLIC_KEY']), data_dir=tmp_path / 'data',
                    **overrides)


@pytest.fixture
async def manager(telegram_dc, repos, tmp_path) -> AsyncIterator[AccountManager]:
    accounts = AccountManager(settings=make_settings(telegram_dc, tmp_path), repo=repos.accounts,
                              secret_box=SecretBox('k' * 32), owner_id=f'test-{uuid.uuid4().hex[:6]}',
                              lease_seconds=3, tick_seconds=0.3, health_seconds=0.5)
    await accounts.start()
    yield accounts
    await accounts.stop()


@pytest.fixture
def logins(manager: AccountManager) -> LoginService:
    return LoginService(settings=manager.settings, accounts=manager, pending_ttl=60)


async def test_code_login_connects_and_stores_the_account(telegram_dc, logins, manager, repos):
    phone = telegram_dc.new_phone(3)
    user_id = telegram_dc.create_user(phone, 'Ada', username=f'ada{uuid.uuid4().hex[:6]}')
    step = await logins.start(phone)
    assert step.status == LoginState.CODE_SENT
    assert step.code_type == 'app'
    step = await logins.verify(step.account_id, '33333')
    assert step.status == LoginState.AUTHORIZED
    assert step.display_name == 'Ada'
    client = manager.client(step.account_id)
    assert client is not None
    me = await client.get_me()
    assert me.id == user_id
    account = await repos.accounts.get(step.account_id)
    assert account.status == AccountStatus.AUTHORIZED
    assert account.phone == phone
    assert manager.counts() == (1, 1)
    assert manager.usable_account_ids() == [step.account_id]
    with pytest.raises(LoginError) as again:
        await logins.start(phone)
    assert (again.value.status, again.value.code) == (409, 'ALREADY_LOGGED_IN')


async def test_a_dropped_key_exchange_is_tried_again(telegram_dc, logins):
    telegram_dc.add_fault('reqPqMulti', 'DROP')  # the first connection's key exchange is cut off
    phone = telegram_dc.new_phone(3)
    telegram_dc.create_user(phone, 'Retry')
    try:
        assert (await logins.start(phone)).status == LoginState.CODE_SENT
        telegram_dc.add_fault('reqPqMulti', 'DROP', count=3)  # every try: the person is told, not left waiting
        with pytest.raises(LoginError) as dropped:
            await logins.start(telegram_dc.new_phone(3))
        assert (dropped.value.status, dropped.value.code) == (503, 'TELEGRAM_UNREACHABLE')
        assert 'try again' in dropped.value.message
    finally:
        telegram_dc.clear_faults()


async def test_two_factor_login_shows_the_hint(telegram_dc, logins, manager):
    phone = telegram_dc.new_phone(4)
    telegram_dc.create_user(phone, 'Bob', password='hunter22')
    telegram_dc.dc.call(telegram_dc.world.set_password, telegram_dc.world.user_by_phone(phone).id,
                        'hunter22', 'the usual')
    step = await logins.start(phone)
    step = await logins.verify(step.account_id, '44444')
    assert step.status == LoginState.PASSWORD_REQUIRED
    assert step.hint == 'the usual'
    with pytest.raises(LoginError) as wrong:
        await logins.password(step.account_id, 'wrong password')
    assert (wrong.value.status, wrong.value.code) == (400, 'PASSWORD_HASH_INVALID')
    step = await logins.password(step.account_id, 'hunter22')
    assert step.status == LoginState.AUTHORIZED
    assert manager.client(step.account_id) is not None


async def test_wrong_and_expired_codes(telegram_dc, logins):
    phone = telegram_dc.new_phone(5)
    telegram_dc.create_user(phone, 'Cy')
    step = await logins.start(phone)
    with pytest.raises(LoginError) as wrong:
        await logins.verify(step.account_id, '12345')
    assert (wrong.value.status, wrong.value.code) == (400, 'PHONE_CODE_INVALID')
    telegram_dc.dc.call(telegram_dc.world.expire_codes, phone)
    with pytest.raises(LoginError) as expired:
        await logins.verify(step.account_id, '55555')
    assert (expired.value.status, expired.value.code) == (400, 'PHONE_CODE_EXPIRED')
    step = await logins.resend(step.account_id)
    assert step.status == LoginState.CODE_SENT
    step = await logins.verify(step.account_id, '55555')
    assert step.status == LoginState.AUTHORIZED


async def test_qr_login_completes_when_accepted(telegram_dc, logins, manager):
    phone = telegram_dc.new_phone(6)
    user_id = telegram_dc.create_user(phone, 'Dee')
    step = await logins.start_qr()
    assert step.status == LoginState.QR_PENDING
    assert step.url.startswith('tg://login?token=')
    assert telegram_dc.accept_qr(user_id)
    for _ in range(100):
        step = await logins.qr_status(step.account_id)
        if step.status != LoginState.QR_PENDING:
            break
        await asyncio.sleep(0.1)
    assert step.status == LoginState.AUTHORIZED
    assert manager.client(step.account_id) is not None


async def wait_for_qr(logins: LoginService, account_id: str, *, leave: LoginState = LoginState.QR_PENDING):
    for _ in range(200):
        step = await logins.qr_status(account_id)
        if step.status != leave:
            return step
        await asyncio.sleep(0.05)
    raise AssertionError(f'QR login stayed {leave}')


async def test_qr_login_with_two_factor_password(telegram_dc, logins, manager):
    phone = telegram_dc.new_phone(7)
    user_id = telegram_dc.create_user(phone, 'Eve', password='qr-2fa-secret')
    step = await logins.start_qr()
    telegram_dc.accept_qr(user_id)
    step = await wait_for_qr(logins, step.account_id)
    assert step.status == LoginState.PASSWORD_REQUIRED
    step = await logins.password(step.account_id, 'qr-2fa-secret')
    assert step.status == LoginState.AUTHORIZED
    assert (await manager.client(step.account_id).get_me()).id == user_id


async def test_qr_token_refreshes_before_it_expires(telegram_dc, logins):
    world = telegram_dc.world
    telegram_dc.dc.call(setattr, world, 'qr_ttl', 3.0)
    try:
        first = await logins.start_qr()
        step = first
        for _ in range(100):
            step = await logins.qr_status(first.account_id)
            if step.url != first.url:
                break
            await asyncio.sleep(0.05)
        assert step.status == LoginState.QR_PENDING
        assert step.url != first.url
        assert step.expires_at > first.expires_at
    finally:
        telegram_dc.dc.call(setattr, world, 'qr_ttl', 60.0)
    await logins.cancel(first.account_id)
    assert (await logins.qr_status(first.account_id)).status == LoginState.CANCELLED


async def test_cancel_ends_the_login_and_its_code(telegram_dc, logins):
    phone = telegram_dc.new_phone(8)
    telegram_dc.create_user(phone, 'Fay')
    step = await logins.start(phone)
    assert telegram_dc.login_code(phone) == '88888'
    step = await logins.cancel(step.account_id)
    assert step.status == LoginState.CANCELLED
    assert telegram_dc.login_code(phone) is None  # Telegram was told: the code is void
    with pytest.raises(LoginError) as gone:
        await logins.verify(step.account_id, '88888')
    assert gone.value.status == 404
    assert logins.pending_count() == 0


async def test_cancel_from_the_password_step(telegram_dc, logins):
    phone = telegram_dc.new_phone(9)
    telegram_dc.create_user(phone, 'Gil', password='pw-gil')
    step = await logins.start(phone)
    step = await logins.verify(step.account_id, '99999')
    assert step.status == LoginState.PASSWORD_REQUIRED
    assert (await logins.cancel(step.account_id)).status == LoginState.CANCELLED
    with pytest.raises(LoginError) as gone:
        await logins.password(step.account_id, 'pw-gil')
    assert gone.value.status == 404


async def test_unfinished_login_expires_and_closes(telegram_dc, manager):
    logins = LoginService(settings=manager.settings, accounts=manager, pending_ttl=0.5)
    phone = telegram_dc.new_phone(1)
    telegram_dc.create_user(phone, 'Hal')
    step = await logins.start(phone)
    await eventually(lambda: logins.state_of(step.account_id) is None, timeout=10)
    with pytest.raises(LoginError) as expired:
        await logins.verify(step.account_id, '11111')
    assert (expired.value.status, expired.value.code) == (404, 'LOGIN_EXPIRED')


async def test_two_logins_at_once(telegram_dc, logins, manager):
    phones = [telegram_dc.new_phone(2), telegram_dc.new_phone(3)]
    ids = [telegram_dc.create_user(phone, f'Twin{i}') for i, phone in enumerate(phones)]
    first, second = await asyncio.gather(*(logins.start(phone) for phone in phones))
    assert first.account_id != second.account_id
    done_second = await logins.verify(second.account_id, '33333')
    done_first = await logins.verify(first.account_id, '22222')
    assert done_first.status == done_second.status == LoginState.AUTHORIZED
    assert (await manager.client(first.account_id).get_me()).id == ids[0]
    assert (await manager.client(second.account_id).get_me()).id == ids[1]
    assert manager.counts() == (2, 2)


async def test_unknown_number_and_wrong_steps(telegram_dc, logins):
    phone = telegram_dc.new_phone(4)  # nobody signed up with it
    step = await logins.start(phone)
    with pytest.raises(LoginError) as wrong_step:
        await logins.password(step.account_id, 'x')
    assert (wrong_step.value.status, wrong_step.value.code) == (409, 'WRONG_STEP')
    with pytest.raises(LoginError) as unknown:
        await logins.verify(step.account_id, '44444')
    assert (unknown.value.status, unknown.value.code) == (400, 'PHONE_NUMBER_UNOCCUPIED')
    assert logins.state_of(step.account_id) is None
    with pytest.raises(LoginError) as bad_phone:
        await logins.start('12ab')
    assert (bad_phone.value.status, bad_phone.value.code) == (400, 'PHONE_NUMBER_INVALID')
    with pytest.raises(LoginError) as missing:
        await logins.verify('no-such-login', '11111')
    assert missing.value.status == 404


async def test_without_credentials_the_answer_names_the_settings(repos, tmp_path):
    settings = Settings(data_dir=tmp_path / 'data', telegram_api_id=None, telegram_api_hash=None)
    manager = AccountManager(settings=settings, repo=repos.accounts, secret_box=SecretBox('k' * 32), owner_id='x')
    await manager.start()
    logins = LoginService(settings=settings, accounts=manager)
    for call in (lambda: logins.start('+999661234'), logins.start_qr):
        with pytest.raises(LoginError) as error:
            await call()
        assert error.value.status == 503
        assert 'TELEGRAM_API_ID' in error.value.message and 'TELEGRAM_API_HASH' in error.value.message
    await manager.stop()


@pytest.fixture
async def capped(manager: AccountManager) -> AsyncIterator[LoginService]:
    """Logins capped at 3 waiting at once, 2 per owner."""
    logins = LoginService(settings=manager.settings, accounts=manager, pending_ttl=60, max_pending=3,
                          max_pending_per_owner=2)
    yield logins
    await logins.close()


def _users(telegram_dc, count: int, x: int) -> list[str]:
    phones = [telegram_dc.new_phone(x) for _ in range(count)]
    for phone in phones:
        telegram_dc.create_user(phone, 'Capped')
    return phones


async def test_pending_logins_are_capped_and_the_oldest_is_closed_first(telegram_dc, capped):
    logins, phones = capped, _users(telegram_dc, 3, 4)
    first = await logins.start(phones[0], owner='token:a')
    second = await logins.start(phones[1], owner='token:a')
    assert first.notice is None and second.notice is None
    third = await logins.start(phones[2], owner='token:a')  # one holder's cap: its own oldest goes
    assert 'oldest one' in third.notice and logins.pending_count() == 2
    assert logins.pending_step(first.account_id) is None
    with pytest.raises(LoginError):
        await logins.verify(first.account_id, '44444')
    qr = await logins.start_qr(owner='dashboard')
    assert qr.notice is None and logins.pending_count() == 3
    other = await logins.start_qr(owner='token:b')  # everyone's cap: the oldest of all goes
    assert 'At most 3 logins' in other.notice and logins.pending_count() == 3
    assert logins.pending_step(second.account_id) is None
    assert (await logins.qr_status(qr.account_id)).status == LoginState.QR_PENDING  # not the oldest: it stays
    assert (await logins.verify(third.account_id, '44444')).status == LoginState.AUTHORIZED


async def test_logins_started_all_at_once_cannot_pass_the_cap_together(telegram_dc, capped):
    logins, phones = capped, _users(telegram_dc, 6, 5)
    answers = await asyncio.gather(*(logins.start(phone, owner='token:a') for phone in phones),
                                   return_exceptions=True)
    started = [a for a in answers if not isinstance(a, BaseException)]
    refused = [a for a in answers if isinstance(a, BaseException)]
    assert all(isinstance(error, LoginError) and error.status == 429 and error.retry_after for error in refused)
    assert len(started) >= 2 and logins.pending_count() == 2  # never more Telegram connections than the cap
