"""Repository for the `channels` collection."""
from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase


class ChannelsRepo:
    collection_name = 'channels'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]

    async def ensure_indexes(self) -> None:
        pass
