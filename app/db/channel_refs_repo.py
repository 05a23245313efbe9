"""Repository for the `channel_refs` collection: the queue of pasted references, each with its state and reason."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from app.db.models import ChannelRefEntry, RefState, utcnow

FINISHED_TTL_SECONDS = 7 * 86400


class ChannelRefsRepo:
    collection_name = 'channel_refs'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([('state', ASCENDING), ('created_at', ASCENDING)], name='state')
        # Finished entries are a receipt: they expire after a week (unfinished ones have no finished_at).
        await self.collection.create_index([('finished_at', ASCENDING)], name='finished_ttl',
                                           expireAfterSeconds=FINISHED_TTL_SECONDS)

    async def add_many(self, entries: list[dict[str, Any]]) -> list[ChannelRefEntry]:
        """Store new entries given as field dicts (`ref`, and `state`, `code`, `reason`, ... when known)."""
        now = utcnow()
        made = [ChannelRefEntry(id=uuid.uuid4().hex, created_at=now, updated_at=now, **fields) for fields in entries]
        if made:
            docs = [self._finished(entry.to_doc()) for entry in made]
            await self.collection.insert_many(docs)
        return made

    @staticmethod
    def _finished(doc: dict[str, Any]) -> dict[str, Any]:
        if doc.get('state') in (RefState.ADDED.value, RefState.ERROR.value):
            doc['finished_at'] = doc.get('updated_at') or utcnow()
        return doc

    async def get(self, entry_id: str) -> ChannelRefEntry | None:
        doc = await self.collection.find_one({'_id': entry_id})
        return ChannelRefEntry.from_doc(doc) if doc else None

    async def get_many(self, entry_ids: list[str]) -> list[ChannelRefEntry]:
        docs = await self.collection.find({'_id': {'$in': entry_ids}}).to_list()
        order = {entry_id: i for i, entry_id in enumerate(entry_ids)}
        return sorted((ChannelRefEntry.from_doc(doc) for doc in docs), key=lambda e: order[e.id])

    async def due(self, now: datetime, limit: int = 50) -> list[ChannelRefEntry]:
        """Queued entries whose time has come, oldest first."""
        query = {'state': RefState.QUEUED.value, '$or': [{'retry_at': None}, {'retry_at': {'$lte': now}}]}
        docs = await self.collection.find(query).sort('created_at', ASCENDING).limit(limit).to_list()
        return [ChannelRefEntry.from_doc(doc) for doc in docs]

    async def count_waiting(self, now: datetime, *, exclude: list[str]) -> int:
        """Queued entries given a time still to come (they wait for a budget), but for `exclude`."""
        return await self.collection.count_documents(
            {'state': RefState.QUEUED.value, 'retry_at': {'$gt': now}, '_id': {'$nin': exclude}})

    async def unfinished(self, limit: int = 1000) -> list[ChannelRefEntry]:
        states = [RefState.QUEUED.value, RefState.RESOLVING.value, RefState.NEEDS_JOIN.value]
        docs = await self.collection.find({'state': {'$in': states}}).sort('created_at', ASCENDING) \
            .limit(limit).to_list()
        return [ChannelRefEntry.from_doc(doc) for doc in docs]

    async def next_retry_at(self) -> datetime | None:
        doc = await self.collection.find_one({'state': RefState.QUEUED.value, 'retry_at': {'$ne': None}},
                                             sort=[('retry_at', ASCENDING)])
        return doc['retry_at'] if doc else None

    async def claim(self, entry_id: str, account_id: str | None) -> ChannelRefEntry | None:
        """Move a queued entry to `resolving` for one account; None when another worker took it first."""
        doc = await self.collection.find_one_and_update(
            {'_id': entry_id, 'state': RefState.QUEUED.value},
            {'$set': {'state': RefState.RESOLVING.value, 'worked_by': account_id, 'updated_at': utcnow()}},
            return_document=ReturnDocument.AFTER)
        return ChannelRefEntry.from_doc(doc) if doc else None

    async def update(self, entry_id: str, state: RefState, **fields: Any) -> ChannelRefEntry | None:
        now = utcnow()
        update: dict[str, Any] = {**fields, 'state': state.value, 'updated_at': now}
        unset = {}
        if state in (RefState.ADDED, RefState.ERROR):
            update['finished_at'] = now
        else:
            unset['finished_at'] = ''
        doc = await self.collection.find_one_and_update(
            {'_id': entry_id}, {'$set': update, **({'$unset': unset} if unset else {})},
            return_document=ReturnDocument.AFTER)
        return ChannelRefEntry.from_doc(doc) if doc else None

    async def set_retry_at(self, entry_id: str, retry_at: datetime | None, reason: str | None) -> None:
        await self.collection.update_one({'_id': entry_id, 'state': RefState.QUEUED.value},
                                         {'$set': {'retry_at': retry_at, 'reason': reason, 'updated_at': utcnow()}})

    async def clear_waits(self) -> None:
        """Queued entries waiting for a budget are due again (a new account can take them)."""
        await self.collection.update_many({'state': RefState.QUEUED.value, 'retry_at': {'$ne': None}},
                                          {'$set': {'retry_at': None, 'updated_at': utcnow()}})

    async def requeue_resolving(self) -> int:
        """After a restart: entries that were being resolved go back to the queue."""
        result = await self.collection.update_many({'state': RefState.RESOLVING.value},
                                                   {'$set': {'state': RefState.QUEUED.value, 'updated_at': utcnow()}})
        return result.modified_count

    async def count(self, state: RefState | None = None) -> int:
        return await self.collection.count_documents({} if state is None else {'state': state.value})
