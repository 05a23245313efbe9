"""The completeness audit: after a backfill, every id from 1 to the newest is stored or confirmed gone."""
from __future__ import annotations

import uuid

from app.db.models import JobKind
from app.mtproto.audit import completeness
from tests.support import eventually


def _calls(telegram_dc, user_id: int, method: str) -> int:
    return telegram_dc.stats()['users'].get(str(user_id), {}).get(method, {}).get('calls', 0)


async def test_the_audit_refills_what_history_left_out_confirms_deleted_ids_and_says_complete(stack, telegram_dc):
    username = f'audited_{uuid.uuid4().hex[:6]}'
    channel_id = telegram_dc.create_channel('Audited', username=username, posts=450, seed=8)['channel_id']
    telegram_dc.delete_messages(channel_id, [10, 11, 12, 300])  # deleted before Parsegram ever saw them
    telegram_dc.hide_from_history(channel_id, [50, 51, 52, 260, 440])  # they exist: only reading by id finds them
    service_id = telegram_dc.post_service(channel_id, 'Audited, renamed')  # takes an id, is no post
    assert (await stack.channels.add(f'@{username}')).created
    await stack.settle(channel_id)

    assert await stack.repos.posts.ids_between(channel_id=channel_id, min_id=50, max_id=52) == [50, 51, 52]
    refilled = await stack.repos.posts.get(channel_id=channel_id, message_id=440)
    assert refilled.date is not None and refilled.views is not None  # refilled with what Telegram holds
    held = await completeness(stack.repos, channel_id)
    assert (held.newest, held.refilled, held.deleted, held.service) == (service_id, 5, 4, 1)
    assert held.stored == 446 and held.unchecked == 0 and held.complete
    # 10 missing ids: one request; the audit's posts are changes in the feed like any other
    assert _calls(telegram_dc, stack.user_id, 'channels.getMessages') == 1
    assert telegram_dc.stats()['flood_waits'] == []
    created = {c.message_id for c in await stack.repos.feed.read(limit=1000) if c.kind.value == 'created'}
    assert {50, 51, 52, 260, 440} <= created

    # a sync re-reads the newest page: 440 is still left out of it but exists, so it stays; 445 is really deleted.
    # Nothing else changed, so the feed gets one change: that deletion.
    head = await stack.repos.feed.head()
    before = {m: _calls(telegram_dc, stack.user_id, m) for m in ('channels.getMessages', 'messages.getHistory')}
    telegram_dc.delete_messages(channel_id, [445])
    await stack.repos.channels.set_state(channel_id, backfill_read_at=None)
    await stack.sync.enqueue(channel_id, kind=JobKind.SYNC)
    await _until_synced_twice(stack, channel_id)
    assert [(c.message_id, c.kind.value) for c in await stack.repos.feed.read(after=head)] == [(445, 'deleted')]
    for kept in (50, 260, 440):  # left out of history pages the sync read, confirmed by id
        assert not (await stack.repos.posts.get(channel_id=channel_id, message_id=kept)).deleted
    checks = _calls(telegram_dc, stack.user_id, 'channels.getMessages') - before['channels.getMessages']
    pages = _calls(telegram_dc, stack.user_id, 'messages.getHistory') - before['messages.getHistory']
    assert 1 <= checks <= pages  # at most one check per page read, and only for pages that lacked a stored post

    # a post Parsegram missed later (as with a lost live update) is found by the next audit, and only it is asked
    missed = telegram_dc.post_message(channel_id, 'posted while nobody listened')
    telegram_dc.hide_from_history(channel_id, [missed])
    await stack.repos.channels.set_state(channel_id, top_message_id=missed)
    await stack.sync.enqueue(channel_id, kind=JobKind.AUDIT)
    await stack.job_done(channel_id, JobKind.AUDIT)
    await _until_refilled(stack, channel_id, 6)
    assert (await stack.repos.posts.get(channel_id=channel_id, message_id=missed)).text.startswith('posted while')
    assert _calls(telegram_dc, stack.user_id, 'channels.getMessages') == before['channels.getMessages'] + checks + 1
    assert (await completeness(stack.repos, channel_id)).complete


async def _until_refilled(stack, channel_id: int, count: int) -> None:
    async def refilled():
        return (await completeness(stack.repos, channel_id)).refilled == count
    await eventually(refilled)


async def _until_synced_twice(stack, channel_id: int) -> None:
    async def done():
        return await stack.repos.jobs.collection.count_documents(
            {'channel_id': channel_id, 'kind': 'sync', 'status': 'done'}) >= 2
    await eventually(done)
