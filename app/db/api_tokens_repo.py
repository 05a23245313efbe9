"""Repository for the `api_tokens` collection: sha256 hashes of API tokens, never the tokens."""
from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from app.db.models import ApiToken, utcnow


class ApiTokensRepo:
    collection_name = 'api_tokens'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([('token_hash', ASCENDING)], unique=True, name='token_hash_unique')
        await self.collection.create_index([('created_at', DESCENDING)], name='created_at')

    async def create(self, *, token: ApiToken) -> ApiToken:
        await self.collection.insert_one(token.to_doc())
        return token

    async def find_active(self, *, token_hash: str) -> ApiToken | None:
        doc = await self.collection.find_one({'token_hash': token_hash, 'revoked_at': None})
        return ApiToken.from_doc(doc) if doc else None

    async def get(self, *, token_id: str) -> ApiToken | None:
        doc = await self.collection.find_one({'_id': token_id})
        return ApiToken.from_doc(doc) if doc else None

    async def list(self, *, include_revoked: bool = True) -> list[ApiToken]:
        query = {} if include_revoked else {'revoked_at': None}
        return [ApiToken.from_doc(doc) async for doc in self.collection.find(query).sort('created_at', DESCENDING)]

    async def revoke(self, *, token_id: str) -> bool:
        result = await self.collection.update_one({'_id': token_id, 'revoked_at': None},
                                                  {'$set': {'revoked_at': utcnow()}})
        return result.modified_count == 1

    async def touch(self, *, token_id: str) -> None:
        await self.collection.update_one({'_id': token_id}, {'$set': {'last_used_at': utcnow()}})
