"""The archive API: a post's versions, the change feed for programs that pull, and the proof behind them."""
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
from app.db.post_hash import version_hash
from tests.support import store_posts

CHANNEL_ID = 7_200_000
ROOT = Path(__file__).resolve().parents[2]
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


async def test_verify_names_the_first_post_whose_stored_history_was_changed(api, app_root):
    await app_root.repos.channels.upsert_metadata(Channel(id=CHANNEL_ID, title='Proof'))
    await store_posts(app_root.repos, [_post(i, f'post {i}') for i in range(1, 31)])
    for n in range(1, 4):
        await store_posts(app_root.repos, [_post(12, f'post 12, edit {n}'), _post(20, f'post 20, edit {n}')])
    await app_root.repos.writer.delete(CHANNEL_ID, [25])
    url = f'/api/mtproto/channels/{CHANNEL_ID}/verify'
    fine = (await api.post(url)).json()
    assert (fine['ok'], fine['posts'], fine['versions'], fine['message_id']) == (True, 30, 37, None)

    # someone rewrites what post 20 said in its second version, straight in the database
    await app_root.repos.versions.collection.update_one(
        {'channel_id': CHANNEL_ID, 'message_id': 20, 'version': 2}, {'$set': {'text': 'something else'}})
    bad = (await api.post(url)).json()
    assert (bad['ok'], bad['message_id'], bad['version']) == (False, 20, 2)
    assert 'no longer matches' in bad['reason']
    await app_root.repos.versions.collection.update_one(
        {'channel_id': CHANNEL_ID, 'message_id': 20, 'version': 2}, {'$set': {'text': 'post 20, edit 1'}})
    assert (await api.post(url)).json()['ok']

    # the same for the current version of a post, and for a post removed with its versions
    await app_root.repos.posts.collection.update_one({'channel_id': CHANNEL_ID, 'message_id': 7},
                                                     {'$set': {'text': 'rewritten'}})
    assert (await api.post(url)).json()['message_id'] == 7
    await app_root.repos.posts.collection.delete_one({'channel_id': CHANNEL_ID, 'message_id': 7})
    gone = (await api.post(url)).json()
    assert not gone['ok'] and gone['message_id'] is None and 'chain head' in gone['reason']


@pytest.mark.timeout(90)  # a second Python process starts and imports the app
async def test_parsegram_verify_from_a_terminal(app_root, mongo_uri, app_env):
    await app_root.repos.channels.upsert_metadata(Channel(id=CHANNEL_ID, title='Terminal', username='terminal_proof'))
    await store_posts(app_root.repos, [_post(i, f'post {i}') for i in range(1, 11)])
    await store_posts(app_root.repos, [_post(3, 'post 3, edited')])
    env = {**{k: v for k, v in os.environ.items() if not k.startswith('PYTEST')}, 'MONGO_URI': mongo_uri,
           'MONGO_DB': app_root.settings.mongo_db}  # a terminal, not a test: NiceGUI looks for pytest's variables

    async def run(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, '-m', 'app', 'verify', *args, env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        return process.returncode, out.decode(), err.decode()

    code, out, _ = await run('@terminal_proof')
    assert code == 0 and out.startswith(f'OK: channel {CHANNEL_ID}, 10 posts and 11 versions match'), out
    await app_root.repos.posts.collection.update_one({'channel_id': CHANNEL_ID, 'message_id': 3},
                                                     {'$set': {'views': 5, 'text': 'quietly changed'}})
    code, out, _ = await run(str(-1_000_000_000_000 - CHANNEL_ID))
    assert code == 1 and out.startswith(f'FAILED: channel {CHANNEL_ID}: post 3, version 2: version 2 no longer')
    code, _, err = await run('@nobody_here')
    assert code == 2 and 'No stored channel matches' in err


async def test_completeness_before_and_after_an_audit_and_an_audit_queued(api, app_root):
    await app_root.repos.channels.upsert_metadata(Channel(id=CHANNEL_ID, title='Audit'))
    await store_posts(app_root.repos, [_post(i, f'post {i}') for i in range(1, 11) if i not in (4, 5)])
    url = f'/api/mtproto/channels/{CHANNEL_ID}/completeness'
    never = (await api.get(url)).json()
    assert (never['complete'], never['newest'], never['checked_at']) == (False, 0, None)
    await app_root.repos.completeness.record_gone(CHANNEL_ID, [4], 'deleted', BASE)
    await app_root.repos.completeness.save_audit(CHANNEL_ID, newest=10, refilled=0, at=BASE)
    held = (await api.get(url)).json()
    assert (held['stored'], held['confirmed_gone'], held['unchecked'], held['complete']) == (8, 1, 1, False)
    await app_root.repos.completeness.record_gone(CHANNEL_ID, [5], 'service', BASE)
    held = (await api.get(url)).json()
    assert (held['unchecked'], held['complete'], held['service']) == (0, True, 1)

    queued = await api.post(f'/api/mtproto/channels/{CHANNEL_ID}/audit')
    assert queued.status_code == 202 and queued.json()['kind'] == 'audit'
    missing = await api.post('/api/mtproto/channels/99/audit')
    assert (missing.status_code, missing.json()['error']['code']) == (404, 'CHANNEL_NOT_FOUND')


async def test_exports_carry_hashes_and_with_versions_every_earlier_version(api, app_root):
    await app_root.repos.channels.upsert_metadata(Channel(id=CHANNEL_ID, title='Export', username='export_proof'))
    await store_posts(app_root.repos, [_post(1, 'one'), _post(2, 'два')])
    await store_posts(app_root.repos, [_post(2, 'два, исправлено')])
    await store_posts(app_root.repos, [_post(2, 'два, исправлено дважды')])
    url = f'/api/mtproto/channels/{CHANNEL_ID}/export'

    plain = [json.loads(line) for line in (await api.get(url, params={'format': 'jsonl'})).text.splitlines()]
    assert [(p['message_id'], p['version'], p['edits']) for p in plain] == [(2, 3, 2), (1, 1, 0)]
    assert all(len(p['hash']) == 64 for p in plain) and 'versions' not in plain[0]

    full = [json.loads(line) for line in
            (await api.get(url, params={'format': 'jsonl', 'versions': 'true'})).text.splitlines()]
    assert [v['text'] for v in full[0]['versions']] == ['два', 'два, исправлено']
    assert full[0]['versions'][1]['hash'] == full[0]['prev_hash'] and full[1]['versions'] == []

    table = await api.get(url, params={'format': 'csv', 'versions': 'true'})
    rows = list(csv.DictReader(io.StringIO(table.text.lstrip('\ufeff'))))
    assert [(r['message_id'], r['version'], r['text']) for r in rows] == [
        ('2', '1', 'два'), ('2', '2', 'два, исправлено'), ('2', '3', 'два, исправлено дважды'), ('1', '1', 'one')]
    assert rows[1]['prev_hash'] == rows[0]['hash'] and rows[0]['views'] == ''


async def test_a_post_s_comments_come_oldest_first_with_authors_answers_and_deletions(api, app_root):
    group_id = 7_200_500
    await app_root.repos.channels.upsert_metadata(Channel(id=CHANNEL_ID, title='Commented', linked_chat_id=group_id))
    await store_posts(app_root.repos, [_post(1, 'a post people talk about', replies=3)])

    def comment(message_id: int, text: str, author: str, reply_to: int | None = None) -> Comment:
        return Comment(channel_id=group_id, message_id=message_id, date=BASE + timedelta(minutes=message_id),
                       text=text, post_author=author, author_id=500 + message_id, post_channel_id=CHANNEL_ID,
                       post_id=1, reply_to=reply_to)
    writer = app_root.repos.comment_writer
    await writer.store(group_id, CommentsRepo.prepare([comment(11, 'Первый!', 'Анна'), comment(12, 'Why?', 'Bo', 11),
                                                        comment(13, 'Because', 'Анна', 12)]))
    await writer.delete(group_id, [12])

    answer = await api.get(f'/api/mtproto/channels/{CHANNEL_ID}/posts/1/comments')
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body['group_id'], body['total']) == (group_id, 3)
    assert [(c['message_id'], c['author_name'], c['reply_to'], c['deleted']) for c in body['items']] == [
        (11, 'Анна', None, False), (12, 'Bo', 11, True), (13, 'Анна', 12, False)]
    assert body['items'][1]['text'] == 'Why?' and body['items'][1]['version'] == 2  # a deletion keeps the words
    missing = await api.get(f'/api/mtproto/channels/{CHANNEL_ID}/posts/2/comments')
    assert (missing.status_code, missing.json()['error']['code']) == (404, 'POST_NOT_FOUND')

    export = f'/api/mtproto/channels/{CHANNEL_ID}/export'
    [record] = [json.loads(line) for line in (await api.get(export, params={'comments': 'true'})).text.splitlines()]
    assert [(c['message_id'], c['author_name'], c['deleted']) for c in record['comments']] == [
        (11, 'Анна', False), (12, 'Bo', True), (13, 'Анна', False)]
    assert record['comments'][0]['link'].endswith('/1?comment=11') and record['comments'][0]['group_id'] == group_id
    assert 'comments' not in json.loads((await api.get(export)).text)  # only when asked for
    rows = list(csv.reader(io.StringIO((await api.get(export, params={'format': 'csv', 'comments': 'true'}))
                                       .text.lstrip('\ufeff'))))
    assert rows[0][-2:] == ['comment_of', 'author_id'] and len(rows) == 1 + 1 + 3  # the post, then its comments
    assert [(row[1], row[-2]) for row in rows[1:]] == [('1', ''), ('11', '1'), ('12', '1'), ('13', '1')]
