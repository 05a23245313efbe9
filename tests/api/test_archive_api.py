"""The archive API: a post's versions, the change feed for programs that pull, and the proof behind them."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db.models import Channel, Post
from app.db.post_hash import version_hash
from tests.support import store_posts

CHANNEL_ID = 7_200_000
BASE = datetime(2026, 5, 1, tzinfo=UTC)


def _post(message_id: int, text: str, **fields) -> Post:
    return Post(channel_id=CHANNEL_ID, message_id=message_id, date=BASE + timedelta(hours=message_id), text=text,
                **fields)


async def test_a_post_edited_three_times_answers_four_versions_in_a_valid_chain(api, app_root):
    await app_root.repos.channels.upsert_metadata(Channel(id=CHANNEL_ID, title='Versions'))
    await store_posts(app_root.repos, [_post(1, 'Первая версия'), _post(2, 'untouched')])
    for n, text in enumerate(('Вторая версия', 'Третья версия', 'Четвёртая версия'), start=1):
        await store_posts(app_root.repos, [_post(1, text, edit_date=BASE + timedelta(days=n))])
    await app_root.repos.writer.delete(CHANNEL_ID, [1])

    answer = await api.get(f'/api/mtproto/channels/{CHANNEL_ID}/posts/1/versions')
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body['edits'], body['deleted']) == (3, True)
    texts = [(v['text'], v['deleted']) for v in body['items']]
    assert texts == [('Первая версия', False), ('Вторая версия', False), ('Третья версия', False),
                     ('Четвёртая версия', False), ('Четвёртая версия', True)]  # deleted: its last version kept
    previous = None
    for version in body['items']:
        assert version['prev_hash'] == previous
        previous = version['hash']
    stored = await app_root.repos.versions.of_post(channel_id=CHANNEL_ID, message_id=1)
    assert [version_hash(v, v['prev_hash']) for v in stored] == [v['hash'] for v in body['items'][:-1]]

    missing = await api.get(f'/api/mtproto/channels/{CHANNEL_ID}/posts/99/versions')
    assert (missing.status_code, missing.json()['error']['code']) == (404, 'POST_NOT_FOUND')


async def test_the_change_feed_pages_in_commit_order(api, app_root):
    await app_root.repos.channels.upsert_metadata(Channel(id=CHANNEL_ID, title='Feed'))
    await store_posts(app_root.repos, [_post(i, f'post {i}', views=1) for i in range(1, 6)])
    await store_posts(app_root.repos, [_post(3, 'post 3, edited', views=1), _post(4, 'post 4', views=50)])
    await app_root.repos.writer.delete(CHANNEL_ID, [5])
    seen, after = [], 0
    while True:
        page = (await api.get('/api/mtproto/changes', params={'after': after, 'limit': 3})).json()
        seen += [(c['position'], c['message_id'], c['kind']) for c in page['items']]
        if not page['items']:
            break
        after = page['next_after']
    assert seen == [(1, 1, 'created'), (2, 2, 'created'), (3, 3, 'created'), (4, 4, 'created'), (5, 5, 'created'),
                    (6, 3, 'edited'), (7, 4, 'counters'), (8, 5, 'deleted')]
    assert (page['head'], page['oldest'], page['next_after']) == (8, 1, 8)
    bad = await api.get('/api/mtproto/changes', params={'after': -1})
    assert bad.status_code == 400 and set(bad.json()) == {'error'}
