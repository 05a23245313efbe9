"""A person logs in to the dashboard in real Chromium and lands on the channels page."""
from __future__ import annotations

from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.conftest import ADMIN_PASSWORD


def test_log_in_and_see_the_empty_channel_list(screen: Screen) -> None:
    screen.open('/')
    screen.should_contain('Log in to the dashboard')
    assert '/login' in screen.selenium.current_url

    password = screen.selenium.find_element(By.CSS_SELECTOR, 'input[type=password]')
    password.send_keys('a wrong password' + Keys.ENTER)
    screen.should_contain('Wrong password.')
    assert '/login' in screen.selenium.current_url

    password = screen.selenium.find_element(By.CSS_SELECTOR, 'input[type=password]')
    password.send_keys(ADMIN_PASSWORD)
    screen.selenium.find_element(By.XPATH, '//button[normalize-space()="Log in"]').click()
    screen.should_contain('No channels yet')
    screen.should_contain('First add an account on the Accounts page')
    assert screen.selenium.current_url.endswith('/dashboard/channels')
    screen.should_contain('Telegram API credentials are missing')

    screen.click('Settings')
    screen.should_contain('API tokens')
    assert screen.selenium.current_url.endswith('/dashboard/settings')
