"""ChannelService against the test DC: every reference form, every bad one, invite preview and join."""
import uuid

import pytest

from app.mtproto.channels import ChannelError, ChannelService
from tests.support import unpaced


def _name(prefix: str) -> str:
    return f'{prefix}_{uuid.uuid4().hex[:8]}'


@pytest.fixture
async def reader(telegram_dc):
    phone = telegram_dc.new_phone(3)
    user_id = telegram_dc.create_user(phone, 'Reader')
    client = telegram_dc.make_client()
    await telegram_dc.login(client, phone)
    client.test_user_id = user_id
    yield client
    await client.disconnect()


async def test_every_reference_form_resolves_to_one_channel(telegram_dc, repos, reader):
    username = _name('pub')
    info = telegram_dc.create_channel('Public One', username=username, posts=5, about='About one')
    telegram_dc.add_member(info['channel_id'], reader.test_user_id)
    service = ChannelService(repos=repos, limiter=unpaced())
    refs = [f'@{username}', username, f'https://t.me/{username}', f't.me/{username}/3', f't.me/s/{username}',
            f'https://telegram.me/{username}', f'tg://resolve?domain={username}',
            f'https://t.me/+{info["invite_hash"]}', f't.me/joinchat/{info["invite_hash"]}',
            f'https://t.me/c/{info["channel_id"]}/2', f'-100{info["channel_id"]}']
    created = []
    for ref in refs:
        result = await service.add_with_client(reader, 'acc1', ref)
        assert result.channel is not None, ref
        assert result.channel.id == info['channel_id'], ref
        created.append(result.created)
    assert created == [True] + [False] * (len(refs) - 1)  # adding twice never duplicates
    channels = await repos.channels.list()
    assert len(channels) == 1
    channel = channels[0]
    assert (channel.title, channel.username, channel.about) == ('Public One', username, 'About one')
    assert channel.participants_count and channel.access_hashes.get('acc1')
    assert 'acc1' in channel.joined_by
    series = await repos.metrics.series(channel_id=channel.id)
    assert series and series[-1].values['subscribers'] == channel.participants_count


@pytest.mark.parametrize(('ref', 'status', 'code'), [
    ('not a ref', 400, 'BAD_REFERENCE'),
    ('https://example.com/x', 400, 'BAD_REFERENCE'),
    ('@no_such_channel_zz', 404, 'CHANNEL_NOT_FOUND'),
    ('https://t.me/+AAAAAAAAAAAAAAAA', 404, 'INVITE_INVALID'),
    ('https://t.me/c/987654/1', 403, 'CHANNEL_PRIVATE'),
])
async def test_bad_references_say_why(repos, reader, ref, status, code):
    with pytest.raises(ChannelError) as info:
        await ChannelService(repos=repos, limiter=unpaced()).add_with_client(reader, 'acc1', ref)
    assert (info.value.status, info.value.code) == (status, code)
    assert info.value.message
    assert await repos.channels.list() == []


async def test_users_and_groups_are_not_channels(telegram_dc, repos, reader):
    person = _name('person')
    telegram_dc.create_user(telegram_dc.new_phone(4), 'Someone', username=person)
    group = _name('grp')
    telegram_dc.create_channel('A Group', username=group, megagroup=True)
    service = ChannelService(repos=repos, limiter=unpaced())
    for ref, word in ((f'@{person}', 'user'), (f't.me/{group}', 'group')):
        with pytest.raises(ChannelError) as info:
            await service.add_with_client(reader, 'acc1', ref)
        assert info.value.status == 400 and word in info.value.message


async def test_private_channel_by_id_without_membership_is_forbidden(telegram_dc, repos, reader):
    info = telegram_dc.create_channel('Secret', private=True, posts=3)
    with pytest.raises(ChannelError) as error:
        service = ChannelService(repos=repos, limiter=unpaced())
        await service.add_with_client(reader, 'acc1', f'-100{info["channel_id"]}')
    assert error.value.status == 403


async def test_invite_preview_then_join(telegram_dc, repos, reader):
    info = telegram_dc.create_channel('Invite Only', private=True, posts=7, about='Members only')
    service = ChannelService(repos=repos, limiter=unpaced())
    added = []
    service.on_added.append(lambda channel: _record(added, channel))
    preview = await service.add_with_client(reader, 'acc1', f'https://t.me/+{info["invite_hash"]}')
    assert preview.needs_join and preview.preview.title == 'Invite Only'
    assert preview.preview.participants_count is not None
    assert await repos.channels.list() == [] and added == []
    joined = await service.add_with_client(reader, 'acc1', f'https://t.me/+{info["invite_hash"]}', join=True)
    assert joined.created and joined.channel.title == 'Invite Only' and joined.channel.joined_by == ['acc1']
    assert added == [info['channel_id']]
    # once joined, the invite and the t.me/c/ link both give the same channel
    again = await service.add_with_client(reader, 'acc1', f't.me/joinchat/{info["invite_hash"]}')
    by_id = await service.add_with_client(reader, 'acc1', f'https://t.me/c/{info["channel_id"]}/1')
    assert not again.created and not by_id.created and again.channel.id == by_id.channel.id == info['channel_id']


async def _record(items, channel):
    items.append(channel.id)


async def test_a_stored_channel_is_never_resolved_again(telegram_dc, repos, reader):
    username = _name('cached')
    info = telegram_dc.create_channel('Cached', username=username, posts=3)
    private = telegram_dc.create_channel('Cached Private', private=True, posts=3)
    service = ChannelService(repos=repos, limiter=unpaced())
    assert (await service.add_with_client(reader, 'acc1', f'@{username}')).created
    invite = f'https://t.me/+{private["invite_hash"]}'
    assert (await service.add_with_client(reader, 'acc1', invite, join=True)).created
    telegram_dc.reset_stats()
    for ref in (f'@{username}', f'https://t.me/{username}', username.upper(), f'-100{info["channel_id"]}',
                invite, f't.me/joinchat/{private["invite_hash"]}'):
        again = await service.add_with_client(reader, 'acc1', ref)
        assert not again.created and again.channel.id in (info['channel_id'], private['channel_id']), ref
    calls = telegram_dc.stats()['users'].get(str(reader.test_user_id), {})
    assert not {'contacts.resolveUsername', 'messages.checkChatInvite', 'messages.importChatInvite'} & set(calls)


async def test_an_account_in_500_channels_is_not_sent_to_join_another(telegram_dc, repos, reader):
    info = telegram_dc.create_channel('One Too Many', private=True, posts=3)
    # the account already reads 500 channels through Parsegram
    await repos.channels.collection.insert_many([{'_id': 10_000_000 + i, 'title': f'Joined {i}', 'joined_by': ['full']}
                                                 for i in range(500)])
    service = ChannelService(repos=repos, limiter=unpaced())
    telegram_dc.reset_stats()
    with pytest.raises(ChannelError) as error:
        await service.add_with_client(reader, 'full', f'https://t.me/+{info["invite_hash"]}', join=True)
    assert (error.value.status, error.value.code) == (409, 'CHANNELS_TOO_MUCH')
    assert '500' in error.value.message and 'another account' in error.value.message
    calls = telegram_dc.stats()['users'][str(reader.test_user_id)]
    assert 'messages.importChatInvite' not in calls  # refused before asking Telegram
    joined = await service.add_with_client(reader, 'other', f'https://t.me/+{info["invite_hash"]}', join=True)
    assert joined.created and joined.channel.joined_by == ['other']
