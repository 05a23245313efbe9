"""Finding, inspecting and joining channels with the real Telethon client, with Telegram's errors."""

from __future__ import annotations

import uuid

import pytest
from telethon import errors, functions, types, utils


def unique(prefix: str) -> str:
    return f'{prefix}_{uuid.uuid4().hex[:10]}'


@pytest.fixture
async def user(telegram_dc):
    client = await telegram_dc.signed_in_client('Reader')
    yield client
    await client.disconnect()


@pytest.fixture
async def second_user(telegram_dc):
    client = await telegram_dc.signed_in_client('Other reader')
    yield client
    await client.disconnect()


async def test_public_channel_resolves_with_its_full_info(telegram_dc, user):
    group = telegram_dc.create_channel('Discussion', username=unique('talk'), megagroup=True)
    name = unique('news')
    info = telegram_dc.create_channel('News Today', username=name, posts=30, seed=1, about='All the news.',
                                      participants=1234, linked_chat_id=group['channel_id'])
    channel = await user.get_entity(f'https://t.me/{name}')
    assert isinstance(channel, types.Channel)
    assert (channel.id, channel.title, channel.username, channel.broadcast) == (info['channel_id'], 'News Today',
                                                                                name, True)
    assert channel.left
    full = await user(functions.channels.GetFullChannelRequest(channel))
    assert full.full_chat.about == 'All the news.'
    assert full.full_chat.participants_count == 1234
    assert full.full_chat.linked_chat_id == group['channel_id']
    assert isinstance(full.full_chat.chat_photo, types.Photo)
    assert full.full_chat.pts == 31
    assert {c.id for c in full.chats} == {info['channel_id'], group['channel_id']}
    chats = await user(functions.channels.GetChannelsRequest([channel]))
    assert chats.chats[0].title == 'News Today'


async def test_usernames_that_do_not_resolve(user):
    with pytest.raises(errors.UsernameNotOccupiedError):
        await user(functions.contacts.ResolveUsernameRequest(unique('nobody')))
    for bad in ('ab', 'has space', '1starts_with_digit', 'ends_with_'):
        with pytest.raises(errors.UsernameInvalidError):
            await user(functions.contacts.ResolveUsernameRequest(bad))


async def test_users_and_groups_resolve_as_what_they_are(telegram_dc, user):
    person = unique('person')
    telegram_dc.create_user(telegram_dc.new_phone(1), 'Somebody', username=person)
    resolved = await user.get_entity(person)
    assert isinstance(resolved, types.User) and resolved.first_name == 'Somebody'
    supergroup = unique('chatroom')
    telegram_dc.create_channel('Chat room', username=supergroup, megagroup=True)
    resolved = await user.get_entity(supergroup)
    assert isinstance(resolved, types.Channel) and resolved.megagroup and not resolved.broadcast
    basic = telegram_dc.dc.call(telegram_dc.world.create_group, 'Family')
    invite = await user(functions.messages.CheckChatInviteRequest(basic['invite_hash']))
    assert isinstance(invite, types.ChatInvite) and not invite.channel and invite.title == 'Family'


async def test_access_hashes_belong_to_each_user(telegram_dc, user, second_user):
    name = unique('hashes')
    telegram_dc.create_channel('Hashes', username=name, posts=3)
    mine = await user.get_input_entity(name)
    theirs = await second_user.get_input_entity(name)
    assert mine.channel_id == theirs.channel_id and mine.access_hash != theirs.access_hash
    with pytest.raises(errors.ChannelInvalidError):
        await user(functions.channels.GetFullChannelRequest(types.InputChannel(theirs.channel_id,
                                                                               theirs.access_hash)))
    with pytest.raises(errors.ChannelInvalidError):
        await user(functions.messages.GetHistoryRequest(types.InputPeerChannel(mine.channel_id, 1), 0, None, 0, 10,
                                                        0, 0, 0))


async def test_private_channel_through_its_invite_link(telegram_dc, user):
    info = telegram_dc.create_channel('Inner Circle', private=True, posts=5, about='Members only.',
                                      participants=40)
    preview = await user(functions.messages.CheckChatInviteRequest(info['invite_hash']))
    assert isinstance(preview, types.ChatInvite)
    assert (preview.title, preview.participants_count, preview.channel, preview.public) == (
        'Inner Circle', 40, True, False)
    joined = await user(functions.messages.ImportChatInviteRequest(info['invite_hash']))
    channel = joined.chats[0]
    assert channel.id == info['channel_id'] and not channel.left
    already = await user(functions.messages.CheckChatInviteRequest(info['invite_hash']))
    assert isinstance(already, types.ChatInviteAlready) and already.chat.id == info['channel_id']
    with pytest.raises(errors.UserAlreadyParticipantError):
        await user(functions.messages.ImportChatInviteRequest(info['invite_hash']))
    assert len(await user.get_messages(channel, limit=10)) == 5

    await user(functions.channels.LeaveChannelRequest(channel))
    with pytest.raises(errors.ChannelPrivateError):
        await user.get_messages(channel, limit=1)
    with pytest.raises(errors.ChannelPrivateError):
        await user(functions.channels.JoinChannelRequest(channel))


async def test_bad_and_revoked_invite_links(telegram_dc, user):
    with pytest.raises(errors.InviteHashInvalidError):
        await user(functions.messages.CheckChatInviteRequest('no-such-invite'))
    info = telegram_dc.create_channel('Rotating', private=True)
    fresh = telegram_dc.dc.call(telegram_dc.world.expire_invite, info['channel_id'])
    with pytest.raises(errors.InviteHashExpiredError):
        await user(functions.messages.CheckChatInviteRequest(info['invite_hash']))
    with pytest.raises(errors.InviteHashExpiredError):
        await user(functions.messages.ImportChatInviteRequest(info['invite_hash']))
    assert isinstance(await user(functions.messages.CheckChatInviteRequest(fresh)), types.ChatInvite)


async def test_join_and_leave_a_public_channel(telegram_dc, user):
    name = unique('joinme')
    info = telegram_dc.create_channel('Join me', username=name, posts=4)
    channel = await user.get_entity(name)
    result = await user(functions.channels.JoinChannelRequest(channel))
    assert result.chats[0].id == info['channel_id'] and not result.chats[0].left
    dialogs = await user.get_dialogs()
    mine = [d for d in dialogs if d.id == -1000000000000 - info['channel_id']]
    assert mine and mine[0].message.id == 4 and mine[0].dialog.pts == 5
    await user(functions.channels.LeaveChannelRequest(channel))
    with pytest.raises(errors.UserNotParticipantError):
        await user(functions.channels.LeaveChannelRequest(channel))
    assert all(d.id != mine[0].id for d in await user.get_dialogs())


async def test_channel_photos_carry_a_stripped_thumbnail(telegram_dc, user):
    name = unique('avatar')
    telegram_dc.create_channel('With avatar', username=name)
    channel = await user.get_entity(name)
    jpeg = utils.stripped_photo_to_jpg(channel.photo.stripped_thumb)
    assert jpeg.startswith(b'\xff\xd8') and jpeg.endswith(b'\xff\xd9')
    assert channel.photo.stripped_thumb[1:3] == bytes((32, 32))  # height and width
    full = await user(functions.channels.GetFullChannelRequest(channel))
    assert any(isinstance(size, types.PhotoStrippedSize) for size in full.full_chat.chat_photo.sizes)


async def test_chat_folders_list_their_channels_with_this_users_access_hashes(telegram_dc, user, second_user):
    me = await user.get_me()
    first = telegram_dc.create_channel('Folder one', username=unique('fone'))
    second = telegram_dc.create_channel('Folder two', private=True)
    folder_id = telegram_dc.create_folder(me.id, 'Регион', [first['channel_id'], second['channel_id']], emoticon='📰')
    answer = await user(functions.messages.GetDialogFiltersRequest())
    default, folder = answer.filters
    assert isinstance(default, types.DialogFilterDefault)
    assert (folder.id, folder.title.text, folder.emoticon) == (folder_id, 'Регион', '📰') and folder_id >= 2
    peers = folder.include_peers
    assert [p.channel_id for p in peers] == [first['channel_id'], second['channel_id']]
    chats = await user(functions.channels.GetChannelsRequest(
        [types.InputChannel(p.channel_id, p.access_hash) for p in peers]))  # the hashes are this user's
    assert sorted(c.title for c in chats.chats) == ['Folder one', 'Folder two']
    assert (await second_user(functions.messages.GetDialogFiltersRequest())).filters[1:] == []

    await user(functions.channels.LeaveChannelRequest(types.InputChannel(peers[0].channel_id, peers[0].access_hash)))
    left = (await user(functions.messages.GetDialogFiltersRequest())).filters[1]
    assert [p.channel_id for p in left.include_peers] == [second['channel_id']]  # a chat one left is not in it
