"""Repository for the `accounts` collection: Telegram accounts, their encrypted sessions and leases."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from app.db.models import Account, AccountStatus, utcnow

# What Telegram counts against a user (its FloodWaits, the day's look-ups) outlives a removed account's record for
# this long, for the next login of the same user; Telegram's longest waits are a day.
LEFTOVERS_KEEP_SECONDS = 2 * 86_400
COUNTED_BY_TELEGRAM = ('flood_wait_until', 'flood_waits', 'day_calls')


class AccountsRepo:
    collection_name = 'accounts'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]
        self.leftovers = db['account_leftovers']  # by Telegram user id: what a removed record's user still owes

    async def ensure_indexes(self) -> None:
        await self.collection.create_index(
            [('phone', ASCENDING)], name='phone_unique', unique=True,
            partialFilterExpression={'phone': {'$type': 'string'}})
        await self.collection.create_index([('user_id', ASCENDING)], name='user_id')
        await self.collection.create_index([('status', ASCENDING)], name='status')
        await self.collection.create_index([('lease.owner', ASCENDING), ('lease.until', ASCENDING)], name='lease')
        await self.leftovers.create_index([('kept_at', ASCENDING)], name='kept_ttl',
                                          expireAfterSeconds=LEFTOVERS_KEEP_SECONDS)

    # ------------------------------------------------------------ reads

    async def get(self, account_id: str) -> Account | None:
        doc = await self.collection.find_one({'_id': account_id})
        return Account.from_doc(doc) if doc else None

    async def find_by_phone(self, phone: str) -> Account | None:
        doc = await self.collection.find_one({'phone': phone})
        return Account.from_doc(doc) if doc else None

    async def find_by_user_id(self, user_id: int) -> Account | None:
        doc = await self.collection.find_one({'user_id': user_id})
        return Account.from_doc(doc) if doc else None

    async def list(self, *, status: AccountStatus | None = None) -> list[Account]:
        query: dict[str, Any] = {} if status is None else {'status': status.value}
        return [Account.from_doc(doc) async for doc in self.collection.find(query).sort('created_at', ASCENDING)]

    async def count(self, *, status: AccountStatus | None = None) -> int:
        return await self.collection.count_documents({} if status is None else {'status': status.value})

    # ------------------------------------------------------------ writes

    async def save_authorized(self, *, account_id: str, phone: str | None, user_id: int, first_name: str | None,
                              last_name: str | None, username: str | None, dc_id: int | None,
                              session_encrypted: str, lease_owner: str, lease_until: datetime) -> Account:
        """Create or update the record of an account that just logged in, taking its lease. Its FloodWaits are
        kept: Telegram counts them against the user, whatever login of it asks next."""
        now = utcnow()
        doc = await self.collection.find_one_and_update(
            {'_id': account_id},
            {'$set': {'phone': phone, 'user_id': user_id, 'first_name': first_name, 'last_name': last_name,
                      'username': username, 'dc_id': dc_id, 'session_encrypted': session_encrypted,
                      'status': AccountStatus.AUTHORIZED.value, 'status_reason': None,
                      'lease': {'owner': lease_owner, 'until': lease_until}, 'updated_at': now},
             '$setOnInsert': {'created_at': now}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return Account.from_doc(doc)

    async def update_profile(self, *, account_id: str, phone: str | None, user_id: int, first_name: str | None,
                             last_name: str | None, username: str | None) -> None:
        fields: dict[str, Any] = {'user_id': user_id, 'first_name': first_name, 'last_name': last_name,
                                  'username': username, 'updated_at': utcnow()}
        if phone:
            fields['phone'] = phone
        await self.collection.update_one({'_id': account_id}, {'$set': fields})

    async def set_session(self, *, account_id: str, session_encrypted: str, dc_id: int | None) -> None:
        await self.collection.update_one(
            {'_id': account_id},
            {'$set': {'session_encrypted': session_encrypted, 'dc_id': dc_id, 'updated_at': utcnow()}})

    async def set_status(self, *, account_id: str, status: AccountStatus, reason: str | None = None,
                         drop_session: bool = False) -> None:
        fields: dict[str, Any] = {'status': status.value, 'status_reason': reason, 'updated_at': utcnow()}
        if drop_session:
            fields['session_encrypted'] = None
            fields['lease'] = None
        await self.collection.update_one({'_id': account_id}, {'$set': fields})

    async def set_flood_wait(self, *, account_id: str, until: datetime | None, kind: str | None = None) -> None:
        field = 'flood_wait_until' if kind is None else f'flood_waits.{kind}'
        await self.collection.update_one({'_id': account_id}, {'$set': {field: until}})

    async def record_call(self, *, account_id: str, kind: str, at: datetime, keep: int) -> None:
        """Remember a call of a class Telegram counts per day, so the count survives a restart."""
        await self.collection.update_one({'_id': account_id},
                                         {'$push': {f'day_calls.{kind}': {'$each': [at], '$slice': -keep}}})

    async def save_hour_calls(self, account_id: str, minutes: list[dict[str, Any]]) -> None:
        await self.collection.update_one({'_id': account_id}, {'$set': {'hour_calls': minutes}})

    async def day_calls(self, kind: str) -> dict[str, list[datetime]]:
        """Each account's remembered calls of one class."""
        docs = await self.collection.find({f'day_calls.{kind}': {'$exists': True}},
                                          {f'day_calls.{kind}': 1}).to_list()
        return {doc['_id']: doc['day_calls'][kind] for doc in docs}

    async def delete(self, account_id: str) -> bool:
        """Remove an account's record; what Telegram still counts against its user is kept aside by user id."""
        doc = await self.collection.find_one_and_delete({'_id': account_id})
        if doc is None:
            return False
        kept = {field: doc[field] for field in COUNTED_BY_TELEGRAM if doc.get(field)}
        if doc.get('user_id') is not None and kept:
            await self.leftovers.replace_one({'_id': doc['user_id']}, kept | {'kept_at': utcnow()}, upsert=True)
        return True

    async def take_leftovers(self, account_id: str, user_id: int) -> Account | None:
        """A new record of a user whose earlier one was removed takes over its waits and day's calls."""
        kept = await self.leftovers.find_one_and_delete({'_id': user_id})
        if kept is None:
            return None
        doc = await self.collection.find_one_and_update(
            {'_id': account_id}, {'$set': {field: kept[field] for field in COUNTED_BY_TELEGRAM if field in kept}},
            return_document=ReturnDocument.AFTER)
        return Account.from_doc(doc) if doc is not None else None

    # ------------------------------------------------------------ leases

    async def acquire_lease(self, *, account_id: str, owner: str, until: datetime) -> bool:
        """Take the lease when it is free, expired or already ours; False while another owner holds it."""
        doc = await self.collection.find_one_and_update(
            {'_id': account_id,
             '$or': [{'lease': None}, {'lease.owner': owner}, {'lease.until': {'$lt': utcnow()}}]},
            {'$set': {'lease': {'owner': owner, 'until': until}}},
            projection={'_id': 1})
        return doc is not None

    async def renew_lease(self, *, account_id: str, owner: str, until: datetime) -> bool:
        """Extend our own lease; False when it was taken over (then we must disconnect)."""
        result = await self.collection.update_one(
            {'_id': account_id, 'lease.owner': owner}, {'$set': {'lease.until': until}})
        return result.matched_count == 1

    async def release_lease(self, *, account_id: str, owner: str) -> None:
        await self.collection.update_one({'_id': account_id, 'lease.owner': owner}, {'$set': {'lease': None}})
