"""Files with the real Telethon client: upload.getFile's part rules, real bytes, expiring references, limits."""

from __future__ import annotations

import uuid

import pytest
from telethon import errors, functions, types

from tests.telegram_dc.files import MIB


@pytest.fixture
async def reader(telegram_dc):
    client = await telegram_dc.signed_in_client('Downloader')
    yield client
    await client.disconnect()


def _channel(telegram_dc):
    info = telegram_dc.create_channel('Files', username=f'files_{uuid.uuid4().hex[:10]}')
    channel_id = info['channel_id']
    video = telegram_dc.post_message(channel_id, 'a clip', media='video', media_size=2 * MIB + 12_345)
    photo = telegram_dc.post_message(channel_id, 'a picture', media='photo')
    return info, channel_id, video, photo


async def _message(reader, username, message_id):
    return (await reader.get_messages(username, ids=[message_id]))[0]


async def test_a_download_in_parts_gives_the_file_s_bytes_and_telethon_downloads_it_too(telegram_dc, reader):
    info, channel_id, video, photo = _channel(telegram_dc)
    message = await _message(reader, info['username'], video)
    document = message.document
    location = types.InputDocumentFileLocation(document.id, document.access_hash, document.file_reference, '')
    parts = []
    for offset in range(0, document.size, 512 * 1024):
        answer = await reader(functions.upload.GetFileRequest(location, offset=offset, limit=512 * 1024))
        parts.append(answer.bytes)
    expected = telegram_dc.file_content(channel_id, video)
    assert b''.join(parts) == expected and len(expected) == document.size == 2 * MIB + 12_345
    assert len(parts[-1]) == 12_345  # the last part is what is left
    assert await reader.download_media(message, file=bytes) == expected

    picture = await _message(reader, info['username'], photo)
    jpeg = await reader.download_media(picture, file=bytes)
    assert jpeg == telegram_dc.file_content(channel_id, photo) and jpeg[:2] == b'\xff\xd8' and jpeg[-2:] == b'\xff\xd9'
    assert any(isinstance(size, types.PhotoStrippedSize) for size in picture.photo.sizes)  # the inline thumbnail
    assert isinstance(message.document.thumbs[0], types.PhotoStrippedSize)
    again = telegram_dc.post_message(channel_id, 'the same clip again', media=telegram_dc.media_of(channel_id, video))
    assert (await _message(reader, info['username'], again)).document.id == document.id


@pytest.mark.parametrize(('offset', 'limit', 'error'), [
    (1000, 4096, errors.OffsetInvalidError),  # not a multiple of 4 KiB
    (0, 5000, errors.LimitInvalidError),  # not a multiple of 4 KiB
    (0, 3 * 4096, errors.LimitInvalidError),  # does not divide 1 MiB
    (MIB - 4096, 8192, errors.LimitInvalidError),  # crosses a 1 MiB boundary
])
async def test_parts_break_telegram_s_rules_are_refused(telegram_dc, reader, offset, limit, error):
    info, _, video, _ = _channel(telegram_dc)
    document = (await _message(reader, info['username'], video)).document
    location = types.InputDocumentFileLocation(document.id, document.access_hash, document.file_reference, '')
    with pytest.raises(error):
        await reader(functions.upload.GetFileRequest(location, offset=offset, limit=limit))


async def test_an_expired_reference_is_refused_and_reading_the_message_again_renews_it(telegram_dc, reader):
    info, channel_id, video, _ = _channel(telegram_dc)
    document = (await _message(reader, info['username'], video)).document
    old = types.InputDocumentFileLocation(document.id, document.access_hash, document.file_reference, '')
    assert telegram_dc.expire_file_references(channel_id, [video]) == 1
    with pytest.raises(errors.FileReferenceExpiredError):
        await reader(functions.upload.GetFileRequest(old, offset=0, limit=4096))
    fresh = (await _message(reader, info['username'], video)).document
    assert fresh.file_reference != document.file_reference
    location = types.InputDocumentFileLocation(fresh.id, fresh.access_hash, fresh.file_reference, '')
    answer = await reader(functions.upload.GetFileRequest(location, offset=0, limit=4096))
    assert answer.bytes == telegram_dc.file_content(channel_id, video)[:4096]


@pytest.mark.dc_limits('realistic', **{'upload.getFile': {'rate': 1.0, 'burst': 3, 'wait': 7}})
async def test_downloading_past_the_limit_answers_flood_wait(telegram_dc, reader):
    info, _, video, _ = _channel(telegram_dc)
    document = (await _message(reader, info['username'], video)).document
    location = types.InputDocumentFileLocation(document.id, document.access_hash, document.file_reference, '')
    reader.flood_sleep_threshold = 0
    for offset in range(3):
        await reader(functions.upload.GetFileRequest(location, offset=offset * 4096, limit=4096))
    with pytest.raises(errors.FloodWaitError) as raised:
        await reader(functions.upload.GetFileRequest(location, offset=3 * 4096, limit=4096))
    assert raised.value.seconds == 7
