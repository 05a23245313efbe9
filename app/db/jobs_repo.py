"""Repository for the `jobs` collection."""
from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase


class JobsRepo:
    collection_name = 'jobs'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]

    async def ensure_indexes(self) -> None:
        pass
