"""Alert rules through the API: a Russian word's other form in a post that arrives live becomes a notification
within seconds and a digest in the account's Saved Messages on the test DC; bad rules get clear errors."""
from __future__ import annotations

import functools
import uuid

import pytest

from tests.api.test_channels_api import log_in
from tests.support import eventually

until = functools.partial(eventually, timeout=30.0, interval=0.1)


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


async def test_a_live_post_with_another_form_of_the_word_notifies_and_reaches_saved_messages(telegram_dc, api,
                                                                                              app_root):
    account_id, user_id = await log_in(telegram_dc, api, 5)
    info = telegram_dc.create_channel('Космос', username=f'space_{uuid.uuid4().hex[:8]}', posts=5, seed=3)
    channel_id = info['channel_id']
    telegram_dc.add_member(channel_id, user_id)  # a member gets its posts live
    rule = await api.post('/api/alerts', json={'name': 'Ракеты', 'query': 'ракета', 'saved_messages': True})
    assert rule.status_code == 201, rule.text
    assert (await api.post('/api/mtproto/channels', json={'ref': f'@{info["username"]}'})).status_code == 201

    async def idle():
        got = (await api.get(f'/api/mtproto/channels/{channel_id}')).json()
        return got['stats']['posts_stored'] == 5 and got['stats']['sync_status'] == 'idle'
    await until(idle)
    assert (await api.get('/api/notifications?unread=true')).json()['unread'] == 0  # history is not announced

    message_id = telegram_dc.post_message(channel_id, 'Запуск ракет перенесли на пятницу')

    async def notified():
        page = (await api.get('/api/notifications?unread=true')).json()
        return page if page['unread'] else None
    page = await until(notified)
    item = page['items'][0]
    assert (item['kind'], item['title'], item['message_id']) == ('alert', 'Ракеты', message_id)
    assert item['text'] == 'Космос: Запуск ракет перенесли на пятницу'
    assert item['link'] == f'https://t.me/{info["username"]}/{message_id}'

    saved = await until(lambda: telegram_dc.saved_messages(user_id))
    assert 'Ракеты' in saved[0]['text'] and item['link'] in saved[0]['text']
    assert (await api.get(f'/api/alerts/{rule.json()["id"]}')).json()['matched'] == 1

    read = (await api.post('/api/notifications/read', json={})).json()
    assert read == {'marked': 1, 'unread': 0}
    assert account_id


async def test_rules_that_cannot_work_get_clear_errors(api, app_root):
    malformed = await api.post('/api/alerts', json={'name': 'x', 'query': '"unclosed'})
    assert malformed.status_code == 400 and malformed.json()['error']['code'] == 'BAD_QUERY'
    assert 'column' in malformed.json()['error']['message']
    empty = await api.post('/api/alerts', json={'name': 'x', 'query': ''})
    assert empty.status_code == 400 and empty.json()['error']['code'] == 'BAD_QUERY'
    no_channel = await api.post('/api/alerts', json={'name': 'x', 'query': 'word', 'channel_ids': [777]})
    assert no_channel.status_code in (400, 404)
    missing = await api.patch('/api/alerts/nope', json={'paused': True})
    assert missing.status_code == 404 and missing.json()['error']['code'] == 'RULE_NOT_FOUND'
    made = (await api.post('/api/alerts', json={'name': 'Launches', 'query': 'launch*'})).json()
    paused = (await api.patch(f'/api/alerts/{made["id"]}', json={'paused': True})).json()
    assert paused['paused'] is True and paused['query'] == 'launch*'
    assert [r['id'] for r in (await api.get('/api/alerts')).json()] == [made['id']]
    assert (await api.delete(f'/api/alerts/{made["id"]}')).status_code == 200
    assert (await api.get('/api/alerts')).json() == []
