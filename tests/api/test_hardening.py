"""Inputs a fuzzer or a careless client sends: each gets a clear answer in the error shape, quickly, and costs only
what the stored posts cost."""
from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from app.db.models import Channel, Post
from tests.support import store_posts

INT64_MAX = 2**63 - 1
CHANNEL_ID = 7_100_000


async def _channel_with_posts(app_root, count: int = 120, first_id: int = 1) -> list[int]:
    """A stored channel with posts one hour apart, the newest now; returns their ids."""
    await app_root.repos.channels.upsert_metadata(Channel(id=CHANNEL_ID, title='Hardened'))
    now = datetime.now(UTC).replace(microsecond=0)
    ids = list(range(first_id, first_id + count))
    posts = [Post(channel_id=CHANNEL_ID, message_id=i, date=now - timedelta(hours=ids[-1] - i), text=f'post {i}')
             for i in ids]
    await store_posts(app_root.repos, posts)
    await app_root.repos.channels.set_state(CHANNEL_ID, posts_stored=count, top_message_id=ids[-1],
                                            last_message_id=ids[-1])
    return ids


def _is_error(answer, status: int, code: str | None = None) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {'error'} and body['error']['message'], body
    if code is not None:
        assert body['error']['code'] == code, body
    return body['error']


async def test_a_before_id_beyond_every_post_starts_from_the_newest_and_answers_at_once(api, app_root):
    ids = await _channel_with_posts(app_root, first_id=5_000)
    url = f'/api/mtproto/channels/{CHANNEL_ID}/posts'
    for before_id in (INT64_MAX, 2**40, ids[-1] + 1):
        # before the fix this walked id windows down from 2^63: about 10^13 queries, and never answered
        answer = await asyncio.wait_for(api.get(url, params={'before_id': before_id, 'limit': 10}), timeout=10)
        assert answer.status_code == 200, answer.text
        assert [p['message_id'] for p in answer.json()['items']] == ids[::-1][:10]
    # a filter that matches nothing walks the stored range only, and says the end is reached
    answer = await asyncio.wait_for(api.get(url, params={'before_id': INT64_MAX, 'q': 'nowhere'}), timeout=10)
    assert answer.json() == {'items': [], 'next_before_id': None}
    answer = await asyncio.wait_for(api.get(url, params={'before_id': ids[0]}), timeout=10)
    assert answer.json() == {'items': [], 'next_before_id': None}  # nothing below the oldest post


async def test_numbers_beyond_64_bits_are_a_400_not_a_crash(api, app_root):
    await _channel_with_posts(app_root, count=3)
    too_big = str(2**64)
    for path in (f'/api/mtproto/channels/{too_big}', f'/api/mtproto/channels/{too_big}/posts',
                 f'/api/mtproto/channels/{too_big}/export', '/api/mtproto/channels/-5'):
        _is_error(await api.get(path), 400, 'BAD_REQUEST')
    _is_error(await api.post(f'/api/mtproto/channels/{too_big}/sync'), 400, 'BAD_REQUEST')
    _is_error(await api.delete(f'/api/mtproto/channels/{too_big}'), 400, 'BAD_REQUEST')
    _is_error(await api.get(f'/api/mtproto/channels/{CHANNEL_ID}/posts', params={'before_id': too_big}), 400)
    _is_error(await api.post('/api/mtproto/channels/bulk', json={'action': 'sync', 'ids': [2**63]}), 400)
    _is_error(await api.get(f'/api/mtproto/jobs/{"x" * 500}'), 400, 'BAD_REQUEST')
    for ref in ('-1009223372036854775808', 't.me/c/99999999999999999999999/1', 't.me/c/١٢٣/1',
                'tg://privatepost?channel=99999999999999999999&post=1'):
        error = _is_error(await api.post('/api/mtproto/channels', json={'ref': ref}), 400)
        assert 'channel' in error['message'], error
    assert (await api.get(f'/api/mtproto/channels/{CHANNEL_ID}')).status_code == 200  # and nothing broke


async def test_dates_without_a_zone_are_utc_and_a_plain_date_is_its_midnight(api, app_root):
    ids = await _channel_with_posts(app_root, count=72)  # three days, one post an hour
    newest = (await app_root.repos.posts.get(channel_id=CHANNEL_ID, message_id=ids[-1])).date.replace(tzinfo=UTC)
    day = (newest - timedelta(days=1)).date()
    expected = [i for i in ids[::-1] if (newest - timedelta(hours=ids[-1] - i)).date() >= day]
    url = f'/api/mtproto/channels/{CHANNEL_ID}'
    for since in (day.isoformat(), f'{day.isoformat()}T00:00:00', f'{day.isoformat()}T03:00:00+03:00'):
        answer = await api.get(f'{url}/posts', params={'since': since, 'limit': 500})
        assert answer.status_code == 200, answer.text
        assert [p['message_id'] for p in answer.json()['items']] == expected, since
        export = await api.get(f'{url}/export', params={'since': since})
        assert export.status_code == 200
        assert [json.loads(line)['message_id'] for line in export.text.splitlines()] == expected, since
    _is_error(await api.get(f'{url}/posts', params={'since': 'yesterday'}), 400, 'BAD_REQUEST')
    _is_error(await api.get(f'{url}/export', params={'since': '2024-02-01', 'until': '2024-01-01'}), 400)


async def test_bodies_that_cannot_be_read_or_are_too_large_get_the_error_shape(api, app_root):
    url = '/api/mtproto/channels'
    headers = {'Content-Type': 'application/json'}
    error = _is_error(await api.post(url, content=b'{"ref": "\xff\xfe"}', headers=headers), 400, 'BAD_REQUEST')
    assert 'UTF-8' in error['message']
    deep = b'[' * 5000 + b']' * 5000
    _is_error(await api.post(url, content=deep, headers=headers), 400, 'BAD_REQUEST')
    _is_error(await api.post(url, content=b'{"ref": ', headers=headers), 400, 'BAD_REQUEST')
    big = json.dumps({'ref': 'x' * (2 << 20)}).encode()
    error = _is_error(await api.post(url, content=big, headers=headers), 413, 'TOO_LARGE')
    assert '1,048,576 bytes' in error['message']

    async def chunks():  # no Content-Length: the limit counts what arrives
        for _ in range(3):
            yield b'x' * (512 << 10)
    _is_error(await api.post(url, content=chunks(), headers=headers), 413, 'TOO_LARGE')
    assert (await api.get('/api/health')).status_code == 200


async def test_an_unexpected_error_is_a_500_in_the_error_shape_with_its_id_in_the_log(api, app_root, log_capture):
    from nicegui import app

    @app.get('/api/test-broken')
    async def broken() -> None:
        raise RuntimeError('a defect the tests planted')

    error = _is_error(await api.get('/api/test-broken'), 500, 'INTERNAL')
    error_id = error['message'].split('error id ')[1].split(')')[0]
    assert f'Unexpected error {error_id}' in log_capture and 'a defect the tests planted' in log_capture
    assert 'a defect' not in error['message']  # the cause stays in the log


async def test_the_schema_documents_every_answer_and_its_error_shape(user, app_root):
    schema = (await user.http_client.get('/openapi.json')).json()
    assert schema['info']['title'] == 'Parsegram API' and 'Bearer' in schema['info']['description']
    assert 'ErrorBody' in schema['components']['schemas']
    for path, operations in schema['paths'].items():
        if not path.startswith('/api/') or path.startswith('/api/test-'):
            continue
        for method, operation in operations.items():
            responses = operation['responses']
            success = [status for status in responses if status.startswith('2')]
            assert success and all(responses[s].get('content') for s in success), (method, path)
            errors = {status for status in responses if status[0] in '45'}
            assert '500' in errors, (method, path)
            if path != '/api/health':
                assert {'400', '401', '413', '503'} <= errors, (method, path)
                assert '422' not in errors, (method, path)  # validation errors answer 400, as documented
                for status in errors:
                    ref = responses[status]['content']['application/json']['schema']['$ref']
                    assert ref.endswith('/ErrorBody'), (method, path, status)


async def test_a_phone_in_other_digits_is_one_record_or_a_clear_400(api, app_root):
    # full-width digits are the same number (NFKC); Arabic-Indic digits would be a second, non-ASCII record
    error = _is_error(await api.post('/api/mtproto/auth/start', json={'phone': '+٤٤٧٧٠٠٩٠٠١٢٣'}), 400,
                      'PHONE_NUMBER_INVALID')
    assert '0-9' in error['message']
    from app.mtproto.login import normalize_phone
    assert normalize_phone('+４４ ７７００ ９００１２３') == normalize_phone('+44 7700 900123') == '447700900123'
    assert await app_root.repos.accounts.list() == []


async def test_the_work_of_a_request_stops_when_its_client_goes_away(user, app_root):
    from nicegui import app
    started, stopped = asyncio.Event(), asyncio.Event()

    @app.get('/api/test-slow')
    async def slow() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)  # a long database walk, a slow Telegram call
        finally:
            stopped.set()

    gone = asyncio.Event()
    body_sent = False

    async def receive() -> dict:  # the ASGI messages of a client that sends its request, then hangs up
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {'type': 'http.request', 'body': b'', 'more_body': False}
        await gone.wait()
        return {'type': 'http.disconnect'}

    answered: list[dict] = []

    async def send(message: dict) -> None:
        answered.append(message)

    scope = {'type': 'http', 'asgi': {'version': '3.0'}, 'http_version': '1.1', 'method': 'GET', 'scheme': 'http',
             'path': '/api/test-slow', 'raw_path': b'/api/test-slow', 'query_string': b'', 'root_path': '',
             'headers': [(b'host', b'test')], 'client': ('127.0.0.1', 50000), 'server': ('test', 80)}
    call = asyncio.create_task(app(scope, receive, send))
    await asyncio.wait_for(started.wait(), 10)
    gone.set()
    await asyncio.wait_for(stopped.wait(), 10)  # cancelled, not left running for nobody
    await asyncio.wait_for(call, 10)
    assert answered == []
