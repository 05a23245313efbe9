"""The channels and jobs JSON API end to end: the app as in production, the test DC, the real database."""
from __future__ import annotations

import csv
import functools
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.db.models import Channel
from tests.support import eventually


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


async def log_in(telegram_dc, api, x: int = 8) -> tuple[str, int]:
    phone = telegram_dc.new_phone(x)
    user_id = telegram_dc.create_user(phone, 'ChannelsApi')
    started = (await api.post('/api/mtproto/auth/start', json={'phone': phone})).json()
    verified = await api.post('/api/mtproto/auth/verify',
                              json={'account_id': started['account_id'], 'code': str(x) * 5})
    assert verified.json()['status'] == 'authorized', verified.text
    return started['account_id'], user_id


until = functools.partial(eventually, timeout=30.0, interval=0.1)


def _name(prefix: str) -> str:
    return f'{prefix}_{uuid.uuid4().hex[:8]}'


async def test_add_backfill_page_search_and_export(telegram_dc, api, app_root):
    account_id, _ = await log_in(telegram_dc, api)
    username = _name('apich')
    info = telegram_dc.create_channel('Api Channel', username=username, posts=420, seed=31, about='api test')
    answer = await api.post('/api/mtproto/channels', json={'ref': f'https://t.me/{username}'})
    assert answer.status_code == 201, answer.text
    channel = answer.json()
    assert channel['id'] == info['channel_id'] and channel['title'] == 'Api Channel' and channel['created']
    assert channel['accounts'] == [account_id] and 'access_hashes' not in channel
    assert channel['stats']['job_id'] and channel['stats']['sync_status'] in ('queued', 'backfilling')  # its backfill
    again = await api.post('/api/mtproto/channels', json={'ref': f'@{username}'})
    assert again.status_code == 200 and again.json()['created'] is False

    async def backfilled():  # the backfill, the catch-up sync and the audit after it are all finished
        got = (await api.get(f'/api/mtproto/channels/{info["channel_id"]}')).json()
        if not got['state']['backfilled'] or got['stats']['sync_status'] != 'idle':
            return None
        last_job = (await api.get(f'/api/mtproto/jobs/{got["stats"]["job_id"]}')).json()
        return got if (last_job['kind'], last_job['status']) == ('audit', 'done') else None
    got = await until(backfilled)
    assert got['stats']['posts_stored'] == 420 and got['stats']['last_synced_at']
    held = (await api.get(f'/api/mtproto/channels/{info["channel_id"]}/completeness')).json()
    assert (held['complete'], held['newest'], held['stored'], held['confirmed_gone']) == (True, 420, 420, 0)
    listed = (await api.get('/api/mtproto/channels')).json()
    assert [c['id'] for c in listed['items']] == [info['channel_id']] and listed['total'] == 1
    assert listed['items'][0]['stats']['last_post_at'] and listed['next_cursor'] is None

    ids, before = [], None
    while True:
        params = {'limit': 100} | ({'before_id': before} if before else {})
        page = (await api.get(f'/api/mtproto/channels/{info["channel_id"]}/posts', params=params)).json()
        ids += [item['message_id'] for item in page['items']]
        before = page['next_before_id']
        if before is None:
            break
    assert ids == list(range(420, 0, -1))
    first = (await api.get(f'/api/mtproto/channels/{info["channel_id"]}/posts', params={'limit': 1})).json()
    assert first['items'][0]['link'] == f'https://t.me/{username}/420'

    word = next(w for item in (await api.get(f'/api/mtproto/channels/{info["channel_id"]}/posts',
                                             params={'limit': 50})).json()['items']
                for w in item['text'].split() if w.isalpha() and len(w) > 4)
    found = (await api.get(f'/api/mtproto/channels/{info["channel_id"]}/posts',
                           params={'q': word.upper(), 'limit': 500})).json()['items']
    assert found and all(word.lower() in item['text'].lower() for item in found)
    media = (await api.get(f'/api/mtproto/channels/{info["channel_id"]}/posts',
                           params={'has_media': 'true', 'limit': 500})).json()['items']
    assert media and all(item['media'] for item in media)

    stored = (await api.get(f'/api/mtproto/channels/{info["channel_id"]}/posts', params={'limit': 500})).json()
    jsonl = await api.get(f'/api/mtproto/channels/{info["channel_id"]}/export', params={'format': 'jsonl'})
    assert jsonl.status_code == 200 and 'attachment' in jsonl.headers['content-disposition']
    assert [json.loads(line) for line in jsonl.text.splitlines()] == stored['items']
    exported = await api.get(f'/api/mtproto/channels/{info["channel_id"]}/export', params={'format': 'csv'})
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip('\ufeff'))))
    assert [int(r['message_id']) for r in rows] == ids
    by_id = {item['message_id']: item for item in stored['items']}
    for row in rows:
        item = by_id[int(row['message_id'])]
        assert row['text'] == item['text'] and row['link'] == item['link']
        assert row['views'] == str(item['views'] if item['views'] is not None else '')
        assert json.loads(row['reactions']) == item['reactions']
        assert row['media_type'] == (item['media']['type'] if item['media'] else '')
    filtered = await api.get(f'/api/mtproto/channels/{info["channel_id"]}/export',
                             params={'format': 'jsonl', 'has_media': 'true'})
    assert len(filtered.text.splitlines()) == len(media)

    job = (await api.post(f'/api/mtproto/channels/{info["channel_id"]}/sync')).json()
    assert job['kind'] == 'sync' and job['status'] in ('queued', 'running')

    async def job_done():
        current = (await api.get(f'/api/mtproto/jobs/{job["id"]}')).json()
        return current if current['status'] == 'done' else None
    done = await until(job_done)
    assert done['progress'] == {'done': 1, 'total': 1} and 'owner' not in done
    conflict = await api.post(f'/api/mtproto/jobs/{job["id"]}/pause')
    assert conflict.status_code == 409 and conflict.json()['error']['code'] == 'JOB_STATE'

    path = f'/api/mtproto/channels/{info["channel_id"]}'
    hourly = await api.patch(path, json={'interval_seconds': 3600})
    assert hourly.status_code == 200
    assert hourly.json()['sync'] == {'enabled': True, 'interval_seconds': 3600, 'refresh_days': 7, 'comment_days': 7}
    next_sync = datetime.fromisoformat(hourly.json()['state']['next_sync_at'])
    assert timedelta(minutes=59) < next_sync.replace(tzinfo=next_sync.tzinfo or UTC) - datetime.now(UTC)
    off = await api.patch(path, json={'sync_enabled': False})
    assert off.json()['sync'] == {'enabled': False, 'interval_seconds': 3600, 'refresh_days': 7, 'comment_days': 7}
    fewer = await api.patch(path, json={'comment_days': 2})  # how far back a sync reads comments again
    assert fewer.status_code == 200 and fewer.json()['sync']['comment_days'] == 2
    assert fewer.json()['sync']['enabled'] is False  # the schedule stays as it was
    for body in ({}, {'interval_seconds': 5}, {'sync_enabled': 'maybe'}):
        bad = await api.patch(path, json=body)
        assert bad.status_code == 400 and bad.json()['error']['message'], body
    assert (await api.patch('/api/mtproto/channels/1', json={'sync_enabled': True})).status_code == 404

    assert (await api.delete(f'/api/mtproto/accounts/{account_id}')).json()['status'] == 'logged_out'
    gone = (await api.get(path)).json()  # a logged-out account reads nothing and is not listed as a reader
    assert gone['accounts'] == [] and gone['joined'] is False
    listed = (await api.get('/api/mtproto/channels')).json()['items']
    assert [c['accounts'] for c in listed] == [[]]

    deleted = await api.delete(f'/api/mtproto/channels/{info["channel_id"]}')
    assert deleted.status_code == 200
    missing = await api.get(f'/api/mtproto/channels/{info["channel_id"]}')
    assert missing.status_code == 404 and missing.json()['error']['code'] == 'CHANNEL_NOT_FOUND'


async def test_bad_references_and_invites(telegram_dc, api):
    _, user_id = await log_in(telegram_dc, api, 9)
    person = _name('human')
    telegram_dc.create_user(telegram_dc.new_phone(9), 'Person', username=person)
    private = telegram_dc.create_channel('Private Api', private=True, posts=5, about='secret')
    cases = [
        ('t.me/', 400, 'BAD_REFERENCE'),
        ('https://t.me/c/nope/1', 400, 'BAD_REFERENCE'),
        (f'@{_name("missing")}', 404, 'CHANNEL_NOT_FOUND'),
        (f'@{person}', 400, 'NOT_A_CHANNEL'),
        (f'-100{private["channel_id"]}', 403, 'CHANNEL_PRIVATE'),
        ('https://t.me/+ZZZZZZZZZZZZZZZZ', 404, 'INVITE_INVALID'),
    ]
    for ref, status, code in cases:
        answer = await api.post('/api/mtproto/channels', json={'ref': ref})
        assert (answer.status_code, answer.json()['error']['code']) == (status, code), ref
        assert answer.json()['error']['message']
    assert (await api.post('/api/mtproto/channels', json={})).status_code == 400
    preview = await api.post('/api/mtproto/channels', json={'ref': f't.me/+{private["invite_hash"]}'})
    assert preview.status_code == 200
    assert preview.json() == {'needs_join': True, 'preview': {
        'title': 'Private Api', 'participants_count': preview.json()['preview']['participants_count'],
        'about': 'secret', 'photo': preview.json()['preview']['photo']}}
    assert (await api.get('/api/mtproto/channels')).json() == {'items': [], 'total': 0, 'next_cursor': None}
    joined = await api.post('/api/mtproto/channels', json={'ref': f't.me/+{private["invite_hash"]}', 'join': True})
    assert joined.status_code == 201 and joined.json()['joined'] is True


async def test_requires_a_token(user, app_root):
    answer = await user.http_client.get('/api/mtproto/channels')
    assert answer.status_code == 401 and answer.json()['error']['code'] == 'UNAUTHORIZED'
    missing_job = await user.http_client.get('/api/mtproto/jobs/nope')
    assert missing_job.status_code == 401


async def test_queue_many_references_and_follow_them(telegram_dc, api, app_root):
    account_id, _ = await log_in(telegram_dc, api, 7)
    names = [_name('apiq') for _ in range(3)]
    for i, name in enumerate(names):
        telegram_dc.create_channel(f'Api Queued {i}', username=name, posts=0)
    private = telegram_dc.create_channel('Api Invite', private=True, posts=0)
    refs = [f'@{n}' for n in names] + [f't.me/+{private["invite_hash"]}', 'not a link']
    answer = await api.post('/api/mtproto/channel-refs', json={'refs': refs})
    assert answer.status_code == 202, answer.text
    entries = answer.json()
    assert [e['ref'] for e in entries] == refs and entries[-1]['state'] == 'error'
    assert entries[-1]['code'] == 'BAD_REFERENCE' and 'spaces' in entries[-1]['reason']
    ids = [e['id'] for e in entries]

    async def settled():
        got = (await api.get('/api/mtproto/channel-refs', params={'ids': ids})).json()
        return got if all(e['state'] in ('added', 'error', 'needs_join') for e in got) else None
    got = await until(settled)
    assert [e['state'] for e in got] == ['added'] * 3 + ['needs_join', 'error']
    assert got[0]['title'] == 'Api Queued 0' and got[0]['account_id'] == account_id and got[0]['created']
    assert got[3]['title'] == 'Api Invite'
    assert [e['ref'] for e in (await api.get('/api/mtproto/channel-refs')).json()] == [refs[3]]  # what is left

    joined = await api.post(f'/api/mtproto/channel-refs/{ids[3]}/join')
    assert joined.status_code == 200 and joined.json()['state'] == 'queued'

    async def added():
        entry = (await api.get('/api/mtproto/channel-refs', params={'ids': [ids[3]]})).json()[0]
        return entry if entry['state'] == 'added' else None
    assert (await until(added))['channel_id'] == private['channel_id']
    assert (await api.post('/api/mtproto/channel-refs/nope/join')).status_code == 404
    too_many = await api.post('/api/mtproto/channel-refs', json={'refs': ['@x'] * 1001})
    assert too_many.status_code == 400 and too_many.json()['error']['code'] == 'BAD_REQUEST'
    assert (await api.post('/api/mtproto/channel-refs', json={'refs': []})).status_code == 400


async def test_the_api_schema_gives_channels_and_jobs_a_type(user, app_root):
    schema = (await user.http_client.get('/openapi.json')).json()

    def answer(path: str, method: str = 'get', status: str = '200') -> dict:
        return schema['paths'][path][method]['responses'][status]['content']['application/json']['schema']
    assert answer('/api/mtproto/channels/{channel_id}')['$ref'].endswith('/ChannelView')
    assert answer('/api/mtproto/channels')['$ref'].endswith('/ChannelList')
    items = schema['components']['schemas']['ChannelList']['properties']['items']
    assert items['items']['$ref'].endswith('/ChannelView')
    assert answer('/api/mtproto/jobs/{job_id}')['$ref'].endswith('/JobView')
    assert answer('/api/mtproto/channels/{channel_id}/sync', 'post', '202')['$ref'].endswith('/JobView')
    types = schema['components']['schemas']
    assert {'posts_stored', 'sync_status', 'progress', 'job_id'} <= set(types['ChannelStats']['properties'])
    assert {'status', 'progress', 'follow_up', 'wait_until'} <= set(types['JobView']['properties'])


async def _seed(app_root, specs: list[tuple[str, str | None, int]]) -> list[int]:
    """Stored channels as a resolve would leave them: (title, username, subscribers)."""
    ids = []
    for n, (title, username, subscribers) in enumerate(specs):
        channel_id = 7_000_000 + n
        await app_root.repos.channels.upsert_metadata(
            Channel(id=channel_id, title=title, username=username, participants_count=subscribers))
        await app_root.repos.channels.set_state(channel_id, posts_stored=n * 10)
        ids.append(channel_id)
    return ids


async def test_the_list_pages_filters_sorts_and_tags_in_bulk(api, app_root):
    specs = [(f'Channel {n:02d}', f'chan{n:02d}', 1000 + n) for n in range(27)]
    specs += [('Новости Севера', 'north_news', 5), ('Daily NEWS', None, 7), ('Weather', 'newsless_weather', None)]
    ids = await _seed(app_root, specs)
    by_title = {title: channel_id for (title, _, _), channel_id in zip(specs, ids, strict=True)}

    seen, cursor, pages = [], None, 0
    while True:
        page = (await api.get('/api/mtproto/channels', params={'limit': 8} | ({'cursor': cursor} if cursor else {})
                              )).json()
        assert page['total'] == 30
        seen += [item['title'] for item in page['items']]
        cursor, pages = page['next_cursor'], pages + 1
        if cursor is None:
            break
    assert pages == 4 and seen == sorted(seen) and len(set(seen)) == 30  # titles A to Z, each once

    async def titles(**params) -> list[str]:
        answer = await api.get('/api/mtproto/channels', params=params)
        assert answer.status_code == 200, answer.text
        return [item['title'] for item in answer.json()['items']]
    assert await titles(q='news') == ['Daily NEWS', 'Weather', 'Новости Севера']  # title or @username, any case
    assert await titles(q='НОВОСТИ') == ['Новости Севера']
    assert await titles(q='@chan0', sort='subscribers', limit=3) == ['Channel 09', 'Channel 08', 'Channel 07']
    assert await titles(q='chan0', sort='subscribers', order='asc', limit=2) == ['Channel 00', 'Channel 01']
    assert (await titles(sort='posts', limit=1)) == ['Weather']  # the most posts stored
    assert await titles(q='a.b(') == []  # taken as text, not as a pattern

    chosen = [by_title['Channel 03'], by_title['Новости Севера'], 99]
    tagged = (await api.post('/api/mtproto/channels/bulk',
                             json={'action': 'tag', 'ids': chosen, 'tags': ['  Regional ', 'news']})).json()
    assert tagged == {'action': 'tag', 'done': chosen[:2], 'missing': [99]}
    assert await titles(tag='regional') == ['Channel 03', 'Новости Севера']
    assert (await api.get('/api/mtproto/tags')).json() == [{'name': 'news', 'channels': 2},
                                                          {'name': 'regional', 'channels': 2}]
    await api.post('/api/mtproto/channels/bulk', json={'action': 'untag', 'ids': chosen[:1], 'tags': ['news']})
    assert await titles(tag='news') == ['Новости Севера']
    assert (await api.get(f'/api/mtproto/channels/{chosen[0]}')).json()['tags'] == ['regional']

    paused = await api.post('/api/mtproto/channels/bulk', json={'action': 'pause', 'ids': chosen[:2]})
    assert paused.json()['done'] == chosen[:2]
    assert await titles(status='paused') == ['Channel 03', 'Новости Севера']
    assert len(await titles(status='idle', limit=100)) == 28
    one = (await api.get(f'/api/mtproto/channels/{chosen[0]}')).json()
    assert one['sync']['enabled'] is False and one['stats']['sync_status'] == 'paused'
    await api.post('/api/mtproto/channels/bulk', json={'action': 'resume', 'ids': chosen[:1]})
    assert await titles(status='paused') == ['Новости Севера']

    gone = (await api.post('/api/mtproto/channels/bulk', json={'action': 'delete', 'ids': chosen[:2]})).json()
    assert gone['done'] == chosen[:2]
    assert (await api.get('/api/mtproto/channels', params={'limit': 1})).json()['total'] == 28

    for params, needle in [({'cursor': 'bm9wZQ'}, 'cursor'), ({'sort': 'size'}, 'sort'), ({'status': 'busy'}, 'status'),
                           ({'tag': ' '}, 'tag'), ({'limit': 0}, 'limit'), ({'order': 'up'}, 'order')]:
        answer = await api.get('/api/mtproto/channels', params=params)
        assert answer.status_code == 400 and answer.json()['error']['code'] == 'BAD_REQUEST', params
        assert needle in answer.json()['error']['message'].lower(), answer.text
    for body in [{'action': 'tag', 'ids': ids[:1]}, {'action': 'tag', 'ids': ids[:1], 'tags': ['x' * 40]},
                 {'action': 'explode', 'ids': ids[:1]}, {'action': 'sync', 'ids': []},
                 {'action': 'sync', 'ids': list(range(1001))}]:
        answer = await api.post('/api/mtproto/channels/bulk', json=body)
        assert answer.status_code == 400 and answer.json()['error']['message'], body


async def test_import_a_chat_folder_as_tagged_channels_without_look_ups(telegram_dc, api, app_root):
    account_id, user_id = await log_in(telegram_dc, api, 6)
    channels = [telegram_dc.create_channel(f'Folder channel {i}', username=_name('fold'), posts=0) for i in range(3)]
    secret = telegram_dc.create_channel('Folder private', private=True, posts=0)
    ids = [c['channel_id'] for c in channels] + [secret['channel_id']]
    folder_id = telegram_dc.create_folder(user_id, 'Regional', ids, emoticon='📰')
    telegram_dc.create_folder(user_id, 'Empty', [])

    folders = (await api.get(f'/api/mtproto/accounts/{account_id}/folders')).json()
    assert folders == [{'id': folder_id, 'title': 'Regional', 'emoticon': '📰', 'channels': 4},
                       {'id': folder_id + 1, 'title': 'Empty', 'emoticon': None, 'channels': 0}]
    telegram_dc.reset_stats()
    answer = await api.post(f'/api/mtproto/accounts/{account_id}/folders/{folder_id}/import')
    assert answer.status_code == 202, answer.text
    entries = answer.json()
    assert len(entries) == 4 and all(e['tags'] == ['regional'] and e['state'] == 'queued' for e in entries)
    entry_ids = [e['id'] for e in entries]

    async def settled():
        got = (await api.get('/api/mtproto/channel-refs', params={'ids': entry_ids})).json()
        return got if all(e['state'] in ('added', 'error') for e in got) else None
    got = await until(settled)
    assert sorted(e['channel_id'] for e in got) == sorted(ids) and {e['state'] for e in got} == {'added'}
    listed = (await api.get('/api/mtproto/channels', params={'tag': 'regional'})).json()
    assert sorted(c['id'] for c in listed['items']) == sorted(ids)
    assert all(c['joined'] for c in listed['items'])  # members already: live updates come without a join
    calls = telegram_dc.stats()['users'].get(str(user_id), {})
    assert 'contacts.resolveUsername' not in calls and 'channels.joinChannel' not in calls

    for path, code in [(f'/api/mtproto/accounts/{account_id}/folders/{folder_id + 1}/import', 'FOLDER_EMPTY'),
                       (f'/api/mtproto/accounts/{account_id}/folders/99/import', 'FOLDER_NOT_FOUND')]:
        refused = await api.post(path)
        assert refused.json()['error']['code'] == code, refused.text
    unknown = await api.get('/api/mtproto/accounts/nobody/folders')
    assert unknown.status_code >= 400 and unknown.json()['error']['message']
