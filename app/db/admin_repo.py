"""Repository for the `admin` collection: the dashboard password hash (never the password)."""
from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from app.db.models import Admin, utcnow

ADMIN_ID = 'admin'


class AdminRepo:
    collection_name = 'admin'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]

    async def ensure_indexes(self) -> None:
        pass  # a single document keyed by _id

    async def get(self) -> Admin | None:
        doc = await self.collection.find_one({'_id': ADMIN_ID})
        return Admin.from_doc(doc) if doc else None

    async def create_if_missing(self, *, password_hash: str) -> bool:
        """Store the hash unless one exists. True if this call stored it (first start)."""
        try:
            await self.collection.insert_one(Admin(password_hash=password_hash).to_doc())
        except DuplicateKeyError:
            return False
        return True

    async def set_password_hash(self, *, password_hash: str) -> None:
        await self.collection.update_one(
            {'_id': ADMIN_ID},
            {'$set': {'password_hash': password_hash}, '$setOnInsert': {'created_at': utcnow()}},
            upsert=True,
        )
