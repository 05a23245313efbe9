"""Comments in a discussion group with the real Telethon client: messages.getReplies, counts, edits, live."""

from __future__ import annotations

import asyncio
import uuid

from telethon import events, types

from tests.dc.test_updates import Inbox


async def test_comments_page_newest_first_with_authors_replies_counts_edits_and_deletions(telegram_dc):
    reader = await telegram_dc.signed_in_client('Commenter')
    try:
        info = telegram_dc.create_channel('Discussed', username=f'disc_{uuid.uuid4().hex[:8]}', posts=5, seed=9)
        channel_id = info['channel_id']
        group_id = telegram_dc.create_discussion(channel_id)
        assert telegram_dc.seed_comments(channel_id, [3], per_post=150, seed=4) == 150
        first = telegram_dc.add_comment(channel_id, 5, 'First!', author='Zoe')
        reply = telegram_dc.add_comment(channel_id, 5, 'Second', author='Yan', reply_to=first)

        comments = [m async for m in reader.iter_messages(info['username'], reply_to=3, wait_time=0)]
        assert len(comments) == 150 and [m.id for m in comments] == sorted((m.id for m in comments), reverse=True)
        assert all(m.chat_id == -1000000000000 - group_id and isinstance(m.from_id, types.PeerUser) for m in comments)
        assert all((m.sender.first_name if m.sender else '') for m in comments)  # the authors come with the page
        thread = [m async for m in reader.iter_messages(info['username'], reply_to=5, wait_time=0)]
        assert [m.text for m in thread] == ['Second', 'First!']
        assert thread[0].reply_to.reply_to_msg_id == first and thread[0].reply_to.reply_to_top_id is not None
        post = (await reader.get_messages(info['username'], ids=[5]))[0]
        assert post.replies.replies == 2 and post.replies.comments and post.replies.channel_id == group_id
        assert not [m async for m in reader.iter_messages(info['username'], reply_to=4, wait_time=0)]

        telegram_dc.edit_comment(group_id, first, 'First! (edited)')
        telegram_dc.delete_comments(group_id, [reply])
        thread = [m async for m in reader.iter_messages(info['username'], reply_to=5, wait_time=0)]
        assert [(m.text, m.edit_date is not None) for m in thread] == [('First! (edited)', True)]
        assert (await reader.get_messages(info['username'], ids=[5]))[0].replies.replies == 1
    finally:
        await reader.disconnect()


async def test_members_of_the_group_get_new_comments_live(telegram_dc):
    member = await telegram_dc.signed_in_client('GroupMember')
    try:
        info = telegram_dc.create_channel('Live talk', username=f'talk_{uuid.uuid4().hex[:8]}', posts=2, seed=3)
        group_id = telegram_dc.create_discussion(info['channel_id'], members=[member.user_id])
        inbox = Inbox()
        member.add_event_handler(inbox.add, events.NewMessage())
        await member.get_dialogs()  # as a client does after logging in
        comment = await asyncio.to_thread(telegram_dc.add_comment, info['channel_id'], 2, 'Live words', author='Ann')
        thread, new = await inbox.wait_for(2)  # the post's copy that opens its thread, then the comment
        assert thread.message.fwd_from.saved_from_msg_id == 2 and thread.message.reply_to is None
        assert new.message.id == comment and new.chat_id == -1000000000000 - group_id
        assert new.message.text == 'Live words' and new.message.reply_to is not None
    finally:
        await member.disconnect()
