"""Reading history with the real Telethon client: paging both ways, offsets, ids, views and search."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from telethon import functions, types

POSTS = 2_500
DELETED = [7, 100, 101, 102, 1_999, 2_500]


@pytest.fixture(scope='module')
def channel(telegram_dc):
    name = f'history_{uuid.uuid4().hex[:10]}'
    info = telegram_dc.create_channel('History', username=name, posts=POSTS, seed=42)
    telegram_dc.delete_messages(info['channel_id'], DELETED)
    stored = telegram_dc.dc.call(telegram_dc.world.channel_messages, info['channel_id'])
    return {**info, 'username': name, 'stored': stored}


@pytest.fixture
async def reader(telegram_dc):
    client = await telegram_dc.signed_in_client('Historian')
    yield client
    await client.disconnect()


async def test_full_pass_matches_the_channel_both_ways(channel, reader):
    stored = channel['stored']
    newest_first = [m async for m in reader.iter_messages(channel['username'], wait_time=0)]
    assert [m.id for m in newest_first] == [m.id for m in reversed(stored)]
    assert [bytes(m) for m in newest_first] == [bytes(m) for m in reversed(stored)]
    oldest_first = [m.id async for m in reader.iter_messages(channel['username'], reverse=True, wait_time=0)]
    assert oldest_first == [m.id for m in stored]
    assert not set(DELETED) & set(oldest_first)


async def test_content_reaches_the_client_intact(channel, reader):
    messages = [m async for m in reader.iter_messages(channel['username'], wait_time=0)]
    assert any(m.photo for m in messages) and any(m.video for m in messages) and any(m.audio for m in messages)
    assert any(m.file and m.file.name and m.file.name.endswith('.pdf') for m in messages)
    assert any(m.grouped_id for m in messages) and any(m.fwd_from for m in messages)
    assert any(m.reactions and m.reactions.results for m in messages)
    assert any(m.replies and m.replies.replies for m in messages)
    assert any(m.post_author for m in messages) and any(m.edit_date for m in messages)
    assert any(m.pinned for m in messages) and all(m.views is not None for m in messages)
    for m in messages:
        for entity, text in m.get_entities_text():
            if isinstance(entity, types.MessageEntityHashtag):
                assert text.startswith('#')
            elif isinstance(entity, types.MessageEntityMention):
                assert text.startswith('@')
            elif isinstance(entity, types.MessageEntityUrl):
                assert text.startswith('https://')


async def test_offset_date_min_id_and_max_id(channel, reader):
    stored = channel['stored']
    middle = stored[len(stored) // 2]
    date = middle.date + timedelta(seconds=1)
    older = [m.id async for m in reader.iter_messages(channel['username'], offset_date=date, limit=250)]
    expected = [m.id for m in reversed(stored) if m.date < date][:250]
    assert older == expected
    newer = [m.id async for m in reader.iter_messages(channel['username'], offset_date=date, reverse=True,
                                                     limit=250)]
    assert newer == [m.id for m in stored if m.date >= date][:250]

    ids = [m.id for m in stored if 90 < m.id < 420]
    between = [m.id async for m in reader.iter_messages(channel['username'], min_id=90, max_id=420, wait_time=0)]
    assert between == ids[::-1]
    between_up = [m.id async for m in reader.iter_messages(channel['username'], min_id=90, max_id=420,
                                                          reverse=True, wait_time=0)]
    assert between_up == ids


async def test_raw_history_paging_rules(channel, reader):
    peer = await reader.get_input_entity(channel['username'])
    page = await reader(functions.messages.GetHistoryRequest(peer, 0, None, 0, 500, 0, 0, 0))
    assert isinstance(page, types.messages.ChannelMessages)
    assert len(page.messages) == 100 and page.count == POSTS - len(DELETED)
    assert page.chats[0].id == channel['channel_id']
    shifted = await reader(functions.messages.GetHistoryRequest(peer, 200, None, 5, 3, 0, 0, 0))
    assert [m.id for m in shifted.messages] == [194, 193, 192]
    towards_newer = await reader(functions.messages.GetHistoryRequest(peer, 99, None, -3, 3, 0, 0, 0))
    assert [m.id for m in towards_newer.messages] == [104, 103, 99]


async def test_messages_by_id_and_their_views(channel, reader, telegram_dc):
    got = await reader.get_messages(channel['username'], ids=[1, 7, 50, 100_000])
    assert got[0].id == 1 and got[1] is None and got[2].id == 50 and got[3] is None
    telegram_dc.set_views(channel['channel_id'], 50, 777_777)
    peer = await reader.get_input_entity(channel['username'])
    views = await reader(functions.messages.GetMessagesViewsRequest(peer, [50, 7], False))
    assert views.views[0].views == 777_777 and views.views[0].forwards is not None
    assert views.views[1].views is None
    assert (await reader.get_messages(channel['username'], ids=50)).views == 777_777


async def test_search_is_case_insensitive(channel, reader):
    stored = channel['stored']
    word = 'Market'
    expected = [m.id for m in reversed(stored) if word.lower() in (m.message or '').lower()]
    assert len(expected) > 100
    found = [m.id async for m in reader.iter_messages(channel['username'], search=word, wait_time=0)]
    assert found == expected
    first = await reader.get_messages(channel['username'], search='MARKET', limit=5)
    assert [m.id for m in first] == expected[:5] and first.total == len(expected)
    assert await reader.get_messages(channel['username'], search='no-such-words-here', limit=5) == []


async def test_posted_messages_carry_every_field(telegram_dc, reader):
    name = f'fields_{uuid.uuid4().hex[:10]}'
    info = telegram_dc.create_channel('Fields', username=name)
    album = [telegram_dc.post_message(info['channel_id'], 'Album' if n == 0 else '', media='photo', grouped_id=77)
             for n in range(3)]
    video = telegram_dc.post_message(info['channel_id'], 'Clip', media='video', views=1500, forwards=12, replies=4,
                                     reactions={'👍': 10, '🔥': 3}, fwd_from='Wire Service', post_author='Ann',
                                     pinned=True)
    messages = {m.id: m for m in await reader.get_messages(name, limit=10)}
    assert [messages[i].grouped_id for i in album] == [77, 77, 77] and album == [1, 2, 3]
    assert all(messages[i].photo for i in album)
    clip = messages[video]
    assert clip.video and clip.file.mime_type == 'video/mp4' and clip.file.duration and clip.file.name
    assert (clip.views, clip.forwards, clip.replies.replies, clip.post_author, clip.pinned) == (1500, 12, 4, 'Ann',
                                                                                                True)
    assert [(r.reaction.emoticon, r.count) for r in clip.reactions.results] == [('👍', 10), ('🔥', 3)]
    assert clip.fwd_from.from_name == 'Wire Service'
