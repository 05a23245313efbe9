"""Repository for the `accounts` collection."""
from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase


class AccountsRepo:
    collection_name = 'accounts'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]

    async def ensure_indexes(self) -> None:
        pass
