"""AccountManager against the test DC and the real database: restart, revocation, leases, secrets at rest."""
from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from telethon.sessions import StringSession

from app.crypto import SecretBox
from app.db.models import AccountStatus
from app.events import AccountChanged, FloodWaitChanged
from app.mtproto.accounts import AccountManager, LiveState
from app.mtproto.errors import LoginError, LoginState
from app.mtproto.login import LoginService
from tests import support
from tests.mtproto.test_login_flows import make_settings

SECRET = 'a-test-secret-key-0123456789'


@pytest.fixture
async def new_manager(telegram_dc, repos, tmp_path) -> AsyncIterator[Callable[..., AccountManager]]:
    made: list[AccountManager] = []

    def build(owner: str | None = None, **kw) -> AccountManager:
        options = {'lease_seconds': 2.0, 'tick_seconds': 0.25, 'health_seconds': 0.5} | kw
        manager = AccountManager(settings=make_settings(telegram_dc, tmp_path), repo=repos.accounts,
                                 secret_box=SecretBox(SECRET), owner_id=owner or f'owner-{uuid.uuid4().hex[:6]}',
                                 **options)
        made.append(manager)
        return manager

    yield build
    for manager in made:
        await manager.stop()


eventually = functools.partial(support.eventually, timeout=10.0)


async def log_in(telegram_dc, logins: LoginService, x: int, password: str | None = None) -> tuple[str, int, str]:
    phone = telegram_dc.new_phone(x)
    user_id = telegram_dc.create_user(phone, f'User{x}', username=f'u{uuid.uuid4().hex[:8]}', password=password)
    step = await logins.start(phone)
    step = await logins.verify(step.account_id, str(x) * 5)
    if password is not None:
        assert step.status == LoginState.PASSWORD_REQUIRED
        step = await logins.password(step.account_id, password)
    assert step.status == LoginState.AUTHORIZED
    return step.account_id, user_id, phone


async def test_restart_reconnects_without_logging_in(telegram_dc, new_manager):
    first = new_manager()
    await first.start()
    account_id, user_id, _ = await log_in(telegram_dc, LoginService(settings=first.settings, accounts=first), 7)
    await first.stop()
    assert first.client(account_id) is None

    second = new_manager()
    await second.start()
    await eventually(lambda: second.client(account_id) is not None)
    me = await second.client(account_id).get_me()
    assert me.id == user_id
    assert second.counts() == (1, 1)
    info = (await second.list_accounts())[0]
    assert (info.state, info.connected, info.first_name) == (LiveState.CONNECTED, True, 'User7')


async def test_the_last_hour_s_request_counts_survive_a_restart(telegram_dc, new_manager):
    first = new_manager()
    await first.start()
    account_id, _user_id, _ = await log_in(telegram_dc, LoginService(settings=first.settings, accounts=first), 6)
    client = first.client(account_id)
    for _ in range(5):
        await client.get_me()
    before = first.door.limiter.recent_calls(account_id)['hour']
    assert before >= 5
    await first.stop()

    second = new_manager()
    await second.start()
    assert second.door.limiter.recent_calls(account_id)['hour'] >= before  # not back to the few calls of a connect


def test_masked_numbers_stay_distinguishable() -> None:
    from app.mtproto.account import distinct_masks, mask_phone  # noqa: PLC0415
    assert mask_phone('447700900123') == '+44••••••0123'
    masks = distinct_masks(['9996640001', '9996650001', '447700900123'])
    assert len(set(masks.values())) == 3 and masks['447700900123'] == '+44••••••0123'
    assert masks['9996640001'].endswith('40001') and masks['9996650001'].endswith('50001')


async def test_revoked_session_shows_revoked_and_logs_in_again_in_place(telegram_dc, new_manager, repos):
    manager = new_manager()
    await manager.start()
    logins = LoginService(settings=manager.settings, accounts=manager)
    account_id, user_id, phone = await log_in(telegram_dc, logins, 8)
    revoked = asyncio.ensure_future(manager.events.next(
        AccountChanged, lambda e: e.account_id == account_id and e.state == LiveState.REVOKED.value, timeout=10))
    await asyncio.sleep(0)  # subscribed
    assert telegram_dc.revoke_sessions(user_id) >= 1
    await revoked  # announced to the rest of the app
    info = await manager.get_account(account_id)
    assert info.state == LiveState.REVOKED
    assert info.reason == 'revoked — log in again'
    assert manager.client(account_id) is None
    assert (await repos.accounts.get(account_id)).session_encrypted is None

    step = await logins.start(phone)
    assert step.account_id == account_id
    step = await logins.verify(step.account_id, '88888')
    assert (step.status, step.account_id) == (LoginState.AUTHORIZED, account_id)
    assert await repos.accounts.count() == 1
    assert (await manager.get_account(account_id)).state == LiveState.CONNECTED


async def test_two_processes_never_connect_the_same_account(telegram_dc, new_manager):
    setup = new_manager()
    await setup.start()
    account_id, _, _ = await log_in(telegram_dc, LoginService(settings=setup.settings, accounts=setup), 9)
    await setup.stop()

    one, two = new_manager('process-one'), new_manager('process-two')
    await asyncio.gather(one.start(), two.start())
    await eventually(lambda: one.client(account_id) is not None or two.client(account_id) is not None)
    for _ in range(40):  # over several lease renewals, never both
        assert not (one.client(account_id) and two.client(account_id))
        await asyncio.sleep(0.05)
    holder, other = (one, two) if one.client(account_id) else (two, one)
    info = await other.get_account(account_id)
    assert info.state == LiveState.HELD
    assert info.reason == 'held by another Parsegram process'

    await holder.stop()  # the other process takes over once the lease is free
    await eventually(lambda: other.client(account_id) is not None)
    assert holder.client(account_id) is None


async def test_sessions_and_secrets_never_reach_the_database_or_logs(telegram_dc, new_manager, repos, log_capture):
    manager = new_manager()
    await manager.start()
    account_id, _, _ = await log_in(telegram_dc, LoginService(settings=manager.settings, accounts=manager), 2,
                                    password='correct-horse-2fa')
    client = manager.client(account_id)
    session = client.session.save()
    auth_key_hex = client.session.auth_key.key.hex()
    raw = [doc async for doc in repos.accounts.collection.find({})]
    assert len(raw) == 1 and raw[0]['session_encrypted']
    dumped = repr(raw)
    assert session not in dumped
    assert session[1:40] not in dumped
    assert auth_key_hex[:32] not in dumped
    assert SecretBox(SECRET).decrypt(raw[0]['session_encrypted']) == session
    logs = log_capture.text
    assert 'logged in' in logs  # the capture works
    assert '22222' not in logs
    assert 'correct-horse-2fa' not in logs
    assert session[1:40] not in logs
    listed = [info.model_dump_json() for info in await manager.list_accounts()]
    assert not any(session[1:40] in item or 'session' in item for item in listed)


async def test_flood_wait_on_send_code_is_reported_with_its_seconds(telegram_dc, new_manager):
    manager = new_manager()
    await manager.start()
    logins = LoginService(settings=manager.settings, accounts=manager)
    phone = telegram_dc.new_phone(1)
    telegram_dc.create_user(phone, 'Flo')
    telegram_dc.add_fault('auth.sendCode', 'FLOOD_WAIT', seconds=30)
    try:
        with pytest.raises(LoginError) as flood:
            await logins.start(phone)
    finally:
        telegram_dc.clear_faults()
    assert (flood.value.status, flood.value.code, flood.value.retry_after) == (429, 'FLOOD_WAIT', 30)
    assert '30 seconds' in flood.value.message
    assert logins.pending_count() == 0


async def test_flood_wait_is_recorded_on_the_account(telegram_dc, new_manager):
    manager = new_manager()
    await manager.start()
    account_id, _, _ = await log_in(telegram_dc, LoginService(settings=manager.settings, accounts=manager), 3)
    assert manager.usable_account_ids() == [account_id]
    announced = asyncio.ensure_future(manager.events.next(FloodWaitChanged, timeout=5))
    await asyncio.sleep(0)  # subscribed
    await manager.note_flood_wait(account_id, 120)
    assert manager.usable_account_ids() == []
    assert (await announced).account_id == account_id
    until = manager.flood_wait_until(account_id)
    assert until is not None
    info = await manager.get_account(account_id)
    assert info.state == LiveState.FLOOD_WAIT
    assert 115 <= info.flood_wait_seconds <= 120


async def test_log_out_ends_the_session_then_removes_the_record(telegram_dc, new_manager, repos):
    manager = new_manager()
    await manager.start()
    account_id, user_id, _ = await log_in(telegram_dc, LoginService(settings=manager.settings, accounts=manager), 4)
    session = manager.client(account_id).session.save()
    assert await manager.log_out(account_id) == 'logged_out'
    account = await repos.accounts.get(account_id)
    assert (account.status, account.status_reason, account.session_encrypted) == (
        AccountStatus.REVOKED, 'logged out', None)
    assert manager.client(account_id) is None
    stale = telegram_dc.make_client(session)  # the old auth key is dead on Telegram's side
    await stale.connect()
    try:
        assert not await stale.is_user_authorized()
    finally:
        await stale.disconnect()
    assert await manager.log_out(account_id) == 'removed'
    assert await repos.accounts.get(account_id) is None
    assert await manager.log_out(account_id) is None


async def test_listeners_hear_connects_and_disconnects(telegram_dc, new_manager):
    manager = new_manager()
    events: list[tuple[str, str]] = []

    async def connected(account_id, client) -> None:
        events.append(('connected', account_id))

    async def disconnected(account_id) -> None:
        events.append(('disconnected', account_id))

    manager.add_listener(connected, disconnected)
    await manager.start()
    account_id, _, _ = await log_in(telegram_dc, LoginService(settings=manager.settings, accounts=manager), 5)
    await support.eventually(lambda: events == [('connected', account_id)])  # heard after the login has answered
    await manager.stop()
    assert events == [('connected', account_id), ('disconnected', account_id)]


async def test_dropped_connections_come_back_by_themselves(telegram_dc, new_manager):
    manager = new_manager()
    await manager.start()
    account_id, user_id, _ = await log_in(telegram_dc, LoginService(settings=manager.settings, accounts=manager), 6)
    assert telegram_dc.disconnect_all() >= 1

    async def answers():
        client = manager.client(account_id)
        if client is None:
            return None
        try:
            return await asyncio.wait_for(client.get_me(), timeout=10)
        except ConnectionError:
            return None
    me = await eventually(answers, timeout=20, interval=0.1)
    assert me.id == user_id
    assert manager.counts() == (1, 1)


async def test_a_changed_session_is_saved_again(telegram_dc, new_manager, repos):
    manager = new_manager()
    await manager.start()
    account_id, user_id, _ = await log_in(telegram_dc, LoginService(settings=manager.settings, accounts=manager), 7)
    await manager.stop()
    # The stored session points at an old address of the same DC (as after the server moved).
    box = SecretBox(SECRET)
    stale = StringSession(box.decrypt((await repos.accounts.get(account_id)).session_encrypted))
    stale.set_dc(stale.dc_id, '127.0.0.1', 1)
    await repos.accounts.set_session(account_id=account_id, session_encrypted=box.encrypt(stale.save()),
                                     dc_id=stale.dc_id)

    restarted = new_manager()
    await restarted.start()
    await eventually(lambda: restarted.client(account_id) is not None)
    assert (await restarted.client(account_id).get_me()).id == user_id
    saved = StringSession(box.decrypt((await repos.accounts.get(account_id)).session_encrypted))
    assert (saved.server_address, saved.port) == (telegram_dc.host, telegram_dc.port)
    assert saved.auth_key.key == stale.auth_key.key
