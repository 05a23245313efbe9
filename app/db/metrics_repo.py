"""Repository for the `metrics` collection: time series snapshots of channels and posts."""
from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from app.db.models import Metric, MetricKind, utcnow


class MetricsRepo:
    collection_name = 'metrics'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([('channel_id', ASCENDING), ('kind', ASCENDING), ('at', ASCENDING)],
                                           name='channel_kind_at')
        await self.collection.create_index([('channel_id', ASCENDING), ('kind', ASCENDING), ('message_id', ASCENDING),
                                            ('at', ASCENDING)], name='channel_kind_post_at')

    async def add(self, metric: Metric) -> None:
        doc = metric.to_doc()
        doc.pop('_id', None)
        await self.collection.insert_one(doc)

    async def add_many(self, metrics: list[Metric]) -> None:
        docs = [m.to_doc() for m in metrics]
        for doc in docs:
            doc.pop('_id', None)
        if docs:
            await self.collection.insert_many(docs, ordered=False)

    async def series(self, *, channel_id: int, kind: MetricKind = MetricKind.CHANNEL, days: int = 90,
                     now: datetime | None = None, limit: int = 2000) -> list[Metric]:
        """Snapshots oldest first within the last `days`, at most `limit` (the newest ones)."""
        since = (now or utcnow()) - timedelta(days=days)
        return await self._oldest_first({'channel_id': channel_id, 'kind': kind.value, 'at': {'$gte': since}},
                                        newest=limit)

    async def latest_at(self, *, channel_id: int, kind: MetricKind) -> datetime | None:
        doc = await self.collection.find_one({'channel_id': channel_id, 'kind': kind.value},
                                             sort=[('at', -1)])
        return doc['at'] if doc else None

    async def post_series(self, *, channel_id: int, message_id: int) -> list[Metric]:
        """One post's snapshots, oldest first."""
        return await self._oldest_first({'channel_id': channel_id, 'kind': MetricKind.POST.value,
                                         'message_id': message_id})

    async def _oldest_first(self, query: dict, *, newest: int | None = None) -> list[Metric]:
        """Matching snapshots oldest first; with `newest`, only that many of the most recent ones."""
        docs = await self.collection.find(query).to_list()
        docs.sort(key=lambda d: d['at'])
        if newest is not None:
            docs = docs[-newest:]
        return [Metric.from_doc({k: v for k, v in d.items() if k != '_id'}) for d in docs]

    async def delete_channel(self, *, channel_id: int) -> None:
        await self.collection.delete_many({'channel_id': channel_id})
