"""The event log: what webhooks deliver, each event once, in one durable order.

An event is appended inside a transaction that also raises the `events` counter, so two processes appending at
once take numbers in the order their appends commit, and a webhook that has passed event N never finds a later
commit below N. An event keeps its number for ever: a retry or a replay sends it under the same id, so a receiver
can tell a repeat. Events are appended only for types some webhook wants (none without webhooks).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from loguru import logger
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from app.db.client import transactions_supported
from app.db.models import utcnow

COUNTER_ID = 'events'
T = TypeVar('T')


class EventType(StrEnum):
    POST_CREATED = 'post.created'
    POST_EDITED = 'post.edited'
    POST_DELETED = 'post.deleted'
    CHANNEL_ADDED = 'channel.added'
    CHANNEL_DELETED = 'channel.deleted'
    JOB_FAILED = 'job.failed'
    ACCOUNT_REVOKED = 'account.revoked'
    ACCOUNT_FLOOD_WAIT = 'account.flood_wait'
    ALERT_MATCHED = 'alert.matched'


EVENT_TYPES = tuple(kind.value for kind in EventType)
TEST_EVENT = 'webhook.test'
# A read starts with a window of as many numbers as events are asked for (enough when the reader wants most
# events, as most do) and doubles it while the log is sparse in what the reader wants, up to these many times
# the events asked for in one window and in one call (the caller then reads on at once).
LARGEST_WINDOW = 16
LONGEST_READ = 64


def event_id(number: int) -> str:
    return f'evt_{number}'


@dataclass(frozen=True)
class Event:
    number: int
    type: str
    at: datetime
    data: dict[str, Any]
    channel_id: int | None = None
    tags: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return event_id(self.number)

    def body(self) -> dict[str, Any]:
        """What a receiver gets: the id it can deduplicate by, the type, the time, the object."""
        return {'id': self.id, 'type': self.type, 'created_at': self.at.isoformat(), 'data': self.data}

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Event:
        return cls(doc['_id'], doc['type'], doc['at'], doc.get('data') or {}, doc.get('channel_id'),
                   tuple(doc.get('tags') or ()))


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    scanned_to: int  # every event up to here was read: those not in `events` are not for this reader
    caught_up: bool  # nothing after scanned_to was committed when the read began


def _passes(event: Event, channel_ids: list[int] | None, tags: list[str] | None) -> bool:
    if event.channel_id is None or not (channel_ids or tags):
        return True
    return bool(channel_ids and event.channel_id in channel_ids) or bool(tags and set(tags) & set(event.tags))


@dataclass(frozen=True)
class NewEvent:
    type: str
    data: dict[str, Any]
    channel_id: int | None = None
    tags: tuple[str, ...] = ()
    at: datetime = field(default_factory=utcnow)


class EventLog:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self.collection = db['events']
        self.counters = db['counters']
        self._transactions: bool | None = None
        self.listeners: list[Callable[[], None]] = []  # told after each append commits (senders wake)

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([('type', ASCENDING), ('_id', ASCENDING)], name='type_number')
        await self.collection.create_index([('at', ASCENDING)], name='at')

    async def append(self, type: str, data: dict[str, Any], *, channel_id: int | None = None,
                     tags: list[str] | tuple[str, ...] = (), at: datetime | None = None,
                     session: AsyncClientSession | None = None) -> int:
        """Append one event; inside the caller's transaction when given a session, else in one of its own."""
        item = NewEvent(type, data, channel_id, tuple(tags), at or utcnow())
        if session is not None:
            return (await self.append_many([item], session))[0]
        numbers = await self.in_transaction(lambda s: self.append_many([item], s))
        self.appended()
        return numbers[0]

    async def append_many(self, items: list[NewEvent], session: AsyncClientSession | None) -> list[int]:
        """Append events in the caller's transaction: one raise of the counter, one insert."""
        if not items:
            return []
        doc = await self.counters.find_one_and_update({'_id': COUNTER_ID}, {'$inc': {'seq': len(items)}},
                                                      upsert=True, return_document=ReturnDocument.AFTER,
                                                      session=session)
        first = doc['seq'] - len(items) + 1
        await self.collection.insert_many(
            [{'_id': first + n, 'type': item.type, 'at': item.at, 'data': item.data, 'channel_id': item.channel_id,
              'tags': list(item.tags)} for n, item in enumerate(items)], session=session)
        return list(range(first, first + len(items)))

    def appended(self) -> None:
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:
                logger.exception('an event log listener failed')

    async def in_transaction(self, work: Callable[[AsyncClientSession | None], Awaitable[T]]) -> T:
        if self._transactions is None:
            self._transactions = await transactions_supported(self.db.client)
        if not self._transactions:
            return await work(None)
        async with self.db.client.start_session() as session:
            return await session.with_transaction(work)

    async def head(self) -> int:
        doc = await self.counters.find_one({'_id': COUNTER_ID})
        return (doc or {}).get('seq', 0)

    async def get(self, number: int) -> Event | None:
        doc = await self.collection.find_one({'_id': number})
        return Event.of(doc) if doc else None

    async def next_for(self, after: int, types: list[str], *, channel_ids: list[int] | None = None,
                       tags: list[str] | None = None, limit: int = 20) -> EventPage:
        """The next events after `after` of these types, for a webhook's channel or tag filter (events of no
        channel, such as an account's, pass every filter), and how far the log was read for them.

        The log is read in windows of numbers, one query per type: equality on the type and a bounded range of
        numbers is what the (type, number) index answers without reading the rest of the log, so a read costs
        the same whether the log holds a thousand events or a million, and however far behind the webhook is.
        Only numbers up to the committed head are read: every event at or below it has committed with it.
        """
        head = await self.head()
        asked = max(limit, 1)
        window = asked
        found: list[Event] = []
        start = after
        while start < head and len(found) < limit and start - after < asked * LONGEST_READ:
            end = min(start + window, head)
            docs: list[dict[str, Any]] = []
            for kind in dict.fromkeys(types):
                docs += await self.collection.find({'type': kind, '_id': {'$gt': start, '$lte': end}}).to_list()
            for doc in sorted(docs, key=lambda d: d['_id']):
                event = Event.of(doc)
                if _passes(event, channel_ids, tags):
                    found.append(event)
            start = end
            window = min(window * 2, asked * LARGEST_WINDOW)
        if len(found) > limit:
            found = found[:limit]
        scanned_to = found[-1].number if len(found) == limit else start
        return EventPage(found, scanned_to, caught_up=scanned_to >= head)

    async def trim(self, *, older_than: datetime) -> int:
        result = await self.collection.delete_many({'at': {'$lt': older_than}})
        return result.deleted_count
