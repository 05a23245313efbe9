"""Earlier versions of posts: what a post held before each edit, deletion or return, as the post writer saw it.

A post's current version lives in `posts`; each earlier one here, unique on (channel_id, message_id, version),
with its hash and the previous version's hash (see app.db.post_hash).
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from app.db.post_hash import CONTENT_FIELDS

VERSION_FIELDS = ('channel_id', 'message_id', 'date', 'edit_date', *CONTENT_FIELDS, 'deleted', 'deleted_at',
                  'version', 'version_at', 'hash', 'prev_hash', 'position')


def version_doc(post_doc: dict[str, Any]) -> dict[str, Any]:
    """The version a stored post holds now, to keep before it changes."""
    return {name: post_doc.get(name) for name in VERSION_FIELDS}


class PostVersionsRepo:
    collection_name = 'post_versions'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([('channel_id', ASCENDING), ('message_id', ASCENDING),
                                            ('version', ASCENDING)], unique=True, name='channel_message_version')

    async def keep(self, docs: list[dict[str, Any]], session: AsyncClientSession | None) -> None:
        if docs:
            await self.collection.insert_many(docs, ordered=False, session=session)

    async def of_post(self, *, channel_id: int, message_id: int) -> list[dict[str, Any]]:
        """A post's earlier versions, oldest first."""
        docs = await self.collection.find({'channel_id': channel_id, 'message_id': message_id},
                                          {'_id': 0}).to_list()
        return sorted(docs, key=lambda d: d['version'])

    async def of_channel(self, *, channel_id: int) -> AsyncIterator[dict[str, Any]]:
        async for doc in self.collection.find({'channel_id': channel_id}, {'_id': 0}):
            yield doc

    async def delete_channel(self, *, channel_id: int) -> int:
        return (await self.collection.delete_many({'channel_id': channel_id})).deleted_count
