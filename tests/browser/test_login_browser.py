"""A person logs in to the dashboard in real Chromium and lands on the channels page."""
from __future__ import annotations

from nicegui import app
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


def test_a_forged_forwarded_address_does_not_dodge_the_password_throttle(screen: Screen) -> None:
    """Every page load claims another client address in X-Forwarded-For; no proxy is trusted, so it is ignored."""
    screen.selenium.execute_cdp_cmd('Network.enable', {})
    screen.open('/login')
    # the fourth try waits 2 s by default after three wrong ones; a busy machine may take longer to get there
    app.state.root.login_throttle.base_delay = 60.0
    for attempt in range(3):
        screen.selenium.execute_cdp_cmd('Network.setExtraHTTPHeaders',
                                        {'headers': {'X-Forwarded-For': f'203.0.113.{attempt + 1}'}})
        screen.open('/login')
        password = screen.selenium.find_element(By.CSS_SELECTOR, 'input[type=password]')
        password.send_keys(f'wrong guess {attempt}' + Keys.ENTER)
        screen.should_contain('Wrong password.')
    screen.selenium.execute_cdp_cmd('Network.setExtraHTTPHeaders', {'headers': {'X-Forwarded-For': '203.0.113.99'}})
    screen.open('/login')
    password = screen.selenium.find_element(By.CSS_SELECTOR, 'input[type=password]')
    password.send_keys(ADMIN_PASSWORD + Keys.ENTER)  # even the right one waits: the guesses came from one address
    screen.should_contain('Too many wrong passwords')
    assert '/login' in screen.selenium.current_url
    screen.selenium.execute_cdp_cmd('Network.setExtraHTTPHeaders', {'headers': {}})
