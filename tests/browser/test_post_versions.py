"""In real Chromium: a post's "edited N times" opens its versions, by click and by keyboard, with the words each
edit took out struck through and the words it put in marked."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from nicegui.testing import Screen
from pymongo import AsyncMongoClient
from selenium.webdriver.common.keys import Keys

from app.db.models import Channel, Post
from app.db.repos import Repos
from tests.conftest import ADMIN_PASSWORD
from tests.support import store_posts, visible, wait_for

CHANNEL_ID = 8_800_000
BASE = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


def seed(app_env: dict[str, str]) -> None:
    async def write() -> None:
        client: AsyncMongoClient = AsyncMongoClient(app_env['MONGO_URI'], tz_aware=True)
        try:
            repos = Repos.create(client[app_env['MONGO_DB']])
            await repos.channels.upsert_metadata(Channel(id=CHANNEL_ID, title='Versions', username='versions_seen'))
            for text in ('Запуск ракеты перенесли', 'Запуск ракет перенесли на завтра'):
                await store_posts(repos, [Post(channel_id=CHANNEL_ID, message_id=7, date=BASE, text=text),
                                          Post(channel_id=CHANNEL_ID, message_id=8, date=BASE + timedelta(hours=1),
                                               text='unchanged')])
            await repos.channels.set_state(CHANNEL_ID, posts_stored=2, top_message_id=8, last_message_id=8)
        finally:
            await client.close()
    asyncio.run(write())


def marked(screen: Screen, css: str) -> list[str]:
    return screen.selenium.execute_script(
        f'return [...document.querySelectorAll({css!r})].map(e => e.textContent)')


def test_edited_once_opens_the_versions_word_by_word(screen: Screen, app_env):
    seed(app_env)
    screen.open(f'/dashboard/channels/{CHANNEL_ID}')  # via the login page, which leads back here
    visible(screen, 'input[type=password]').send_keys(ADMIN_PASSWORD + Keys.ENTER)
    edited = visible(screen, '[data-mark="post-edited"]')
    assert edited.text == 'edited 1 time' and not marked(screen, '[data-post="8"] [data-versions]')
    edited.click()
    screen.should_contain('Post #7: 2 versions, oldest first')
    wait_for(lambda: marked(screen, '.q-dialog del.pg-del') == ['ракеты'], what='the word the edit took out')
    assert marked(screen, '.q-dialog ins.pg-ins') == ['ракет', ' на завтра']

    screen.selenium.find_element('css selector', 'body').send_keys(Keys.ESCAPE)
    wait_for(lambda: not marked(screen, '.q-dialog del.pg-del'), what='the dialog closed')
    edited = visible(screen, '[data-mark="post-edited"]')
    screen.selenium.execute_script('arguments[0].focus()', edited)
    edited.send_keys(Keys.ENTER)  # the keyboard opens it too
    wait_for(lambda: marked(screen, '.q-dialog del.pg-del') == ['ракеты'], what='the versions opened by Enter')
