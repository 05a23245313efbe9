"""A person in Vladivostok reading the dashboard in Russian pastes two links on an account whose day of look-ups
holds one: the waiting line says why in Russian and when it is expected in the person's own time, and it is
still there after a reload."""
from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import pytest
from nicegui.testing import Screen
from pymongo import MongoClient
from selenium.webdriver.common.keys import Keys

from tests.browser.test_channel_sync import log_in_account
from tests.conftest import ADMIN_PASSWORD
from tests.support import visible, wait_for

ZONE = 'Asia/Vladivostok'  # UTC+10 all year: its clock is never the server's


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env() | {'RESOLVES_PER_DAY': '1'}


def waiting_line(app_env: dict[str, str], ref: str) -> dict | None:
    client: MongoClient = MongoClient(app_env['MONGO_URI'], tz_aware=True)
    try:
        return client[app_env['MONGO_DB']].channel_refs.find_one({'ref': ref, 'retry_at': {'$ne': None}})
    finally:
        client.close()


def test_a_waiting_line_says_why_in_russian_and_when_in_the_reader_s_own_time(screen: Screen, telegram_dc, app_env):
    driver = screen.selenium
    driver.execute_cdp_cmd('Emulation.setTimezoneOverride', {'timezoneId': ZONE})
    driver.execute_cdp_cmd('Network.enable', {})
    driver.execute_cdp_cmd('Network.setUserAgentOverride', {
        'userAgent': driver.execute_script('return navigator.userAgent'), 'acceptLanguage': 'ru-RU,ru;q=0.9'})
    try:
        names = [f'tz_{uuid.uuid4().hex[:8]}' for _ in range(2)]
        for name in names:
            telegram_dc.create_channel(f'Канал {name}', username=name, posts=1)
        screen.open('/login')
        visible(screen, 'input[type=password]').send_keys(ADMIN_PASSWORD + Keys.ENTER)
        screen.should_contain('Добавить каналы')
        log_in_account(telegram_dc, app_env)
        visible(screen, 'textarea').send_keys(f'@{names[0]}\n@{names[1]}')
        visible(screen, '.add-channels-button').click()
        line = wait_for(lambda: waiting_line(app_env, f'@{names[1]}'), what='the second line given a time')
        local = line['retry_at'].astimezone(ZoneInfo(ZONE))
        screen.should_contain(f'@{names[1]}: ждёт — аккаунт BrowserReader израсходовал сегодняшние запросы')
        screen.should_contain(f'ожидается примерно в {local.day} ')  # tomorrow's date and time, told in Vladivostok
        screen.should_contain(f'{local:%H:%M}')

        driver.refresh()  # the queue is still on the page
        screen.should_contain(f'@{names[1]}: ждёт — аккаунт BrowserReader')
        screen.should_contain(f'{local:%H:%M}')
    finally:
        driver.execute_cdp_cmd('Emulation.setTimezoneOverride', {'timezoneId': ''})
        driver.execute_cdp_cmd('Network.setUserAgentOverride', {
            'userAgent': driver.execute_script('return navigator.userAgent'), 'acceptLanguage': 'en-US,en;q=0.9'})
