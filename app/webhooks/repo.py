"""Webhooks and their deliveries in MongoDB. A webhook's secret is stored encrypted; its place in the event log,
its retry state and the lease of the process delivering to it live in the same document."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, ReplaceOne, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from app.db.models import utcnow

KEEP_DELIVERIES = 100


class Webhook(BaseModel):
    id: str
    url: str
    events: list[str]
    channel_ids: list[int] | None = None
    tags: list[str] | None = None
    paused: bool = False
    paused_reason: str | None = None
    created_at: datetime
    position: int = 0  # the last event number delivered (or passed over)
    attempts: int = 0  # failed attempts at the next event
    failing_since: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    delivered: int = 0
    secret_enc: str = Field(default='', exclude=True)
    lease_owner: str | None = Field(default=None, exclude=True)
    lease_until: datetime | None = Field(default=None, exclude=True)

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Webhook:
        return cls(id=doc['_id'], **{key: value for key, value in doc.items() if key != '_id'})


class Delivery(BaseModel):
    id: str
    webhook_id: str
    event_id: str
    event_number: int | None  # None for a test event
    event_type: str
    status: str  # 'delivered', 'retrying' (a failed attempt, another comes), 'failed', 'refused'
    attempts: int
    status_code: int | None = None
    duration_ms: int | None = None
    error: str | None = None
    at: datetime
    replay: bool = False

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Delivery:
        return cls(id=doc['_id'], **{key: value for key, value in doc.items() if key != '_id'})


class WebhooksRepo:
    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db['webhooks']
        self.deliveries = db['webhook_deliveries']

    async def ensure_indexes(self) -> None:
        await self.deliveries.create_index([('webhook_id', ASCENDING), ('at', DESCENDING)], name='webhook_at')

    async def create(self, *, url: str, events: list[str], secret_enc: str, position: int,
                     channel_ids: list[int] | None = None, tags: list[str] | None = None) -> Webhook:
        hook = Webhook(id=uuid.uuid4().hex[:16], url=url, events=events, channel_ids=channel_ids or None,
                       tags=tags or None, created_at=utcnow(), position=position, secret_enc=secret_enc)
        doc = hook.model_dump(exclude={'id'})
        doc.update(_id=hook.id, secret_enc=secret_enc)
        await self.collection.insert_one(doc)
        return hook

    async def get(self, webhook_id: str) -> Webhook | None:
        doc = await self.collection.find_one({'_id': webhook_id})
        return Webhook.of(doc) if doc else None

    async def list(self) -> list[Webhook]:
        return [Webhook.of(doc) async for doc in self.collection.find().sort('created_at', ASCENDING)]

    async def active(self) -> list[Webhook]:
        return [Webhook.of(doc) async for doc in self.collection.find({'paused': False})]

    async def wanted_types(self) -> dict[str, list[Webhook]]:
        """Event type → the webhooks (not paused) that want it."""
        found: dict[str, list[Webhook]] = {}
        for hook in await self.active():
            for kind in hook.events:
                found.setdefault(kind, []).append(hook)
        return found

    async def update(self, webhook_id: str, **fields: Any) -> Webhook | None:
        doc = await self.collection.find_one_and_update({'_id': webhook_id}, {'$set': fields},
                                                        return_document=ReturnDocument.AFTER)
        return Webhook.of(doc) if doc else None

    async def delete(self, webhook_id: str) -> bool:
        result = await self.collection.delete_one({'_id': webhook_id})
        await self.deliveries.delete_many({'webhook_id': webhook_id})
        return result.deleted_count == 1

    # ------------------------------------------------------------ leases

    async def claim(self, webhook_id: str, owner: str, now: datetime, lease: timedelta) -> bool:
        """Take (or keep) the right to deliver to this webhook; one process at a time delivers, so in order."""
        result = await self.collection.update_one(
            {'_id': webhook_id, 'paused': False,
             '$or': [{'lease_owner': owner}, {'lease_owner': None}, {'lease_until': {'$lt': now}}]},
            {'$set': {'lease_owner': owner, 'lease_until': now + lease}})
        return result.modified_count == 1 or result.matched_count == 1

    async def release(self, webhook_id: str, owner: str) -> None:
        await self.collection.update_one({'_id': webhook_id, 'lease_owner': owner},
                                         {'$set': {'lease_owner': None, 'lease_until': None}})

    async def advance(self, webhook_id: str, owner: str, position: int, delivered: int) -> bool:
        """Events up to `position` are done with (`delivered` of them sent): go on after them (only while this
        process holds the lease)."""
        result = await self.collection.update_one(
            {'_id': webhook_id, 'lease_owner': owner, 'position': {'$lt': position}},
            {'$set': {'position': position, 'attempts': 0, 'failing_since': None, 'next_attempt_at': None,
                      'last_error': None},
             '$inc': {'delivered': delivered}})
        return result.modified_count == 1

    async def failed_attempt(self, webhook_id: str, owner: str, *, attempts: int, failing_since: datetime,
                             next_attempt_at: datetime | None, error: str, pause_reason: str | None) -> None:
        fields: dict[str, Any] = {'attempts': attempts, 'failing_since': failing_since,
                                  'next_attempt_at': next_attempt_at, 'last_error': error}
        if pause_reason:
            fields.update(paused=True, paused_reason=pause_reason, lease_owner=None, lease_until=None)
        await self.collection.update_one({'_id': webhook_id, 'lease_owner': owner}, {'$set': fields})

    # ------------------------------------------------------------ deliveries

    async def record(self, delivery: Delivery) -> None:
        await self.record_many([delivery])

    async def record_many(self, deliveries: list[Delivery], *, trim: bool = True) -> None:
        if not deliveries:
            return
        await self.deliveries.bulk_write([ReplaceOne({'_id': d.id}, d.model_dump(exclude={'id'}), upsert=True)
                                          for d in deliveries], ordered=False)
        if trim:
            await self.trim_deliveries(deliveries[0].webhook_id)

    async def trim_deliveries(self, webhook_id: str) -> None:
        delivery_webhook = webhook_id
        edge = await self.deliveries.find({'webhook_id': delivery_webhook}, {'at': 1}).sort(
            'at', DESCENDING).skip(KEEP_DELIVERIES).limit(1).to_list()
        if edge:
            await self.deliveries.delete_many({'webhook_id': delivery_webhook, 'at': {'$lte': edge[0]['at']}})

    async def deliveries_of(self, webhook_id: str, limit: int = KEEP_DELIVERIES) -> list[Delivery]:
        docs = await self.deliveries.find({'webhook_id': webhook_id}).sort('at', DESCENDING).limit(limit).to_list()
        return [Delivery.of(doc) for doc in docs]

    async def delivery(self, webhook_id: str, delivery_id: str) -> Delivery | None:
        doc = await self.deliveries.find_one({'_id': delivery_id, 'webhook_id': webhook_id})
        return Delivery.of(doc) if doc else None
