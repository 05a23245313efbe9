"""Alert rules, which posts each has matched, and the notifications of the dashboard's bell."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from app.db.models import utcnow

KEEP_NOTIFICATIONS = 1000


class AlertRule(BaseModel):
    id: str
    name: str
    query: str
    channel_ids: list[int] | None = None
    tags: list[str] | None = None
    min_views: int | None = None  # only posts with more views than this within an hour of posting
    webhook: bool = False  # an alert.matched event for the webhooks that want it
    saved_messages: bool = False  # a digest, at most one a minute, in the account's own Saved Messages
    account_id: str | None = None  # whose Saved Messages (None: the first connected account)
    paused: bool = False
    created_at: datetime
    matched: int = 0
    last_digest_at: datetime | None = None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> AlertRule:
        return cls(id=doc['_id'], **{key: value for key, value in doc.items() if key != '_id'})


class Notification(BaseModel):
    id: str
    kind: str  # 'alert', 'account', 'job'
    title: str
    text: str = ''
    at: datetime
    read: bool = False
    rule_id: str | None = None
    channel_id: int | None = None
    message_id: int | None = None
    link: str | None = Field(default=None, description='the post on t.me')
    path: str | None = Field(default=None, description="the post's (or the account's) page in the dashboard")
    digest: str | None = Field(default=None, exclude=True)  # 'pending' until sent to Saved Messages

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Notification:
        return cls(id=doc['_id'], **{key: value for key, value in doc.items() if key != '_id'})


class AlertsRepo:
    def __init__(self, db: AsyncDatabase) -> None:
        self.rules = db['alert_rules']
        self.matches = db['alert_matches']
        self.notifications = db['notifications']

    async def ensure_indexes(self) -> None:
        await self.notifications.create_index([('at', DESCENDING)], name='at')
        await self.notifications.create_index([('read', ASCENDING), ('at', DESCENDING)], name='read_at')
        await self.notifications.create_index([('digest', ASCENDING), ('rule_id', ASCENDING)], name='digest',
                                              sparse=True)

    # ------------------------------------------------------------ rules

    async def create_rule(self, **fields: Any) -> AlertRule:
        rule = AlertRule(id=uuid.uuid4().hex[:16], created_at=utcnow(), **fields)
        await self.rules.insert_one({'_id': rule.id, **rule.model_dump(exclude={'id'})})
        return rule

    async def rule(self, rule_id: str) -> AlertRule | None:
        doc = await self.rules.find_one({'_id': rule_id})
        return AlertRule.of(doc) if doc else None

    async def list_rules(self, *, active_only: bool = False,
                         session: AsyncClientSession | None = None) -> list[AlertRule]:
        query = {'paused': False} if active_only else {}
        return [AlertRule.of(doc) async for doc in self.rules.find(query, session=session).sort('created_at', 1)]

    async def update_rule(self, rule_id: str, **fields: Any) -> AlertRule | None:
        doc = await self.rules.find_one_and_update({'_id': rule_id}, {'$set': fields},
                                                   return_document=ReturnDocument.AFTER)
        return AlertRule.of(doc) if doc else None

    async def delete_rule(self, rule_id: str) -> bool:
        result = await self.rules.delete_one({'_id': rule_id})
        await self.matches.delete_many({'rule_id': rule_id})
        await self.notifications.update_many({'rule_id': rule_id, 'digest': 'pending'}, {'$unset': {'digest': 1}})
        return result.deleted_count == 1

    # ------------------------------------------------------------ what a rule has matched

    @staticmethod
    def match_key(rule_id: str, source: str, channel_id: int, message_id: int) -> str:
        return f'{rule_id}:{source}:{channel_id}:{message_id}'

    async def matched_keys(self, keys: list[str], session: AsyncClientSession | None) -> set[str]:
        docs = await self.matches.find({'_id': {'$in': keys}}, {'_id': 1}, session=session).to_list()
        return {doc['_id'] for doc in docs}

    async def mark(self, key: str, rule_id: str, session: AsyncClientSession | None) -> None:
        await self.matches.insert_one({'_id': key, 'rule_id': rule_id, 'at': utcnow()}, session=session)
        await self.rules.update_one({'_id': rule_id}, {'$inc': {'matched': 1}}, session=session)

    async def unmark(self, keys: list[str], session: AsyncClientSession | None) -> None:
        if keys:
            await self.matches.delete_many({'_id': {'$in': keys}}, session=session)

    # ------------------------------------------------------------ notifications

    async def notify(self, notification: Notification, session: AsyncClientSession | None = None) -> None:
        doc = notification.model_dump(exclude={'id', 'digest'})
        if notification.digest:
            doc['digest'] = notification.digest
        await self.notifications.insert_one({'_id': notification.id, **doc}, session=session)

    async def notifications_page(self, *, unread: bool = False, limit: int = 50) -> list[Notification]:
        query = {'read': False} if unread else {}
        docs = await self.notifications.find(query).sort('at', DESCENDING).limit(limit).to_list()
        return [Notification.of(doc) for doc in docs]

    async def unread_count(self) -> int:
        return await self.notifications.count_documents({'read': False})

    async def mark_read(self, ids: list[str] | None = None) -> int:
        query: dict[str, Any] = {'read': False}
        if ids is not None:
            query['_id'] = {'$in': ids}
        result = await self.notifications.update_many(query, {'$set': {'read': True}})
        return result.modified_count

    async def trim(self) -> None:
        edge = await self.notifications.find({}, {'at': 1}).sort('at', DESCENDING).skip(KEEP_NOTIFICATIONS).limit(
            1).to_list()
        if edge:
            await self.notifications.delete_many({'at': {'$lte': edge[0]['at']}, 'digest': {'$ne': 'pending'}})

    # ------------------------------------------------------------ Saved Messages digests

    async def rules_with_pending_digests(self) -> list[str]:
        return await self.notifications.distinct('rule_id', {'digest': 'pending'})

    async def claim_digest(self, rule_id: str, now: datetime, not_before: datetime) -> AlertRule | None:
        """The rule, if no digest of it went out since `not_before` (one a minute); marks this one's time."""
        doc = await self.rules.find_one_and_update(
            {'_id': rule_id, '$or': [{'last_digest_at': None}, {'last_digest_at': {'$lte': not_before}}]},
            {'$set': {'last_digest_at': now}}, return_document=ReturnDocument.AFTER)
        return AlertRule.of(doc) if doc else None

    async def pending_digest(self, rule_id: str, limit: int) -> list[Notification]:
        docs = await self.notifications.find({'rule_id': rule_id, 'digest': 'pending'}).sort('at', ASCENDING).limit(
            limit).to_list()
        return [Notification.of(doc) for doc in docs]

    async def digest_sent(self, ids: list[str]) -> None:
        await self.notifications.update_many({'_id': {'$in': ids}}, {'$set': {'digest': 'sent'}})


def new_notification_id() -> str:
    return uuid.uuid4().hex[:16]
