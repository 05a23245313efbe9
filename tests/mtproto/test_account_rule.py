"""One rule chooses the account: the scarce requests (look-ups, joins) are spent last, by an account that can make
them now, and never when a stored channel or a membership makes them unnecessary."""
from __future__ import annotations

import re

import pytest

from app.db.models import RefState
from app.i18n import render
from app.mtproto.channels import ChannelError
from app.mtproto.limits import MethodClass
from tests.mtproto.test_add_queue import QueueStack, make_channels, states
from tests.support import eventually


@pytest.fixture
async def three(telegram_dc, repos, tmp_path):
    made = QueueStack(telegram_dc, repos, tmp_path)
    await made.accounts.start()
    await made.start_services()
    made.ids = [await made.add_account(name) for name in ('First', 'Second', 'Third')]
    yield made
    await made.stop_services()
    await made.accounts.stop()


def calls(telegram_dc, stack, method: str) -> int:
    return sum(stack.telegram_dc.stats()['users'].get(str(user), {}).get(method, {}).get('calls', 0)
               for user in stack.user_ids.values())


async def test_an_account_waiting_on_look_ups_leaves_the_look_up_to_another_at_once(three, telegram_dc) -> None:
    first, second, third = three.ids
    await three.accounts.note_flood_wait(first, 3600, MethodClass.RESOLVE)
    await three.accounts.note_flood_wait(second, 3600, MethodClass.RESOLVE)
    [name] = make_channels(telegram_dc, 1)
    added = await three.channels.add(f'@{name}')  # any connected account
    assert added.created and list(added.channel.access_hashes) == [third]
    assert three.resolves(first) == three.resolves(second) == 0

    await three.accounts.note_flood_wait(third, 5400, MethodClass.RESOLVE)
    await three.accounts.note_flood_wait(second, 600, MethodClass.RESOLVE)
    with pytest.raises(ChannelError) as refused:  # none can now: the error says which can first, and when
        await three.channels.add(f'@{make_channels(telegram_dc, 1)[0]}')
    assert refused.value.code == 'FLOOD_WAIT' and 590 <= refused.value.retry_after <= 600
    assert re.search(r'the first, Second, can make one in (9 min 5\d|10 min 0) s\.', render(refused.value.message))
    assert sum(three.resolves(a) for a in three.ids) == 1


async def test_pasting_stored_channels_costs_no_look_up_however_busy_the_accounts_are(three, telegram_dc,
                                                                                       repos) -> None:
    stored = make_channels(telegram_dc, 20)
    for name in stored:
        await three.channels.add(f'@{name}', account_id=three.ids[0])
    fresh = make_channels(telegram_dc, 6)
    telegram_dc.reset_stats()
    # the fresh lines come first, so every account is busy looking one up while the stored lines are due
    entries = await three.queue.submit('\n'.join([f'@{n}' for n in fresh] + [f't.me/{n}' for n in stored]))

    async def all_added():
        found = await states(repos, entries)
        return found if len(found.get('added', [])) == len(entries) else None
    found = await eventually(all_added, timeout=60)
    assert {e.ref for e in found['added'] if not e.created} == {f't.me/{n}' for n in stored}
    assert calls(telegram_dc, three, 'contacts.resolveUsername') == len(fresh)  # the fresh ones only


async def test_an_invite_is_read_by_the_account_that_is_a_member_with_no_join(three, telegram_dc) -> None:
    info = telegram_dc.create_channel('Members only', private=True, posts=4)
    member = three.ids[2]
    telegram_dc.add_member(info['channel_id'], three.user_ids[member])
    telegram_dc.reset_stats()
    added = await three.channels.add(f'https://t.me/+{info["invite_hash"]}', join=True)
    assert added.created and added.channel.joined_by == [member]
    assert calls(telegram_dc, three, 'messages.importChatInvite') == 0, 'an account joined though one was a member'

    other = telegram_dc.create_channel('Also members only', private=True, posts=2)
    telegram_dc.add_member(other['channel_id'], three.user_ids[member])
    by_id = await three.channels.add(f'https://t.me/c/{other["channel_id"]}/1')  # read by the member
    assert by_id.created and list(by_id.channel.access_hashes) == [member]


async def test_a_pasted_invite_is_added_by_the_member_instead_of_asking_to_join(three, telegram_dc, repos) -> None:
    info = telegram_dc.create_channel('Quiet members', private=True, posts=3)
    member = three.ids[1]
    telegram_dc.add_member(info['channel_id'], three.user_ids[member])
    telegram_dc.reset_stats()
    [entry] = await three.queue.submit(f't.me/+{info["invite_hash"]}')

    async def answered():
        found = await repos.channel_refs.get(entry.id)
        return found if found.state in (RefState.ADDED, RefState.NEEDS_JOIN, RefState.ERROR) else None
    done = await eventually(answered, timeout=30)
    assert (done.state, done.channel_id) == (RefState.ADDED, info['channel_id'])
    assert calls(telegram_dc, three, 'messages.importChatInvite') == 0
