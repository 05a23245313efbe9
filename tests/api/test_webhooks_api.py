"""Webhooks through the API, against the app with its real root, the test DC and a real receiver on loopback."""
from __future__ import annotations

import functools
import uuid

import pytest

from app.webhooks.signing import verify
from tests.api.test_channels_api import log_in
from tests.receiver import receiving
from tests.support import eventually

until = functools.partial(eventually, timeout=30.0, interval=0.1)


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return {**telegram_dc.env(), 'WEBHOOK_ALLOW_PRIVATE': 'true'}


async def test_a_webhook_gets_signed_events_once_each_and_can_be_tested_and_replayed(telegram_dc, api, app_root,
                                                                                     log_capture):
    await log_in(telegram_dc, api, 4)
    info = telegram_dc.create_channel('Hooked', username=f'hooked_{uuid.uuid4().hex[:8]}', posts=3, seed=7)
    channel_id = info['channel_id']
    async with receiving() as receiver:
        made = await api.post('/api/webhooks', json={
            'url': f'{receiver.url}/T0KEN-of-the-receiver', 'events': ['channel.added', 'post.created', 'post.edited']})
        assert made.status_code == 201, made.text
        hook, secret = made.json(), made.json()['secret']
        assert secret.startswith('whsec_') and len(secret) > 40
        listed = (await api.get('/api/webhooks')).json()
        assert [h['id'] for h in listed] == [hook['id']] and 'secret' not in listed[0]
        stored = await app_root.repos.webhooks.collection.find_one({'_id': hook['id']})
        assert secret not in str(stored)

        tested = (await api.post(f'/api/webhooks/{hook["id"]}/test')).json()
        assert (tested['status'], tested['status_code'], tested['event_type']) == ('delivered', 200, 'webhook.test')
        assert receiver.requests[0].event['type'] == 'webhook.test'

        assert (await api.post('/api/mtproto/channels', json={'ref': f'@{info["username"]}'})).status_code == 201
        got = await receiver.wait_for(5, timeout=30)  # the test, the channel, its three posts
        events = [r.event for r in got[1:]]
        assert [e['type'] for e in events] == ['channel.added'] + ['post.created'] * 3
        assert events[0]['data']['id'] == channel_id
        assert sorted(e['data']['message_id'] for e in events[1:]) == [1, 2, 3]
        assert all(e['data']['channel_id'] == channel_id and 'text' in e['data'] and 'link' in e['data']
                   for e in events[1:])
        numbers = [int(e['id'].removeprefix('evt_')) for e in events]
        assert numbers == sorted(numbers) and len(set(numbers)) == 4
        for request in got:
            assert verify(secret, request.headers['x-parsegram-timestamp'], request.body,
                          request.headers['x-parsegram-signature'])

        telegram_dc.edit_message(channel_id, 2, 'Changed words')
        job = (await api.post(f'/api/mtproto/channels/{channel_id}/sync')).json()
        edited = (await receiver.wait_for(6, timeout=30))[5].event
        assert (edited['type'], edited['data']['message_id'], edited['data']['text']) == ('post.edited', 2,
                                                                                        'Changed words')

        async def finished():
            return (await api.get(f'/api/mtproto/jobs/{job["id"]}')).json()['status'] == 'done'
        await until(finished)
        # the sync read the three posts again: unchanged, they are no new event
        assert [r.event['type'] for r in receiver.requests].count('post.created') == 3

        deliveries = (await api.get(f'/api/webhooks/{hook["id"]}/deliveries')).json()
        assert len(deliveries) == 6 and all(d['status'] == 'delivered' for d in deliveries)
        first_post = next(d for d in deliveries if d['event_type'] == 'post.created')
        replayed = (await api.post(f'/api/webhooks/{hook["id"]}/deliveries/{first_post["id"]}/replay')).json()
        assert replayed['status'] == 'delivered' and replayed['replay'] is True
        assert receiver.requests[-1].event['id'] == first_post['event_id']  # the same event, under its own id

        paused = (await api.patch(f'/api/webhooks/{hook["id"]}', json={'paused': True})).json()
        assert paused['paused'] is True and paused['delivered'] == 5
        assert (await api.delete(f'/api/webhooks/{hook["id"]}')).status_code == 200
        assert (await api.get(f'/api/webhooks/{hook["id"]}')).json()['error']['code'] == 'WEBHOOK_NOT_FOUND'
    assert secret not in log_capture.text
    assert 'T0KEN-of-the-receiver' not in log_capture.text  # a webhook's URL can be a secret too


async def test_webhook_requests_that_cannot_work_get_clear_errors(api, app_root):
    bad_type = await api.post('/api/webhooks', json={'url': 'https://example.org/in', 'events': ['post.liked']})
    assert bad_type.status_code == 400 and bad_type.json()['error']['code'] == 'UNKNOWN_EVENT_TYPE'
    assert 'post.created' in bad_type.json()['error']['message']
    not_http = await api.post('/api/webhooks', json={'url': 'ftp://example.org/in', 'events': ['post.created']})
    assert not_http.status_code == 400 and not_http.json()['error']['code'] == 'WEBHOOK_URL_REFUSED'
    no_channel = await api.post('/api/webhooks', json={'url': 'http://127.0.0.1:9/in', 'events': ['post.created'],
                                                       'channel_ids': [12345]})
    assert no_channel.status_code == 404 and no_channel.json()['error']['code'] == 'CHANNEL_NOT_FOUND'
    missing = await api.post('/api/webhooks/nope/test')
    assert missing.status_code == 404 and missing.json()['error']['code'] == 'WEBHOOK_NOT_FOUND'
