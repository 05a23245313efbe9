"""Live channel updates reach a connected member through Telethon's event handlers, and missed ones are caught up."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from telethon import errors, events, functions, types


class Inbox:
    """Collects events from a client's handlers and lets a test wait for them."""

    def __init__(self) -> None:
        self.items: list = []
        self._changed = asyncio.Event()

    async def add(self, item) -> None:
        self.items.append(item)
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = 10) -> list:
        async def enough() -> None:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.items


@pytest.fixture
async def member(telegram_dc):
    client = await telegram_dc.signed_in_client('Subscriber')
    name = f'live_{uuid.uuid4().hex[:10]}'
    info = telegram_dc.create_channel('Live', username=name, posts=10, seed=5)
    await client(functions.channels.JoinChannelRequest(name))
    client.channel_info = info
    client.inboxes = {'new': Inbox(), 'edit': Inbox(), 'delete': Inbox()}
    client.add_event_handler(client.inboxes['new'].add, events.NewMessage())
    client.add_event_handler(client.inboxes['edit'].add, events.MessageEdited())
    client.add_event_handler(client.inboxes['delete'].add, events.MessageDeleted())
    yield client
    await client.disconnect()


async def test_new_edited_and_deleted_posts_arrive_live(telegram_dc, member):
    channel_id = member.channel_info['channel_id']
    message_id = await asyncio.to_thread(telegram_dc.post_message, channel_id, 'Breaking: https://example.com #live')
    new = (await member.inboxes['new'].wait_for(1))[0]
    assert new.message.id == message_id == 11
    assert new.chat_id == -1000000000000 - channel_id
    assert new.message.text == 'Breaking: https://example.com #live'
    assert [type(e).__name__ for e in new.message.entities] == ['MessageEntityUrl', 'MessageEntityHashtag']

    await asyncio.to_thread(telegram_dc.edit_message, channel_id, message_id, 'Breaking (updated)')
    edited = (await member.inboxes['edit'].wait_for(1))[0]
    assert edited.message.id == message_id and edited.message.text == 'Breaking (updated)'
    assert edited.message.edit_date is not None

    await asyncio.to_thread(telegram_dc.delete_messages, channel_id, [3, message_id])
    deleted = (await member.inboxes['delete'].wait_for(1))[0]
    assert sorted(deleted.deleted_ids) == [3, message_id]
    assert deleted.chat_id == -1000000000000 - channel_id


async def test_only_members_get_updates(telegram_dc, member):
    outsider = telegram_dc.make_client()
    phone = telegram_dc.new_phone(1)
    telegram_dc.create_user(phone, 'Outsider')
    await telegram_dc.login(outsider, phone)
    seen = Inbox()
    outsider.add_event_handler(seen.add, events.NewMessage())
    try:
        await asyncio.to_thread(telegram_dc.post_message, member.channel_info['channel_id'], 'members only')
        await member.inboxes['new'].wait_for(1)
        await asyncio.sleep(0.3)
        assert seen.items == []
    finally:
        await outsider.disconnect()


async def test_reconnected_client_catches_up_on_missed_posts(telegram_dc, member):
    channel_id = member.channel_info['channel_id']
    await asyncio.to_thread(telegram_dc.post_message, channel_id, 'seen live')
    await member.inboxes['new'].wait_for(1)

    await member.disconnect()
    missed = [await asyncio.to_thread(telegram_dc.post_message, channel_id, f'missed {n}') for n in range(3)]
    await member.connect()
    await member.catch_up()
    arrived = await member.inboxes['new'].wait_for(4)
    assert [e.message.id for e in arrived[1:]] == missed
    assert [e.message.text for e in arrived[1:]] == ['missed 0', 'missed 1', 'missed 2']


async def test_a_gap_in_live_updates_is_filled_from_the_channel_difference(telegram_dc, member):
    channel_id = member.channel_info['channel_id']
    await asyncio.to_thread(telegram_dc.post_message, channel_id, 'first')
    await member.inboxes['new'].wait_for(1)

    await member.disconnect()
    gap = [await asyncio.to_thread(telegram_dc.post_message, channel_id, f'while away {n}') for n in range(2)]
    await member.connect()
    await member(functions.updates.GetStateRequest())
    after = await asyncio.to_thread(telegram_dc.post_message, channel_id, 'after the gap')
    arrived = await member.inboxes['new'].wait_for(4)
    assert sorted(e.message.id for e in arrived[1:]) == [*gap, after]


async def test_channel_difference_answers(telegram_dc, member):
    channel_id = member.channel_info['channel_id']
    channel = await member.get_input_entity(channel_id)
    empty = await member(functions.updates.GetChannelDifferenceRequest(channel, types.ChannelMessagesFilterEmpty(),
                                                                       11, 100))
    assert isinstance(empty, types.updates.ChannelDifferenceEmpty) and empty.pts == 11 and empty.final
    first = await asyncio.to_thread(telegram_dc.post_message, channel_id, 'one')
    await asyncio.to_thread(telegram_dc.edit_message, channel_id, 2, 'old post edited')
    await asyncio.to_thread(telegram_dc.delete_messages, channel_id, [4, 5])
    diff = await member(functions.updates.GetChannelDifferenceRequest(channel, types.ChannelMessagesFilterEmpty(),
                                                                      11, 100))
    assert isinstance(diff, types.updates.ChannelDifference) and diff.final and diff.pts == 15
    assert [m.id for m in diff.new_messages] == [first]
    edit, delete = diff.other_updates
    assert (edit.message.id, edit.message.message, edit.pts) == (2, 'old post edited', 13)
    assert (delete.messages, delete.pts, delete.pts_count) == ([4, 5], 15, 2)
    sliced = await member(functions.updates.GetChannelDifferenceRequest(channel, types.ChannelMessagesFilterEmpty(),
                                                                        11, 1))
    assert not sliced.final and sliced.pts == 12
    too_long = await member(functions.updates.GetChannelDifferenceRequest(
        channel, types.ChannelMessagesFilterEmpty(), 3, 100))
    assert isinstance(too_long, types.updates.ChannelDifferenceTooLong) and too_long.dialog.pts == 15
    with pytest.raises(errors.PersistentTimestampInvalidError):
        await member(functions.updates.GetChannelDifferenceRequest(channel, types.ChannelMessagesFilterEmpty(),
                                                                   99, 100))


async def test_dialogs_give_telethon_the_pts_to_catch_up_from(telegram_dc, member):
    channel_id = member.channel_info['channel_id']
    dialogs = await member.get_dialogs()
    assert [d.dialog.pts for d in dialogs if d.entity.id == channel_id] == [11]
    await member.disconnect()
    missed = await asyncio.to_thread(telegram_dc.post_message, channel_id, 'posted while nobody listened')
    await member.connect()
    await member.catch_up()
    arrived = await member.inboxes['new'].wait_for(1)
    assert [e.message.id for e in arrived] == [missed]
