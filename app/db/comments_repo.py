"""Comments under channels' posts, stored like posts (versions, hash chains, the feed) by their own writer.

A comment is a message of the channel's discussion group: keyed by the group's id and the comment's id there, with
the post it belongs to (`post_channel_id`, `post_id`).
"""
from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from app.db.models import Comment
from app.db.posts_repo import PostsRepo


def comment_from_doc(doc: dict[str, Any]) -> Comment:
    return Comment.model_validate({k: v for k, v in doc.items() if k not in ('_id', 'has_media')})


class CommentsRepo(PostsRepo):
    collection_name = 'comments'

    def __init__(self, db: AsyncDatabase) -> None:
        super().__init__(db)
        self.threads = db['comment_threads']

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([('channel_id', ASCENDING), ('message_id', ASCENDING)], unique=True,
                                           name='channel_message_unique')
        await self.collection.create_index([('post_channel_id', ASCENDING), ('post_id', ASCENDING),
                                            ('message_id', ASCENDING)], name='post')
        await self.collection.create_index([('channel_id', ASCENDING), ('thread_id', ASCENDING)], name='thread')

    async def of_post(self, channel_id: int, post_id: int, *, include_deleted: bool = True) -> list[Comment]:
        """A post's comments, oldest first."""
        query: dict[str, Any] = {'post_channel_id': channel_id, 'post_id': post_id}
        if not include_deleted:
            query['deleted'] = {'$ne': True}
        return [comment_from_doc(doc) async for doc in self.collection.find(query).sort('message_id', ASCENDING)]

    async def ids_of_post(self, channel_id: int, post_id: int) -> list[int]:
        """The ids of a post's stored comments that are not marked deleted."""
        cursor = self.collection.find({'post_channel_id': channel_id, 'post_id': post_id, 'deleted': {'$ne': True}},
                                      {'message_id': 1})
        return [doc['message_id'] async for doc in cursor]

    async def counts(self, channel_id: int, post_ids: list[int]) -> dict[int, int]:
        """How many comments (not deleted) are stored for each of these posts."""
        found: dict[int, int] = {}
        cursor = self.collection.find({'post_channel_id': channel_id, 'post_id': {'$in': post_ids},
                                       'deleted': {'$ne': True}}, {'post_id': 1})
        async for doc in cursor:
            found[doc['post_id']] = found.get(doc['post_id'], 0) + 1
        return found

    async def post_of_thread(self, group_id: int, thread_id: int) -> tuple[int, int] | None:
        """(channel id, post id) of the post whose thread in the group starts at `thread_id`, when known: from a
        stored comment of that thread, or from the thread's opening seen live."""
        doc = await self.collection.find_one({'channel_id': group_id, 'thread_id': thread_id},
                                             {'post_channel_id': 1, 'post_id': 1})
        if doc is None:
            doc = await self.threads.find_one({'_id': f'{group_id}:{thread_id}'})
        return (doc['post_channel_id'], doc['post_id']) if doc else None

    async def note_thread(self, group_id: int, thread_id: int, channel_id: int, post_id: int) -> None:
        """The group's copy `thread_id` opens the thread of this post (Telegram forwards a post there on its first
        comment)."""
        await self.threads.replace_one({'_id': f'{group_id}:{thread_id}'},
                                       {'post_channel_id': channel_id, 'post_id': post_id}, upsert=True)

    async def delete_channel_comments(self, channel_id: int) -> int:
        result = await self.collection.delete_many({'post_channel_id': channel_id})
        await self.threads.delete_many({'post_channel_id': channel_id})
        return result.deleted_count
