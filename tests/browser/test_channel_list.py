"""A person with hundreds of channels in real Chromium: rows that stay put, a filter box, a bulk tag."""
from __future__ import annotations

import time
import uuid

import httpx
import pytest
from nicegui.testing import Screen
from pymongo import MongoClient
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app.db.models import Channel
from tests.browser.test_channel_sync import sign_in_with_an_account
from tests.support import shows, visible, wait_for

CHANNELS = 300


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    # Telegram's own pace for history (two pages a second): the backfill below runs for a while
    return telegram_dc.env() | {'REQUEST_PACE_SCALE': '1', 'HISTORY_REQUESTS_PER_SECOND': '2'}


def seed(app_env: dict[str, str]) -> list[int]:
    """Channels stored as a resolve leaves them, straight into the app's database."""
    docs = [Channel(id=8_000_000 + n, title=f'Channel {n:03d}', username=f'seeded_{n:03d}',
                    participants_count=n * 10).to_doc() for n in range(CHANNELS)]
    client: MongoClient = MongoClient(app_env['MONGO_URI'])
    try:
        client[app_env['MONGO_DB']].channels.insert_many(docs)
    finally:
        client.close()
    return [doc['_id'] for doc in docs]


def tags_of(app_env: dict[str, str], channel_ids: list[int]) -> dict[int, list[str]]:
    client: MongoClient = MongoClient(app_env['MONGO_URI'])
    try:
        docs = client[app_env['MONGO_DB']].channels.find({'_id': {'$in': channel_ids}}, {'tags': 1})
        return {doc['_id']: doc.get('tags', []) for doc in docs}
    finally:
        client.close()


def rows(screen: Screen) -> list:
    return screen.selenium.find_elements(By.CSS_SELECTOR, '[data-channel]')


def keep(screen: Screen, name: str, channel_id: int) -> None:
    """Remember the row's element in the page, to ask later whether it is still the same object."""
    screen.selenium.execute_script(f'window.{name} = document.querySelector(\'[data-channel="{channel_id}"]\')')


def still_same(screen: Screen, name: str, channel_id: int) -> bool:
    return screen.selenium.execute_script(
        f'return document.querySelector(\'[data-channel="{channel_id}"]\') === window.{name}')


@pytest.mark.timeout(150)  # a 6 s watch, a login and a backfill of its own pace
def test_rows_stay_put_the_filter_narrows_and_a_bulk_tag_reaches_every_selected(screen: Screen, telegram_dc,
                                                                                 app_env):
    username = f'busy_{uuid.uuid4().hex[:8]}'
    telegram_dc.create_channel('AAA Busy Channel', username=username, posts=4000, seed=52)
    ids = seed(app_env)  # before the app's first look at the list: straight into the database, unannounced
    sign_in_with_an_account(screen, telegram_dc, app_env)
    screen.open('/dashboard/channels')
    wait_for(lambda: len(rows(screen)) == 50, what='one page of 50 rows')
    screen.should_contain(f'1–50 of {CHANNELS}')
    js = screen.selenium.execute_script
    keep(screen, 'firstRow', ids[0])
    js('window.origin0 = performance.timeOrigin')

    time.sleep(6)  # idle, through the page's 1 s ticks and its 5 s accounts reload: nothing the person sees is rebuilt
    assert still_same(screen, 'firstRow', ids[0])

    headers = {'Authorization': f'Bearer {app_env["API_TOKEN"]}'}
    added = httpx.post(f'http://localhost:{Screen.PORT}/api/mtproto/channels', json={'ref': f'@{username}'},
                       headers=headers, timeout=30)
    assert added.status_code == 201, added.text
    busy_id = added.json()['id']
    shows(screen, ' / 4,000 · ETA')  # the new channel at the top of the list, backfilling
    keep(screen, 'busyRow', busy_id)
    before = screen.selenium.find_element(By.CSS_SELECTOR, f'[data-channel="{busy_id}"]').text
    after = wait_for(lambda: (text := screen.selenium.find_element(
        By.CSS_SELECTOR, f'[data-channel="{busy_id}"]').text) != before and text, what='the backfill moving its row on')
    assert ' / 4,000 · ETA' in after, 'the backfill should still run and its row follow it'
    assert still_same(screen, 'busyRow', busy_id) and still_same(screen, 'firstRow', ids[0])
    assert js('return performance.timeOrigin === window.origin0'), 'the page reloaded by itself'

    box = visible(screen, '.channel-filter input')
    box.send_keys('channel 01')
    wait_for(lambda: len(rows(screen)) == 10, what='the ten channels "Channel 010" to "Channel 019"')
    assert 'q=channel+01' in screen.selenium.current_url
    assert all('Channel 01' in row.text for row in rows(screen))

    visible(screen, '.select-page').click()
    screen.should_contain('10 selected')
    visible(screen, '.bulk-tag').click()
    tag_box = visible(screen, '.bulk-tags input')
    tag_box.send_keys('regional' + Keys.ENTER)
    visible(screen, '.bulk-tags-apply').click()
    screen.should_contain('10 channels tagged')
    chosen = ids[10:20]
    assert tags_of(app_env, chosen) == {channel_id: ['regional'] for channel_id in chosen}
    wait_for(lambda: sum('regional' in row.text for row in rows(screen)) == 10, what='the tag on each row')
    assert js('return performance.timeOrigin === window.origin0'), 'the page reloaded by itself'
