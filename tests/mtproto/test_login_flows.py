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
