"""A person logs a Telegram account with two-step verification in through the dashboard, in real Chromium."""
from __future__ import annotations

import uuid

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.keys import Keys

from tests.conftest import ADMIN_PASSWORD
from tests.support import visible


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


def test_log_in_an_account_with_two_step_verification(screen: Screen, telegram_dc):
    phone = telegram_dc.new_phone(6)
    username = f'browser{uuid.uuid4().hex[:6]}'
    user_id = telegram_dc.create_user(phone, 'Browser', username=username, last_name='User')
    telegram_dc.dc.call(telegram_dc.world.set_password, user_id, 'browser-2fa-pass', 'the browser one')

    screen.open('/dashboard/accounts')  # redirected to the login page first
    visible(screen, 'input[type=password]').send_keys(ADMIN_PASSWORD + Keys.ENTER)
    screen.should_contain('No Telegram accounts yet.')

    screen.click('Add account')
    visible(screen, 'input[type=tel]').send_keys('+' + phone)
    screen.click('Send code')
    screen.should_contain('We sent a login code to')
    screen.should_contain('in the Telegram app')
    visible(screen, 'input[inputmode=numeric]').send_keys('66666' + Keys.ENTER)

    screen.should_contain('This account has two-step verification')
    screen.should_contain('Hint: the browser one')
    visible(screen, 'input[type=password]').send_keys('browser-2fa-pass' + Keys.ENTER)

    screen.should_contain(f'Logged in as Browser User (@{username})')
    screen.click('Close')
    screen.should_contain(f'@{username}')
    screen.should_contain('authorized')
    screen.should_not_contain('No Telegram accounts yet.')
