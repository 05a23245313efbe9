"""The change feed: every change to a stored post, in one durable order, for programs that must see each once.

Each write of the post writer appends one document holding its changes; every change has its own position, a
number from one counter. The counter is raised inside the write's transaction, so two writers (in one process or
several) take positions in the order their writes commit: a reader that has passed position N never finds a
change below N committed later. Consumers keep their positions here too; entries are trimmed only once every
consumer has passed them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from app.db.models import utcnow

COUNTER_ID = 'changes'
TRIMMED_ID = 'changes_trimmed'  # the last position trimming dropped


class ChangeKind(StrEnum):
    CREATED = 'created'
    EDITED = 'edited'  # text, entities, media, forward, author or album changed
    DELETED = 'deleted'  # Telegram no longer has it; the post and its versions are kept
    RESTORED = 'restored'  # a post taken for deleted came back
    COUNTERS = 'counters'  # views, forwards, replies, reactions or pin only: no new version


@dataclass(frozen=True)
class Change:
    position: int
    channel_id: int
    message_id: int
    kind: ChangeKind
    at: datetime
    hash: str | None = None  # the new version's hash (None for counters)
    source: str = 'posts'  # 'posts', or 'comments': a comment in a discussion group (channel_id is the group's)

    def to_dict(self) -> dict[str, Any]:
        return {'position': self.position, 'channel_id': self.channel_id, 'message_id': self.message_id,
                'kind': self.kind.value, 'at': self.at, 'hash': self.hash, 'source': self.source}


class ChangeFeed:
    collection_name = 'changes'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]
        self.counters = db['counters']
        self.consumers = db['feed_consumers']

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([('last', ASCENDING)], name='last_position')
        await self.collection.create_index([('at', ASCENDING)], name='at')

    async def take_positions(self, count: int, session: AsyncClientSession) -> int:
        """Raise the counter by `count` inside the caller's transaction; returns the first position taken."""
        doc = await self.counters.find_one_and_update(
            {'_id': COUNTER_ID}, {'$inc': {'seq': count}}, upsert=True, return_document=ReturnDocument.AFTER,
            session=session)
        return doc['seq'] - count + 1

    async def append(self, channel_id: int, first: int, changes: list[tuple[int, str, str | None]], at: datetime,
                     session: AsyncClientSession | None, source: str = 'posts') -> None:
        """One write's changes (message id, kind, hash), at positions first, first + 1, …"""
        doc = {'_id': first, 'last': first + len(changes) - 1, 'channel_id': channel_id, 'at': at,
               'changes': [{'m': m, 'k': k, 'h': h} for m, k, h in changes]}
        if source != 'posts':
            doc['src'] = source
        await self.collection.insert_one(doc, session=session)

    async def read(self, *, after: int = 0, limit: int = 1000) -> list[Change]:
        """Changes at positions above `after`, in order, at most `limit` (the last write may be cut)."""
        limit = max(1, limit)
        # A range on one indexed field is what the embedded database reads from its index (a range on two fields
        # is a scan of the whole feed): the writes ending in (after, after + limit], then, positions being
        # contiguous, the one write that may run past the end starts right after the last of them, by its id
        docs = await self.collection.find({'last': {'$gt': after, '$lte': after + limit}}).to_list()
        next_start = max((doc['last'] for doc in docs), default=after) + 1
        if next_start <= after + limit:
            running_past = await self.collection.find_one({'_id': next_start})
            if running_past is not None:
                docs.append(running_past)
        if not docs:  # below a trimmed stretch, or inside one write longer than `limit`
            first = await self.collection.find_one({'last': {'$gt': after}}, sort=[('_id', ASCENDING)])
            docs = [first] if first else []
        found: list[Change] = []
        for doc in sorted(docs, key=lambda d: d['_id']):
            for offset, item in enumerate(doc['changes']):
                position = doc['_id'] + offset
                if position > after:
                    found.append(Change(position, doc['channel_id'], item['m'], ChangeKind(item['k']), doc['at'],
                                        item.get('h'), doc.get('src', 'posts')))
            if len(found) >= limit:
                break
        return found[:limit]

    async def head(self) -> int:
        """The last position taken (0 before the first change)."""
        doc = await self.counters.find_one({'_id': COUNTER_ID})
        return (doc or {}).get('seq', 0)

    async def oldest(self, head: int | None = None) -> int:
        """The first position still kept (trimming drops the oldest writes); 0 while the feed is empty."""
        head = await self.head() if head is None else head
        trimmed = await self.counters.find_one({'_id': TRIMMED_ID})
        return min((trimmed or {}).get('to', 0) + 1, head) if head else 0

    # ------------------------------------------------------------ consumers

    async def position(self, consumer: str, session: AsyncClientSession | None = None) -> int:
        doc = await self.consumers.find_one({'_id': consumer}, session=session)
        return (doc or {}).get('position', 0)

    async def save_position(self, consumer: str, position: int, session: AsyncClientSession | None = None) -> None:
        await self.consumers.update_one({'_id': consumer}, {'$max': {'position': position},
                                                            '$set': {'at': utcnow()}}, upsert=True, session=session)

    async def consumer_positions(self) -> dict[str, int]:
        return {doc['_id']: doc.get('position', 0) async for doc in self.consumers.find()}

    async def trim(self, *, older_than: datetime) -> int:
        """Drop writes older than `older_than` that every consumer has passed; returns how many were dropped."""
        positions = await self.consumer_positions()
        query: dict[str, Any] = {'at': {'$lt': older_than}}
        if positions:
            query['last'] = {'$lte': min(positions.values())}
        dropped = [doc['last'] for doc in await self.collection.find(query, {'last': 1}).to_list()]
        if not dropped:
            return 0
        await self.collection.delete_many({'last': {'$lte': max(dropped)}, **query})
        await self.counters.update_one({'_id': TRIMMED_ID}, {'$max': {'to': max(dropped)}}, upsert=True)
        return len(dropped)
