"""A post's file through the API: kept in GridFS on first request, served with Range, renewed and resumed."""
from __future__ import annotations

import functools
import hashlib
import uuid

import pytest

from app.mtproto.media import MediaService
from tests.api.test_channels_api import log_in
from tests.support import eventually
from tests.telegram_dc.files import MIB

until = functools.partial(eventually, timeout=30.0, interval=0.1)


@pytest.fixture
def app_extra_env(telegram_dc) -> dict[str, str]:
    return telegram_dc.env()


async def _channel(telegram_dc, api, x: int, posts: dict[str, dict]) -> tuple[int, int, dict[str, int]]:
    """A channel with these posts (name → post_message fields), added and read; its id, the reader and the ids."""
    _, user_id = await log_in(telegram_dc, api, x)
    info = telegram_dc.create_channel('Media', username=f'media_{uuid.uuid4().hex[:8]}')
    channel_id = info['channel_id']
    ids = {}
    for name, fields in posts.items():
        fields = dict(fields)
        if fields.get('media') in ids:  # the same file as an earlier post
            fields['media'] = telegram_dc.media_of(channel_id, ids[fields['media']])
        ids[name] = telegram_dc.post_message(channel_id, name, **fields)
    assert (await api.post('/api/mtproto/channels', json={'ref': f'@{info["username"]}'})).status_code == 201

    async def stored():
        got = (await api.get(f'/api/mtproto/channels/{channel_id}')).json()
        return got['stats']['posts_stored'] == len(posts) and got['stats']['sync_status'] == 'idle'
    await until(stored)
    return channel_id, user_id, ids


def _file_calls(telegram_dc, user_id: int) -> int:
    return telegram_dc.stats()['users'].get(str(user_id), {}).get('upload.getFile', {}).get('calls', 0)


async def test_a_file_is_kept_once_served_whole_and_in_ranges_and_outlives_its_post(telegram_dc, api, app_root):
    channel_id, user_id, ids = await _channel(telegram_dc, api, 3, {
        'a clip': {'media': 'video', 'media_size': 2 * MIB + 7_000},
        'the clip again': {'media': 'a clip'},
        'a photo': {'media': 'photo'},
        'just words': {},
    })
    base = f'/api/mtproto/channels/{channel_id}/posts'
    clip = telegram_dc.file_content(channel_id, ids['a clip'])
    telegram_dc.reset_stats()

    whole = await api.get(f'{base}/{ids["a clip"]}/media')
    assert whole.status_code == 200 and whole.content == clip
    assert whole.headers['content-type'] == 'video/mp4' and whole.headers['accept-ranges'] == 'bytes'
    assert 'inline' in whole.headers['content-disposition'] and '.mp4' in whole.headers['content-disposition']
    assert _file_calls(telegram_dc, user_id) == 5  # 2 MiB + 7,000 bytes in parts of 512 KiB

    seek = await api.get(f'{base}/{ids["a clip"]}/media', headers={'Range': 'bytes=1048576-1049999'})
    assert seek.status_code == 206 and seek.content == clip[1048576:1050000]
    assert seek.headers['content-range'] == f'bytes 1048576-1049999/{len(clip)}'
    tail = await api.get(f'{base}/{ids["a clip"]}/media', headers={'Range': 'bytes=-100'})
    assert tail.status_code == 206 and tail.content == clip[-100:]
    past = await api.get(f'{base}/{ids["a clip"]}/media', headers={'Range': f'bytes={len(clip)}-'})
    assert past.status_code == 416 and past.headers['content-range'] == f'bytes */{len(clip)}'
    assert past.json()['error']['code'] == 'RANGE_NOT_SATISFIABLE'
    saved = await api.get(f'{base}/{ids["a clip"]}/media', params={'download': 'true'})
    assert saved.headers['content-disposition'].startswith('attachment')

    again = await api.get(f'{base}/{ids["the clip again"]}/media')  # the same Telegram file in another post
    assert again.status_code == 200 and again.content == clip
    assert _file_calls(telegram_dc, user_id) == 5  # linked to the kept copy, not downloaded again
    sha = hashlib.sha256(clip).hexdigest()
    assert await app_root.repos.media.files.count_documents({'metadata.sha256': sha}) == 1
    assert await app_root.repos.media.chunks.count_documents({}) == 5

    photo = await api.get(f'{base}/{ids["a photo"]}/media')
    assert photo.status_code == 200 and photo.content == telegram_dc.file_content(channel_id, ids['a photo'])
    assert photo.headers['content-type'] == 'image/jpeg'

    nothing = await api.get(f'{base}/{ids["just words"]}/media')
    assert (nothing.status_code, nothing.json()['error']['code']) == (404, 'NO_MEDIA')
    missing = await api.get(f'{base}/999/media')
    assert (missing.status_code, missing.json()['error']['code']) == (404, 'POST_NOT_FOUND')

    storage = (await api.get(f'/api/mtproto/channels/{channel_id}/storage')).json()
    assert storage['by_type'] == {'video': {'count': 2, 'bytes': 2 * len(clip)},
                                  'photo': {'count': 1, 'bytes': len(photo.content)}}

    # the channel deletes the clip: the kept copy is still served
    telegram_dc.delete_messages(channel_id, [ids['a clip']])
    await api.post(f'/api/mtproto/channels/{channel_id}/sync')

    async def deleted():
        post = await app_root.repos.posts.get(channel_id=channel_id, message_id=ids['a clip'])
        return post.deleted
    await until(deleted)
    kept = await api.get(f'{base}/{ids["a clip"]}/media')
    assert kept.status_code == 200 and kept.content == clip


async def test_an_expired_reference_is_renewed_once_and_the_download_finishes(telegram_dc, api, app_root):
    channel_id, user_id, ids = await _channel(telegram_dc, api, 4, {'a report': {'media': 'document',
                                                                                'media_size': 700_000}})
    first = (await app_root.repos.posts.get(channel_id=channel_id, message_id=ids['a report'])).media_file
    telegram_dc.expire_file_references(channel_id)
    telegram_dc.reset_stats()
    answer = await api.get(f'/api/mtproto/channels/{channel_id}/posts/{ids["a report"]}/media')
    assert answer.status_code == 200 and answer.content == telegram_dc.file_content(channel_id, ids['a report'])
    calls = telegram_dc.stats()['users'][str(user_id)]
    assert calls['channels.getMessages']['calls'] == 1  # the message read again for a fresh reference
    assert calls['upload.getFile']['calls'] == 3  # the refused part, then both parts
    renewed = (await app_root.repos.posts.get(channel_id=channel_id, message_id=ids['a report'])).media_file
    assert renewed.file_reference != first.file_reference and renewed.id == first.id  # kept for the next time

    other = telegram_dc.post_message(channel_id, 'another report', media='document', media_size=9_000)
    await api.post(f'/api/mtproto/channels/{channel_id}/sync')
    await until(lambda: app_root.repos.posts.get(channel_id=channel_id, message_id=other))
    telegram_dc.add_fault('upload.getFile', 'LOCATION_INVALID')  # Telegram refuses this file
    refused = await api.get(f'/api/mtproto/channels/{channel_id}/posts/{other}/media')
    assert (refused.status_code, refused.json()['error']['code']) == (502, 'TELEGRAM_REFUSED_FILE')
    assert 'LocationInvalidError' in refused.json()['error']['message']


@pytest.mark.dc_limits('realistic', **{'upload.getFile': {'rate': 0.001, 'burst': 3, 'wait': 1}})
async def test_a_stopped_download_goes_on_from_its_last_stored_part(telegram_dc, api, app_root):
    channel_id, user_id, ids = await _channel(telegram_dc, api, 5, {'a long clip': {'media': 'video',
                                                                                    'media_size': 3 * MIB}})
    path = f'/api/mtproto/channels/{channel_id}/posts/{ids["a long clip"]}/media'
    stopped = await api.get(path)  # Telegram stops it after 3 parts of 6
    assert (stopped.status_code, stopped.json()['error']['code']) == (429, 'FLOOD_WAIT')
    assert await app_root.repos.media.chunks.count_documents({}) == 3
    telegram_dc.set_limits('off')
    telegram_dc.reset_stats()

    # another process (a service with nothing in memory) finishes it from the parts in the database
    channel = await app_root.repos.channels.get(channel_id)
    post = await app_root.repos.posts.get(channel_id=channel_id, message_id=ids['a long clip'])
    fresh = MediaService(repos=app_root.repos, channels=app_root.channels)
    kept = await until(lambda: _keep(fresh, channel, post))
    assert _file_calls(telegram_dc, user_id) == 3  # only the parts not stored yet
    answer = await api.get(path)
    assert answer.status_code == 200 and answer.content == telegram_dc.file_content(channel_id, ids['a long clip'])
    assert kept.sha256 == hashlib.sha256(answer.content).hexdigest()
    assert await app_root.repos.media.downloads.count_documents({}) == 0


async def _keep(service, channel, post):
    try:
        return await service.keep(channel, post)
    except Exception as error:  # the account's stored FLOOD_WAIT of a second: try again after it
        if getattr(error, 'code', None) != 'FLOOD_WAIT':
            raise
        return None


@pytest.mark.dc_limits('realistic')
async def test_a_download_policy_keeps_the_newest_files_within_quota_and_new_ones_as_they_arrive(
        telegram_dc, api, app_root):
    channel_id, user_id, ids = await _channel(telegram_dc, api, 6, {
        'oldest photo': {'media': 'photo'},
        'a report': {'media': 'document', 'media_size': 10_000},  # not a type the policy keeps
        'a big clip': {'media': 'video', 'media_size': 3 * MIB},  # larger than the policy's largest file
        'older photo': {'media': 'photo'},
        'a short clip': {'media': 'video', 'media_size': 300_000},
        'newest photo': {'media': 'photo'},
    })
    size = {name: len(telegram_dc.file_content(channel_id, ids[name])) for name in ids}
    policy = {'enabled': True, 'types': ['photo', 'video'], 'max_file_bytes': MIB,
              'quota_bytes': size['newest photo'] + size['a short clip'] + size['older photo'] + 1_000}
    path = f'/api/mtproto/channels/{channel_id}/media-policy'
    assert (await api.get(path)).json()['enabled'] is False
    answer = await api.put(path, json=policy)
    assert answer.status_code == 200 and answer.json()['types'] == ['photo', 'video']

    async def finished(files: int):
        body = (await api.get(path)).json()
        job = body['job'] or {}
        return body if job.get('status') == 'done' and job.get('files_done') == files else None
    body = await until(lambda: finished(3))
    assert body['job']['quota_full'] and body['job']['bytes_done'] == body['job']['bytes_total']
    kept = await app_root.repos.media.kept_ids(channel_id)
    assert kept == {ids['newest photo'], ids['a short clip'], ids['older photo']}  # newest first, within the quota

    policy['quota_bytes'] = 10 * MIB  # more room: the oldest photo too, and a photo posted from now on
    await api.put(path, json=policy)
    await until(lambda: finished(1))
    fresh = telegram_dc.post_message(channel_id, 'a photo posted later', media='photo')
    await api.post(f'/api/mtproto/channels/{channel_id}/sync')

    async def kept_fresh():
        return fresh in await app_root.repos.media.kept_ids(channel_id)
    await until(kept_fresh)
    assert await app_root.repos.media.kept_ids(channel_id) == {
        ids['newest photo'], ids['a short clip'], ids['older photo'], ids['oldest photo'], fresh}
    assert telegram_dc.stats()['flood_waits'] == []  # paced under Telegram's limit for files
    storage = (await api.get(f'/api/mtproto/channels/{channel_id}/storage')).json()
    assert storage['by_type']['photo']['count'] == 4 and storage['by_type']['video']['count'] == 1

    bad = await api.put(path, json={**policy, 'types': ['poll']})
    assert (bad.status_code, bad.json()['error']['code']) == (400, 'BAD_REQUEST')
