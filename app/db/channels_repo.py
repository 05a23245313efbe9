"""Repository for the `channels` collection (metadata, per-account access hashes, sync settings and state)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from app.db.models import Channel, MediaPolicy, SyncSettings, SyncState, utcnow

METADATA_FIELDS = ('title', 'username', 'about', 'participants_count', 'linked_chat_id', 'broadcast')


class ChannelsRepo:
    collection_name = 'channels'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([('username', ASCENDING)], name='username')
        await self.collection.create_index([('state.next_sync_at', ASCENDING)], name='next_sync_at')
        await self.collection.create_index([('state.account_id', ASCENDING)], name='account')
        await self.collection.create_index([('tags', ASCENDING)], name='tags')
        await self.collection.create_index([('linked_chat_id', ASCENDING)], name='discussion')

    async def upsert_metadata(self, channel: Channel, *, account_id: str | None = None,
                              access_hash: int | None = None) -> tuple[Channel, bool]:
        """Store fresh metadata (keeping sync state); returns (channel, created)."""
        now = utcnow()
        fields: dict[str, Any] = {name: getattr(channel, name) for name in METADATA_FIELDS}
        if channel.photo:
            fields['photo'] = channel.photo
        fields['updated_at'] = now
        if account_id is not None and access_hash is not None:
            fields[f'access_hashes.{account_id}'] = access_hash
        existed = await self.collection.find_one({'_id': channel.id}, {'_id': 1}) is not None
        doc = await self.collection.find_one_and_update(
            {'_id': channel.id},
            {'$set': fields,
             '$setOnInsert': {'added_at': now, 'sync': SyncSettings().model_dump(),
                              # the first backfill is started by whoever adds the channel; syncs follow it
                              'state': {**SyncState().model_dump(),
                                        'next_sync_at': now + timedelta(seconds=SyncSettings().interval_seconds)},
                              'joined_by': [],
                              **({} if channel.photo else {'photo': None})}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return Channel.from_doc(doc), not existed

    async def get(self, channel_id: int) -> Channel | None:
        doc = await self.collection.find_one({'_id': channel_id})
        return Channel.from_doc(doc) if doc else None

    async def list(self) -> list[Channel]:
        docs = await self.collection.find({}).sort('added_at', ASCENDING).to_list()
        return [Channel.from_doc(doc) for doc in docs]

    async def get_many(self, channel_ids: list[int]) -> dict[int, Channel]:
        docs = await self.collection.find({'_id': {'$in': list(channel_ids)}}).to_list()
        return {doc['_id']: Channel.from_doc(doc) for doc in docs}

    async def add_tags(self, channel_ids: list[int], tags: list[str]) -> list[int]:
        """Give these channels these tags; returns the ids that exist."""
        await self.collection.update_many({'_id': {'$in': channel_ids}},
                                          {'$addToSet': {'tags': {'$each': tags}}, '$set': {'updated_at': utcnow()}})
        return await self.existing(channel_ids)

    async def remove_tags(self, channel_ids: list[int], tags: list[str]) -> list[int]:
        await self.collection.update_many({'_id': {'$in': channel_ids}},
                                          {'$pull': {'tags': {'$in': tags}}, '$set': {'updated_at': utcnow()}})
        return await self.existing(channel_ids)

    async def existing(self, channel_ids: list[int]) -> list[int]:
        return [doc['_id'] for doc in await self.collection.find({'_id': {'$in': channel_ids}}, {'_id': 1}).to_list()]

    async def delete(self, channel_id: int) -> bool:
        result = await self.collection.delete_one({'_id': channel_id})
        return result.deleted_count == 1

    async def set_state(self, channel_id: int, **fields: Any) -> None:
        """Set fields of `state` (e.g. status='syncing', last_message_id=5)."""
        update = {f'state.{name}': getattr(value, 'value', value) for name, value in fields.items()}
        update['updated_at'] = utcnow()
        await self.collection.update_one({'_id': channel_id}, {'$set': update})

    async def add_posts_stored(self, channel_id: int, count: int) -> int:
        """Count newly stored posts in; returns the new total."""
        doc = await self.collection.find_one_and_update(
            {'_id': channel_id}, {'$inc': {'state.posts_stored': count}, '$set': {'updated_at': utcnow()}},
            projection={'state.posts_stored': 1}, return_document=ReturnDocument.AFTER)
        return (doc or {}).get('state', {}).get('posts_stored', 0)

    async def set_sync_settings(self, channel_id: int, *, enabled: bool | None = None,
                                interval_seconds: int | None = None, comment_days: int | None = None) -> None:
        update: dict[str, Any] = {}
        if comment_days is not None:
            update['sync.comment_days'] = comment_days
        if enabled is not None:
            update['sync.enabled'] = enabled
        if interval_seconds is not None:
            update['sync.interval_seconds'] = interval_seconds
        if update:
            await self.collection.update_one({'_id': channel_id}, {'$set': update})

    async def by_discussion(self, group_id: int) -> Channel | None:
        """The stored channel whose discussion group this is."""
        doc = await self.collection.find_one({'linked_chat_id': group_id, 'broadcast': True})
        return Channel.from_doc(doc) if doc else None

    async def set_media_policy(self, channel_id: int, policy: MediaPolicy) -> bool:
        result = await self.collection.update_one({'_id': channel_id}, {'$set': {'media_policy': policy.model_dump()}})
        return result.matched_count > 0

    async def with_media_policy(self) -> list[Channel]:
        """Channels whose files are kept by themselves."""
        return [Channel.from_doc(doc) async for doc in self.collection.find({'media_policy.enabled': True})]

    async def add_invite_hash(self, channel_id: int, invite_hash: str) -> None:
        await self.collection.update_one({'_id': channel_id}, {'$addToSet': {'invite_hashes': invite_hash}})

    async def by_invite_hash(self, invite_hash: str) -> Channel | None:
        doc = await self.collection.find_one({'invite_hashes': invite_hash})
        return Channel.from_doc(doc) if doc else None

    async def count_joined(self, account_id: str) -> int:
        """Channels this account is a member of (Telegram lets an account be in at most 500)."""
        return await self.collection.count_documents({'joined_by': account_id})

    async def add_joined(self, channel_id: int, *, account_id: str) -> None:
        await self.collection.update_one({'_id': channel_id}, {'$addToSet': {'joined_by': account_id}})

    async def forget_account(self, account_id: str) -> None:
        """An account is gone (revoked, logged out): drop its access hashes and memberships."""
        await self.collection.update_many({f'access_hashes.{account_id}': {'$exists': True}},
                                          {'$unset': {f'access_hashes.{account_id}': ''}})
        await self.collection.update_many({'joined_by': account_id}, {'$pull': {'joined_by': account_id}})
        await self.collection.update_many({'state.account_id': account_id}, {'$set': {'state.account_id': None}})

    async def due(self, *, now: datetime | None = None) -> list[Channel]:
        docs = await self.collection.find({'state.next_sync_at': {'$lte': now or utcnow()}}).to_list()
        return [Channel.from_doc(doc) for doc in docs if doc.get('sync', {}).get('enabled', True)]

    async def claim_due(self, channel_id: int, *, next_sync_at: datetime, now: datetime | None = None) -> bool:
        """Move a due channel's next sync to `next_sync_at`; False when it is no longer due (someone else acted)."""
        result = await self.collection.update_one(
            {'_id': channel_id, 'state.next_sync_at': {'$lte': now or utcnow()}},
            {'$set': {'state.next_sync_at': next_sync_at, 'updated_at': utcnow()}})
        return result.modified_count == 1

    async def find_stored(self, ref: str) -> int | None:
        """The stored channel a person names: its id, its -100 id, @username or t.me link; None when none is."""
        text = ref.strip()
        if re.fullmatch(r'-?\d+', text):
            number = abs(int(text))
            number = number - 10**12 if number > 10**12 else number  # -100… ids as Telegram's clients show them
            return number if 0 < number < 2**63 and await self.get(number) else None
        name = re.sub(r'^(https?://)?(t\.me/|telegram\.me/)?@?', '', text).split('/')[0]
        channel = await self.by_username(re.escape(name)) if re.fullmatch(r'\w{3,32}', name) else None
        return channel.id if channel else None

    async def by_username(self, username: str) -> Channel | None:
        doc = await self.collection.find_one({'username': {'$regex': f'^{username}$', '$options': 'i'}})
        return Channel.from_doc(doc) if doc else None
