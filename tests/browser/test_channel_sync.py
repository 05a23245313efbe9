"""A person adds a channel on the dashboard in real Chromium and watches its progress bar run to the end."""
from __future__ import annotations

import time
import uuid

import httpx
import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.conftest import ADMIN_PASSWORD
from tests.support import shows, visible


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


def log_in_account(telegram_dc, app_env) -> None:
    phone = telegram_dc.new_phone(7)
    telegram_dc.create_user(phone, 'BrowserReader')
    headers = {'Authorization': f'Bearer {app_env["API_TOKEN"]}'}
    base = f'http://localhost:{Screen.PORT}/api/mtproto'
    for _ in range(100):  # the app starts in the background
        started = httpx.post(f'{base}/auth/start', json={'phone': phone}, headers=headers, timeout=10)
        if started.status_code != 503:
            break
        time.sleep(0.1)
    assert started.status_code == 200, started.text
    verified = httpx.post(f'{base}/auth/verify', json={'account_id': started.json()['account_id'], 'code': '77777'},
                          headers=headers, timeout=10)
    assert verified.json()['status'] == 'authorized', verified.text


def sign_in_with_an_account(screen: Screen, telegram_dc, app_env) -> None:
    """Sign in to the dashboard, then log a Telegram account in through the API."""
    screen.open('/dashboard/channels')
    visible(screen, 'input[type=password]').send_keys(ADMIN_PASSWORD + Keys.ENTER)
    screen.should_contain('Add channels')
    log_in_account(telegram_dc, app_env)


# One of the suite's slowest, on purpose: a person watches a 4,000-post backfill to its end in a real browser,
# from the first progress bar to the idle row and the channel's page; about 16 s alone, up to 35 s in a busy run.
def test_add_a_channel_and_watch_its_backfill_finish(screen: Screen, telegram_dc, app_env):
    username = f'br_{uuid.uuid4().hex[:8]}'
    telegram_dc.create_channel('Browser Channel', username=username, posts=4000, seed=51)
    sign_in_with_an_account(screen, telegram_dc, app_env)
    screen.open('/dashboard/channels')
    visible(screen, 'textarea').send_keys(f'https://t.me/{username}')
    visible(screen, 'button.add-channels-button').click()
    screen.should_contain('added “Browser Channel”')

    seen_progress = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        page = screen.selenium.find_element(By.TAG_NAME, 'body').text
        if ' / 4,000 · ETA' in page:
            seen_progress.append(page)
            assert _bars(screen), 'progress text without a bar'
        # the short sync that follows a backfill may show a bar of its own: finished is idle with no bar at all
        finished = '4,000 posts stored' in page and 'idle' in page and 'ETA' not in page
        if finished and not _bars(screen):
            break
        time.sleep(0.2)
    else:
        raise AssertionError('the backfill did not finish on the page (idle, 4,000 posts, no progress bar)')
    assert seen_progress, 'no progress bar with a count and an ETA was shown'
    screen.should_contain('@' + username)
    screen.selenium.find_element(By.LINK_TEXT, 'Browser Channel').click()
    shows(screen, '4,000 posts stored')
    shows(screen, '4,000 posts match')  # a count over the stored posts


def _bars(screen: Screen) -> list:
    """Progress bars a person can see (a row keeps its bar, hidden, between jobs)."""
    return [bar for bar in screen.selenium.find_elements(By.CSS_SELECTOR, '.q-linear-progress') if bar.is_displayed()]
