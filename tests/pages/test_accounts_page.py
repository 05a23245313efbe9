"""/dashboard/accounts with NiceGUI's simulated user: the list, the add-account wizard and log-out."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from nicegui import ui
from nicegui.testing import User

from app.mtproto.login import LoginService
from tests.support import sign_in

WAIT = 150  # should_see retries (0.1 s each) for steps that talk to Telegram


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


async def open_accounts(user: User) -> None:
    await sign_in(user, retries=WAIT)
    await user.open('/dashboard/accounts')


async def test_empty_state_then_code_login_with_two_factor(telegram_dc, user: User, app_root):
    phone = telegram_dc.new_phone(1)
    username = f'wiz{uuid.uuid4().hex[:6]}'
    user_id = telegram_dc.create_user(phone, 'Wizard', username=username)
    telegram_dc.dc.call(telegram_dc.world.set_password, user_id, 'wizard-pass', 'my cat')
    await open_accounts(user)
    await user.should_see('No Telegram accounts yet.', retries=WAIT)

    user.find(marker='add-account').click()
    user.find(marker='login-phone').type('+' + phone)
    user.find(marker='login-send').click()
    await user.should_see('We sent a login code to', retries=WAIT)
    await user.should_see('in the Telegram app', retries=WAIT)
    await user.should_see('Resend in', retries=WAIT)

    user.find(marker='login-code').type('12345')
    user.find(marker='login-verify').click()
    await user.should_see('That code is not right', retries=WAIT)

    user.find(marker='login-code').type('\b')  # the input keeps what was typed: clear it
    code_input = user.find(marker='login-code').elements.pop()
    code_input.value = ''
    user.find(marker='login-code').type('11111')
    user.find(marker='login-verify').click()
    await user.should_see('This account has two-step verification', retries=WAIT)
    await user.should_see('Hint: my cat', retries=WAIT)

    user.find(marker='login-password').type('not it')
    user.find(marker='login-password-submit').click()
    await user.should_see('That password is not right', retries=WAIT)
    user.find(marker='login-password').elements.pop().value = ''
    user.find(marker='login-password').type('wizard-pass')
    user.find(marker='login-password-submit').click()
    await user.should_see(f'Logged in as Wizard (@{username})', retries=WAIT)
    user.find(marker='login-close').click()

    await user.should_see(f'@{username}', retries=WAIT)
    await user.should_see('authorized', retries=WAIT)
    await user.should_not_see('No Telegram accounts yet.', retries=WAIT)


async def test_cancel_at_the_code_and_password_steps(telegram_dc, user: User, app_root):
    phone = telegram_dc.new_phone(2)
    telegram_dc.create_user(phone, 'Cancel', password='pw')
    await open_accounts(user)
    user.find(marker='add-account').click()
    user.find(marker='login-phone').type(phone)
    user.find(marker='login-send').click()
    await user.should_see('We sent a login code to', retries=WAIT)
    user.find(marker='login-cancel').click()
    await user.should_not_see('We sent a login code to', retries=WAIT)
    assert telegram_dc.login_code(phone) is None  # the code was cancelled at Telegram
    assert app_root.logins.pending_count() == 0

    user.find(marker='add-account').click()
    user.find(marker='login-phone').type(phone)
    user.find(marker='login-send').click()
    await user.should_see('We sent a login code to', retries=WAIT)
    user.find(marker='login-code').type('22222')
    user.find(marker='login-verify').click()
    await user.should_see('two-step verification', retries=WAIT)
    user.find(marker='login-cancel').click()
    await user.should_not_see('two-step verification', retries=WAIT)
    assert app_root.logins.pending_count() == 0
    await user.should_see('No Telegram accounts yet.', retries=WAIT)


async def test_a_login_in_progress_survives_a_reload_of_the_page(telegram_dc, user: User, app_root):
    phone = telegram_dc.new_phone(3)
    telegram_dc.create_user(phone, 'Reloader')
    await open_accounts(user)
    user.find(marker='add-account').click()
    user.find(marker='login-phone').type(phone)
    user.find(marker='login-send').click()
    await user.should_see('We sent a login code to', retries=WAIT)

    await user.open('/dashboard/accounts')  # a reload: the wizard finds the login again, the code is still valid
    await user.should_see(marker='login-resumed', retries=WAIT)
    await user.should_see('We sent a login code to', retries=WAIT)
    assert app_root.logins.pending_count() == 1
    user.find(marker='login-code').type('33333')
    user.find(marker='login-verify').click()
    await user.should_see('Logged in as Reloader', retries=WAIT)
    user.find(marker='login-close').click()

    await user.open('/dashboard/accounts')  # finished: nothing to continue
    await user.should_see('authorized', retries=WAIT)
    await user.should_not_see(marker='login-resumed')


async def test_bad_phone_shows_the_error_under_the_input(user: User, app_root):
    await open_accounts(user)
    user.find(marker='add-account').click()
    user.find(marker='login-phone').type('call me maybe')
    user.find(marker='login-send').click()
    await user.should_see('international format', retries=WAIT)


async def test_a_russian_number_written_from_8_asks_whether_plus_7_was_meant(telegram_dc, user: User, app_root):
    phone = '7' + telegram_dc.new_phone(8)  # eleven digits, as numbers in Russia have
    telegram_dc.create_user(phone, 'Ivan')
    await open_accounts(user)
    user.find(marker='add-account').click()
    user.find(marker='login-phone').type('8 ' + phone[1:])
    user.find(marker='login-send').click()
    await user.should_see(f'Did you mean +{phone}?', retries=WAIT)
    assert app_root.logins.pending_count() == 0  # nothing was sent to the number as typed
    user.find(marker='login-trunk-yes').click()
    await user.should_see('We sent a login code to', retries=WAIT)


async def test_qr_tab_shows_a_code_and_completes_when_accepted(telegram_dc, user: User, app_root):
    phone = telegram_dc.new_phone(3)
    user_id = telegram_dc.create_user(phone, 'Scanner')
    await open_accounts(user)
    user.find(marker='add-account').click()
    user.find(kind=ui.tab, content='QR code').click()
    await user.should_see(marker='login-qr', retries=WAIT)
    image = user.find(marker='login-qr').elements.pop()
    assert isinstance(image, ui.image) and image.source.startswith('data:image/svg+xml')
    assert telegram_dc.accept_qr(user_id)
    await user.should_see('Logged in as Scanner', retries=WAIT)


async def test_states_revoked_flood_wait_and_log_out(telegram_dc, user: User, app_root):
    manager = app_root.accounts
    logins = LoginService(settings=app_root.settings, accounts=manager)
    ids = {}
    for x, name in ((4, 'Revokee'), (5, 'Waiter')):
        phone = telegram_dc.new_phone(x)
        ids[name] = (telegram_dc.create_user(phone, name), phone)
        step = await logins.start(phone)
        await logins.verify(step.account_id, str(x) * 5)
        ids[name] += (step.account_id,)
    await manager.note_revoked(ids['Revokee'][2])
    await manager.note_flood_wait(ids['Waiter'][2], 90)
    await manager.note_flood_wait(ids['Waiter'][2], 3 * 3600, 'resolve')
    await manager.note_flood_wait(ids['Waiter'][2], 2 * 3600 + 1800, 'channels')  # classes the door brought
    await manager.note_flood_wait(ids['Waiter'][2], 3600 + 600, 'updates')

    await open_accounts(user)
    await user.should_see('revoked — log in again', retries=WAIT)
    await user.should_see('Log in again', retries=WAIT)
    await user.should_see('FloodWait — ', retries=WAIT)
    await user.should_see(' s left', retries=WAIT)
    await user.should_see('Telegram asked to wait: channel look-ups 2 h 29 min, resolve 2 h 59 min, updates 1 h 09 min',
                          retries=WAIT)

    # "Log in again" opens the wizard for the same number and the account is logged in in place
    user.find(marker='account-relogin').click()
    user.find(marker='login-send').click()
    await user.should_see('We sent a login code to', retries=WAIT)
    user.find(marker='login-code').type('44444')
    user.find(marker='login-verify').click()
    await user.should_see('Logged in as Revokee', retries=WAIT)
    user.find(marker='login-close').click()
    await user.should_not_see('revoked — log in again', retries=WAIT)
    assert len(await manager.list_accounts()) == 2

    waiter_id = ids['Waiter'][2]
    with user.scope(marker=f'account-{waiter_id}'):
        user.find(marker='account-logout').click()
    await user.should_see('Log out Waiter?', retries=WAIT)
    user.find(marker='confirm-logout').click()
    await user.should_see('logged out', retries=WAIT)
    await user.should_not_see('Telegram asked to wait:', retries=WAIT)  # kept for its next log-in, not counted down
    assert manager.client(waiter_id) is None
    assert manager.client(ids['Revokee'][2]) is not None


@pytest.mark.parametrize('app_extra_env', [{}])
async def test_without_credentials_the_page_says_what_to_set(user: User, app_root):
    await open_accounts(user)
    await user.should_see('Telegram API credentials are missing', retries=WAIT)
    await user.should_see('No Telegram accounts yet.', retries=WAIT)
    assert not user.find(marker='add-account').elements.pop().enabled


async def test_qr_image_is_replaced_before_the_token_expires(telegram_dc, user: User, app_root):
    world = telegram_dc.world
    telegram_dc.dc.call(setattr, world, 'qr_ttl', 4.0)
    try:
        await open_accounts(user)
        user.find(marker='add-account').click()
        user.find(kind=ui.tab, content='QR code').click()
        await user.should_see(marker='login-qr', retries=WAIT)
        image = user.find(marker='login-qr').elements.pop()
        first = image.source
        for _ in range(WAIT):
            if image.source != first:
                break
            await asyncio.sleep(0.1)
        assert image.source != first
        await user.should_see(marker='login-qr')  # still waiting for a scan, with a fresh code
    finally:
        telegram_dc.dc.call(setattr, world, 'qr_ttl', 60.0)
    user.find(marker='login-cancel').click()
    await user.should_not_see(marker='login-qr', retries=WAIT)
    assert app_root.logins.pending_count() == 0
