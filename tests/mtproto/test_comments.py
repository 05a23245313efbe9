"""Comments from a channel's discussion group: all of them stored after the backfill, edits and deletions after a
sync, each through the comment writer and the change feed."""
from __future__ import annotations

from app.db.change_feed import ChangeKind
from app.db.models import JobKind, JobStatus
from tests.mtproto.test_sync_service import _name, _status
from tests.support import eventually


async def test_every_comment_is_stored_and_a_sync_brings_their_edits_and_deletions(stack, telegram_dc, repos):
    info = telegram_dc.create_channel('Talked About', username=_name('talk'), posts=30, seed=41)
    channel_id = info['channel_id']
    group_id = telegram_dc.create_discussion(channel_id)
    telegram_dc.seed_comments(channel_id, [5, 10], per_post=3, seed=1)
    telegram_dc.seed_comments(channel_id, [20], per_post=150, seed=2)  # two pages of getReplies
    fresh = telegram_dc.post_message(channel_id, 'Posted today')
    first = telegram_dc.add_comment(channel_id, fresh, 'Good news', author='Vera')
    answer = telegram_dc.add_comment(channel_id, fresh, 'Agreed', author='Oleg', reply_to=first)
    await stack.channels.add(f'@{info["username"]}')
    await stack.job_done(channel_id, JobKind.COMMENTS)  # after the backfill, its sync and its audit

    comments = repos.comments
    assert len(await comments.of_post(channel_id, 20)) == 150
    assert [len(await comments.of_post(channel_id, p)) for p in (5, 10)] == [3, 3]
    thread = await comments.of_post(channel_id, fresh)
    assert [(c.text, c.post_author, c.reply_to) for c in thread] == [('Good news', 'Vera', None),
                                                                    ('Agreed', 'Oleg', first)]
    assert all(c.channel_id == group_id and c.author_id and c.hash for c in thread)

    telegram_dc.edit_comment(group_id, first, 'Good news, confirmed')
    telegram_dc.delete_comments(group_id, [answer])
    head = await repos.feed.head()
    job = await stack.sync.enqueue(channel_id)
    await eventually(lambda: _status(stack, job.id, JobStatus.DONE), timeout=60)
    thread = {c.message_id: c for c in await comments.of_post(channel_id, fresh)}
    assert (thread[first].text, thread[first].edits) == ('Good news, confirmed', 1)
    assert thread[answer].deleted and thread[answer].text == 'Agreed'  # what it said is kept
    changes = [c for c in await repos.feed.read(after=head) if c.source == 'comments']
    assert {(c.message_id, c.kind) for c in changes} == {(first, ChangeKind.EDITED), (answer, ChangeKind.DELETED)}
    assert all(c.channel_id == group_id for c in changes)
    versions = await repos.versions.of_post(channel_id=group_id, message_id=first)
    assert [v['text'] for v in versions] == ['Good news']


async def test_a_member_of_the_group_gets_new_edited_and_deleted_comments_live(stack, telegram_dc, repos):
    info = telegram_dc.create_channel('Live Talk', username=_name('live'), posts=3, seed=42)
    channel_id = info['channel_id']
    group_id = telegram_dc.create_discussion(channel_id, members=[stack.user_id])
    earlier = telegram_dc.add_comment(channel_id, 2, 'Before we came', author='Ira')
    await stack.channels.add(f'@{info["username"]}')
    await stack.job_done(channel_id, JobKind.COMMENTS)
    await stack.settle(channel_id)  # no sync is due: what comes next comes live
    assert [c.message_id for c in await repos.comments.of_post(channel_id, 2)] == [earlier]

    later = telegram_dc.add_comment(channel_id, 2, 'Just now', author='Gleb', reply_to=earlier)
    fresh = telegram_dc.post_message(channel_id, 'A new post')
    opening = telegram_dc.add_comment(channel_id, fresh, 'First under the new post', author='Ira')

    async def arrived():
        return {c.message_id: c for c in await repos.comments.of_post(channel_id, 2)
                + await repos.comments.of_post(channel_id, fresh)}
    comments = await eventually(lambda: _when(arrived, lambda found: {later, opening} <= set(found)))
    assert (comments[later].post_author, comments[later].reply_to, comments[later].text) == ('Gleb', earlier,
                                                                                             'Just now')
    assert comments[opening].post_id == fresh  # its thread opened live: the group's copy of the post said which

    telegram_dc.edit_comment(group_id, later, 'Just now (edited)')
    telegram_dc.delete_comments(group_id, [earlier])
    comments = await eventually(lambda: _when(arrived, lambda found: found[later].edits == 1
                                              and found[earlier].deleted))
    assert comments[later].text == 'Just now (edited)'


async def _when(read, condition):
    found = await read()
    return found if condition(found) else None
