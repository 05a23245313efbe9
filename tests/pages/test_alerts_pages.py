"""Alerts and webhooks on the dashboard: a rule made on the page fires on a new post, the bell counts it, the list
links to it and marks it read; a webhook made on the page shows its secret once, gets a test event, lists its
deliveries and sends one again."""
from __future__ import annotations

import pytest
from nicegui.testing import User

from app.db.models import Channel, Post, utcnow
from app.webhooks.signing import verify
from tests.receiver import receiving
from tests.support import sign_in, store_posts

WAIT = 100
CHANNEL_ID = 7_500_000


@pytest.fixture
def app_extra_env() -> dict[str, str]:
    return {'WEBHOOK_ALLOW_PRIVATE': 'true'}


async def test_a_rule_made_on_the_page_rings_the_bell_and_lists_the_post(user: User, app_root):
    repos = app_root.repos
    await repos.channels.upsert_metadata(Channel(id=CHANNEL_ID, title='Вести', username='vesti_alerts'))
    await sign_in(user, retries=WAIT)
    await user.open('/dashboard/alerts')
    await user.should_see(marker='no-rules', retries=WAIT)
    user.find(marker='rule-name').type('Ракеты')
    user.find(marker='rule-query').type('ракета')
    user.find(marker='create-rule').click()
    await user.should_see(marker='rule-Ракеты', retries=WAIT)
    await user.should_not_see(marker='bell-count')

    await store_posts(repos, [Post(channel_id=CHANNEL_ID, message_id=1, date=utcnow(), text='Две ракеты на старте'),
                              Post(channel_id=CHANNEL_ID, message_id=2, date=utcnow(), text='Погода')])
    await user.should_see(marker='bell-count', retries=WAIT)
    assert user.find(marker='bell-count').elements.pop().text == '1'

    user.find(marker='bell').click()
    await user.should_see('Notifications', retries=WAIT)
    await user.should_see('Вести: Две ракеты на старте', retries=WAIT)
    await user.should_see(marker='notification-unread')
    user.find(marker='mark-all-read').click()
    await user.should_see(marker='notification-read', retries=WAIT)
    await user.should_not_see(marker='bell-count', retries=WAIT)
    assert await repos.alerts.unread_count() == 0


async def test_a_webhook_made_on_the_page_shows_its_secret_once_and_delivers_a_test(user: User, app_root):
    async with receiving() as receiver:
        await sign_in(user, retries=WAIT)
        await user.open('/dashboard/webhooks')
        await user.should_see(marker='no-webhooks', retries=WAIT)
        user.find(marker='webhook-url').type(receiver.url)
        user.find(marker='create-webhook').click()
        await user.should_see(marker='webhook-secret-box', retries=WAIT)
        secret = user.find(marker='webhook-secret').elements.pop().value
        assert secret.startswith('whsec_')
        hook = (await app_root.repos.webhooks.list())[0]

        user.find(marker='webhook-test').click()
        await user.should_see('Test event delivered: HTTP 200', retries=WAIT)
        request = receiver.requests[0]
        assert request.event['type'] == 'webhook.test'
        assert verify(secret, request.headers['x-parsegram-timestamp'], request.body,
                      request.headers['x-parsegram-signature'])

        user.find(marker='webhook-deliveries').click()
        await user.should_see(marker='deliveries-dialog', retries=WAIT)
        await user.should_see('webhook.test', retries=WAIT)
        user.find(marker='delivery-replay').click()
        await user.should_see('Sent again: delivered', retries=WAIT)
        assert len(receiver.requests) == 2 and receiver.requests[1].event['id'] == request.event['id']

        await user.open('/dashboard/webhooks')  # the secret is not shown again
        await user.should_see(marker=f'webhook-{hook.id}', retries=WAIT)
        await user.should_not_see(marker='webhook-secret-box')
        assert secret not in str(await app_root.repos.webhooks.collection.find_one({'_id': hook.id}))
