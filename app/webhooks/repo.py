"""Webhooks in MongoDB. A webhook's secret is stored encrypted; its place in the event log, its retry state, the
lease of the process delivering to it and its last 100 deliveries live in the same document, so a batch of
deliveries and the position after it are one write."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from app.db.models import utcnow

KEEP_DELIVERIES = 100
RECENT = 'recent'  # the field holding the last deliveries, oldest first
WITHOUT_RECENT = {RECENT: 0}


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
        return cls(id=doc['_id'], **{key: value for key, value in doc.items() if key not in ('_id', RECENT)})


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

    def stored(self) -> dict[str, Any]:
        return self.model_dump()


class WebhooksRepo:
    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db['webhooks']

    async def ensure_indexes(self) -> None:
        pass  # looked up by _id; the deliveries live in each webhook's document

    async def create(self, *, url: str, events: list[str], secret_enc: str, position: int,
                     channel_ids: list[int] | None = None, tags: list[str] | None = None) -> Webhook:
        hook = Webhook(id=uuid.uuid4().hex[:16], url=url, events=events, channel_ids=channel_ids or None,
                       tags=tags or None, created_at=utcnow(), position=position, secret_enc=secret_enc)
        doc = hook.model_dump(exclude={'id'})
        doc.update(_id=hook.id, secret_enc=secret_enc)
        await self.collection.insert_one(doc)
        return hook

    async def get(self, webhook_id: str) -> Webhook | None:
        doc = await self.collection.find_one({'_id': webhook_id}, WITHOUT_RECENT)
        return Webhook.of(doc) if doc else None

    async def list(self) -> list[Webhook]:
        return [Webhook.of(doc) async for doc in self.collection.find({}, WITHOUT_RECENT).sort('created_at',
                                                                                                ASCENDING)]

    async def active(self) -> list[Webhook]:
        return [Webhook.of(doc) async for doc in self.collection.find({'paused': False}, WITHOUT_RECENT)]

    async def wanted_types(self) -> dict[str, list[Webhook]]:
        """Event type → the webhooks (not paused) that want it."""
        found: dict[str, list[Webhook]] = {}
        for hook in await self.active():
            for kind in hook.events:
                found.setdefault(kind, []).append(hook)
        return found

    async def update(self, webhook_id: str, **fields: Any) -> Webhook | None:
        doc = await self.collection.find_one_and_update({'_id': webhook_id}, {'$set': fields},
                                                        projection=WITHOUT_RECENT,
                                                        return_document=ReturnDocument.AFTER)
        return Webhook.of(doc) if doc else None

    async def delete(self, webhook_id: str) -> bool:
        result = await self.collection.delete_one({'_id': webhook_id})
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

    async def advance(self, webhook_id: str, owner: str, position: int, delivered: list[Delivery]) -> bool:
        """Events up to `position` are done with (`delivered` went out): go on after them (only while this process
        holds the lease); what went out is recorded either way."""
        update: dict[str, Any] = {
            '$set': {'position': position, 'attempts': 0, 'failing_since': None, 'next_attempt_at': None,
                     'last_error': None},
            '$inc': {'delivered': len(delivered)}}
        if delivered:
            update['$push'] = _recent(delivered)
        result = await self.collection.update_one(
            {'_id': webhook_id, 'lease_owner': owner, 'position': {'$lt': position}}, update)
        if result.modified_count != 1:
            await self.record_many(delivered)
        return result.modified_count == 1

    async def failed_attempt(self, delivery: Delivery, owner: str, *, failing_since: datetime,
                             next_attempt_at: datetime | None, pause_reason: str | None) -> None:
        """An attempt at the next event failed: record it and when to try again (or pause)."""
        fields: dict[str, Any] = {'attempts': delivery.attempts, 'failing_since': failing_since,
                                  'next_attempt_at': next_attempt_at, 'last_error': delivery.error or ''}
        if pause_reason:
            fields.update(paused=True, paused_reason=pause_reason, lease_owner=None, lease_until=None)
        result = await self.collection.update_one({'_id': delivery.webhook_id, 'lease_owner': owner},
                                                  {'$set': fields, '$push': _recent([delivery])})
        if result.matched_count != 1:
            await self.record(delivery)

    # ------------------------------------------------------------ deliveries

    async def record(self, delivery: Delivery) -> None:
        await self.record_many([delivery])

    async def record_many(self, deliveries: list[Delivery]) -> None:
        if deliveries:
            await self.collection.update_one({'_id': deliveries[0].webhook_id}, {'$push': _recent(deliveries)})

    async def deliveries_of(self, webhook_id: str, limit: int = KEEP_DELIVERIES) -> list[Delivery]:
        """The last deliveries, newest first."""
        doc = await self.collection.find_one({'_id': webhook_id}, {RECENT: 1})
        return [Delivery(**item) for item in reversed((doc or {}).get(RECENT) or [])][:limit]

    async def delivery(self, webhook_id: str, delivery_id: str) -> Delivery | None:
        return next((found for found in await self.deliveries_of(webhook_id) if found.id == delivery_id), None)


def _recent(deliveries: list[Delivery]) -> dict[str, Any]:
    return {RECENT: {'$each': [delivery.stored() for delivery in deliveries], '$slice': -KEEP_DELIVERIES}}
