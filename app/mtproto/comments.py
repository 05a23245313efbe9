"""Reading the comments under a channel's posts from its discussion group (messages.getReplies).

A post's comments are read whole, newest first, 100 a page, paced as history (the door classes getReplies so):
what comes back is stored through the comment writer (new, edited, counters), and a stored comment that is no
longer in the thread is marked deleted. Which posts: a sync reads those of the last `comment_days` that have
comments; a `comments` job reads the rest of the history once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from telethon.tl import functions, types

from app.db.comments_repo import CommentsRepo
from app.db.models import Channel, utcnow
from app.mtproto.jobs import as_peer
from app.mtproto.mapping import comment_from_message, names_of

if TYPE_CHECKING:
    from telethon import TelegramClient

    from app.db.repos import Repos

PAGE = 100


@dataclass
class CommentsRead:
    posts: int = 0
    new: list[int] = field(default_factory=list)
    edited: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)


async def read_comments(client: TelegramClient, repos: Repos, channel: Channel, peer: types.InputChannel,
                        post_id: int, read: CommentsRead | None = None) -> CommentsRead:
    """Every comment under one post, stored; `read` adds up what changed over several posts."""
    read = read or CommentsRead()
    messages, names, offset_id, group_id = [], {}, 0, channel.linked_chat_id
    while True:
        answer = await client(functions.messages.GetRepliesRequest(
            peer=as_peer(peer), msg_id=post_id, offset_id=offset_id, offset_date=None, add_offset=0, limit=PAGE,
            max_id=0, min_id=0, hash=0))
        names.update(names_of(answer.users, answer.chats))
        page = [m for m in answer.messages if isinstance(m, types.Message)]
        messages.extend(page)
        if len(answer.messages) < PAGE:
            break
        offset_id = min(m.id for m in answer.messages)
    fetched = utcnow()
    comments = [c for c in (comment_from_message(m, channel.id, post_id, names, fetched_at=fetched)
                            for m in messages) if c is not None]
    if comments:
        group_id = comments[0].channel_id
    read.posts += 1
    if group_id is None:
        return read
    thread_id = next((comment.thread_id for comment in comments if comment.thread_id), None)
    if thread_id is not None:  # a comment that arrives live in this thread finds its post
        await repos.comments.note_thread(group_id, thread_id, channel.id, post_id)
    stored = set(await repos.comments.ids_of_post(channel.id, post_id))
    gone = stored - {comment.message_id for comment in comments}
    result = await repos.comment_writer.store(group_id, CommentsRepo.prepare(comments), gone=gone)
    read.new += result.created
    read.edited += result.edited
    read.deleted += result.deleted
    return read
