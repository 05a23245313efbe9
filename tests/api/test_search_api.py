"""GET /api/mtproto/search and its export: ranked, highlighted, paged, filtered, and clear about bad queries."""
from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.db.comments_repo import CommentsRepo
from app.db.models import Channel, Comment, Post
from app.search.index import REBUILD_MARKER
from tests.support import search_current, store_posts

BASE = datetime(2026, 5, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


async def _archive(root) -> None:
    await root.repos.channels.upsert_metadata(Channel(id=101, title='Новости', username='novosti'))
    await root.repos.channels.upsert_metadata(Channel(id=202, title='Space', username='space'))
    await root.repos.channels.add_tags([202], ['en'])
    posts = [Post(channel_id=101, message_id=i, date=BASE + timedelta(hours=i), views=i * 10,
                  text=f'Запуск ракеты № {i} <скоро>' if i % 2 else f'Сводка дня {i}') for i in range(1, 31)]
    posts.append(Post(channel_id=202, message_id=1, date=BASE, views=7, text='Rocket launches & rockets'))
    await store_posts(root.repos, posts)
    await search_current(root)


async def test_a_search_answers_ranked_highlighted_pages(api, app_root):
    await _archive(app_root)
    answer = await api.get('/api/mtproto/search', params={'q': 'ракеты', 'limit': 10, 'sort': 'date'})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body['total'] == 15 and len(body['items']) == 10
    first = body['items'][0]
    assert (first['channel_id'], first['message_id'], first['views']) == (101, 29, 290)
    assert first['snippet'] == 'Запуск <mark>ракеты</mark> № 29 &lt;скоро&gt;'
    assert first['url'] == 'https://t.me/novosti/29' and first['channel_title'] == 'Новости'
    assert first['score'] is None  # sorted by date: no relevance to give
    rest = (await api.get('/api/mtproto/search', params={'q': 'ракеты', 'limit': 10, 'sort': 'date',
                                                         'cursor': body['next_cursor']})).json()
    assert [item['message_id'] for item in rest['items']] == [9, 7, 5, 3, 1] and rest['next_cursor'] is None

    english = (await api.get('/api/mtproto/search', params={'q': 'rocket', 'tag': 'en'})).json()
    assert english['items'][0]['snippet'] == '<mark>Rocket</mark> launches &amp; <mark>rockets</mark>'
    filtered = (await api.get('/api/mtproto/search', params={
        'q': 'запуск', 'channel_ids': [101], 'min_views': 200, 'until': '2026-05-01', 'sort': 'views'})).json()
    assert [item['message_id'] for item in filtered['items']] == [23, 21]  # until a plain date: that whole day


async def test_a_malformed_query_answers_400_saying_where(api, app_root):
    answer = await api.get('/api/mtproto/search', params={'q': 'ракета "запуск'})
    assert answer.status_code == 400
    error = answer.json()['error']
    assert error['code'] == 'QUERY_MALFORMED' and 'column 8' in error['message'] and 'closing' in error['message']
    russian = await api.get('/api/mtproto/search', params={'q': 'foo:bar'}, headers={'Accept-Language': 'ru'})
    assert russian.status_code == 400 and 'столбц' in russian.json()['error']['message']
    unknown = await api.get('/api/mtproto/search', params={'q': 'channel:@nobody'})
    assert (unknown.status_code, unknown.json()['error']['code']) == (400, 'SEARCH_INVALID')
    assert (await api.get('/api/mtproto/search', params={'q': 'x' * 1001})).status_code == 400
    assert (await api.get('/api/mtproto/search', params={'cursor': '%%%'})).status_code == 400
    api.headers.pop('Authorization')
    assert (await api.get('/api/mtproto/search', params={'q': 'x'})).status_code == 401


async def test_the_whole_result_exports_as_jsonl_and_csv(api, app_root):
    await _archive(app_root)
    lines = (await api.get('/api/mtproto/search/export', params={'q': 'ракета OR rocket', 'sort': 'date'})).text
    records = [json.loads(line) for line in lines.splitlines()]
    assert len(records) == 16 and records[0]['message_id'] == 29 and records[-1]['link'] == 'https://t.me/space/1'
    table = (await api.get('/api/mtproto/search/export', params={'q': 'сводка', 'format': 'csv'})).text
    rows = list(csv.DictReader(io.StringIO(table.lstrip('\ufeff'))))
    assert len(rows) == 15 and all(row['text'].startswith('Сводка') for row in rows)
    bad = await api.get('/api/mtproto/search/export', params={'q': '"open'})
    assert bad.status_code == 400 and bad.json()['error']['code'] == 'QUERY_MALFORMED'


async def test_reindex_rebuilds_and_reports_its_progress(api, app_root):
    await _archive(app_root)
    started = await api.post('/api/mtproto/search/reindex')
    assert started.status_code == 202 and started.json()['state'] == 'building'
    await search_current(app_root)
    state = (await api.get('/api/mtproto/search/index')).json()
    assert state['state'] == 'ready' and state['posts'] == 31
    assert (await api.get('/api/mtproto/search', params={'q': 'ракета'})).json()['total'] == 15


@pytest.mark.timeout(90)  # two more Python processes start and import the app
async def test_parsegram_reindex_from_a_terminal(app_root, mongo_uri, tmp_path):
    await _archive(app_root)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith('PYTEST')}, 'MONGO_URI': mongo_uri,
           'MONGO_DB': app_root.settings.mongo_db}  # a terminal, not a test: NiceGUI looks for pytest's variables

    async def run(data_dir) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, '-m', 'app', 'reindex', env={**env, 'DATA_DIR': str(data_dir)}, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await process.communicate()
        return process.returncode, out.decode()

    code, out = await run(app_root.settings.data_dir)  # the server runs: it rebuilds its own
    assert code == 0 and 'The running server will rebuild its search index' in out, out
    marker = app_root.search_index.path / REBUILD_MARKER
    for _ in range(1000):
        if not marker.exists() and app_root.search_index.status.state == 'ready':
            break
        await asyncio.sleep(0.02)
    assert not marker.exists() and app_root.search_index.status.posts == 31

    code, out = await run(tmp_path / 'elsewhere')  # no server on that directory: rebuilt by the command
    assert code == 0 and 'Search index rebuilt: 31 posts' in out, out
    assert (tmp_path / 'elsewhere' / 'search' / 'parsegram.json').exists()


async def test_a_channel_s_posts_take_the_same_query_language(api, app_root):
    await _archive(app_root)
    seen, before = [], None
    while True:
        params = {'q': 'ракеты OR сводка -скоро', 'limit': 4, **({'before_id': before} if before else {})}
        page = (await api.get('/api/mtproto/channels/101/posts', params=params)).json()
        seen += [post['message_id'] for post in page['items']]
        before = page['next_before_id']
        if before is None:
            break
    assert seen == list(range(30, 0, -2))  # the even ones, newest first: the odd ones say "скоро"
    records = (await api.get('/api/mtproto/channels/101/export', params={'q': '"запуск ракеты"'})).text.splitlines()
    assert len(records) == 15
    bad = await api.get('/api/mtproto/channels/101/posts', params={'q': 'since:yesterday'})
    assert bad.status_code == 400 and bad.json()['error']['code'] == 'QUERY_MALFORMED'


async def test_comments_are_searched_when_asked_for_and_named_by_their_post(api, app_root):
    group_id = 303_000
    await app_root.repos.channels.upsert_metadata(Channel(id=303, title='Обсуждаемый', username='talked',
                                                          linked_chat_id=group_id))
    await store_posts(app_root.repos, [Post(channel_id=303, message_id=5, date=BASE, text='Запуск ракеты завтра',
                                            replies=1)])
    comment = Comment(channel_id=group_id, message_id=40, date=BASE + timedelta(hours=1), post_author='Анна',
                      text='Ракету перенесли, увы', post_channel_id=303, post_id=5, author_id=77)
    await app_root.repos.comment_writer.store(group_id, CommentsRepo.prepare([comment]))
    await search_current(app_root)

    async def found(**params):
        answer = await api.get('/api/mtproto/search', params={'q': 'ракета', 'sort': 'date', **params})
        assert answer.status_code == 200, answer.text
        return [(item['channel_id'], item['message_id'], item['comment_of']) for item in answer.json()['items']]
    assert await found() == [(303, 5, None)]  # posts only, by default
    assert await found(comments='include') == [(303, 40, 5), (303, 5, None)]
    assert await found(comments='only') == [(303, 40, 5)]
    assert await found(q='ракета is:comment', comments='include') == [(303, 40, 5)]
    assert await found(q='ракета -is:comment', comments='include') == [(303, 5, None)]
    assert await found(comments='include', channel_ids=[303]) == [(303, 40, 5), (303, 5, None)]  # its group too
    answer = await api.get('/api/mtproto/search', params={'q': 'перенесли', 'comments': 'only'})
    item = answer.json()['items'][0]
    assert item['url'] == 'https://t.me/talked/5?comment=40' and '<mark>перенесли</mark>' in item['snippet']
    assert item['channel_title'] == 'Обсуждаемый'

    await app_root.repos.comment_writer.delete(group_id, [40])  # the index follows comments' changes too
    await search_current(app_root)
    assert await found(q='ракета is:comment is:deleted', comments='include') == [(303, 40, 5)]
