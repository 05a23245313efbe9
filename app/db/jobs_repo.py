"""Repository for the `jobs` collection: backfill/sync jobs with progress, checkpoint and status."""
from __future__ import annotations

import uuid
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from app.db.models import Job, JobKind, JobStatus, utcnow

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING, JobStatus.PAUSED)
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING)
FINAL = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
FINISHED_TTL_SECONDS = 7 * 86400


def _values(statuses: tuple[JobStatus, ...] | list[JobStatus]) -> list[str]:
    return [s.value for s in statuses]


class JobsRepo:
    collection_name = 'jobs'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([('channel_id', ASCENDING), ('created_at', DESCENDING)], name='channel')
        await self.collection.create_index([('status', ASCENDING)], name='status')
        # Finished jobs are history: they expire after a week (unfinished ones have no finished_at).
        await self.collection.create_index([('finished_at', ASCENDING)], name='finished_ttl',
                                           expireAfterSeconds=FINISHED_TTL_SECONDS)

    async def create(self, *, kind: JobKind, channel_id: int, account_id: str | None = None,
                     total: int | None = None, checkpoint: dict[str, Any] | None = None) -> Job:
        job = Job(id=uuid.uuid4().hex, kind=kind, channel_id=channel_id, account_id=account_id,
                  checkpoint=checkpoint or {})
        job.progress.total = total
        await self.collection.insert_one(job.to_doc())
        return job

    async def get(self, job_id: str) -> Job | None:
        doc = await self.collection.find_one({'_id': job_id})
        return Job.from_doc(doc) if doc else None

    async def get_many(self, job_ids: list[str]) -> dict[str, Job]:
        docs = await self.collection.find({'_id': {'$in': job_ids}}).to_list()
        return {doc['_id']: Job.from_doc(doc) for doc in docs}

    async def update(self, job_id: str, **fields: Any) -> Job | None:
        """Set top-level fields (status, error, wait_until, account_id, ...); returns the updated job."""
        update = {name: (value.value if isinstance(value, JobStatus) else value) for name, value in fields.items()}
        update['updated_at'] = utcnow()
        doc = await self.collection.find_one_and_update({'_id': job_id}, {'$set': update},
                                                        return_document=ReturnDocument.AFTER)
        return Job.from_doc(doc) if doc else None

    async def save_checkpoint(self, job_id: str, *, checkpoint: dict[str, Any], done: int,
                              total: int | None, eta_seconds: float | None) -> None:
        await self.collection.update_one({'_id': job_id}, {'$set': {
            'checkpoint': checkpoint, 'progress.done': done, 'progress.total': total,
            'eta_seconds': eta_seconds, 'updated_at': utcnow()}})

    async def transition(self, job_id: str, *, to: JobStatus, allowed_from: tuple[JobStatus, ...],
                         **fields: Any) -> Job | None:
        """Move a job to `to` only from one of `allowed_from` (atomic); None when it was in another state."""
        update: dict[str, Any] = {'status': to.value, 'updated_at': utcnow(), **fields}
        if to in FINAL:
            update.setdefault('finished_at', utcnow())
        doc = await self.collection.find_one_and_update(
            {'_id': job_id, 'status': {'$in': _values(allowed_from)}}, {'$set': update},
            return_document=ReturnDocument.AFTER)
        return Job.from_doc(doc) if doc else None

    async def claim(self, job_id: str, *, owner: str, steal_from: str | None = None) -> Job | None:
        """Take a queued or waiting job for this process, or a running one still marked with `steal_from` (the
        owner of a job its process abandoned). Atomic: of two processes, one gets it."""
        now = utcnow()
        running_owners = [owner] + ([steal_from] if steal_from is not None else [])
        doc = await self.collection.find_one_and_update(
            {'_id': job_id, '$or': [
                {'status': {'$in': [JobStatus.QUEUED.value, JobStatus.WAITING.value]}},
                {'status': JobStatus.RUNNING.value, 'owner': {'$in': running_owners}}]},
            {'$set': {'owner': owner, 'status': JobStatus.RUNNING.value, 'updated_at': now, 'wait_until': None}},
            return_document=ReturnDocument.AFTER)
        if doc is not None and doc.get('started_at') is None:
            doc['started_at'] = now
            await self.collection.update_one({'_id': job_id, 'started_at': None}, {'$set': {'started_at': now}})
        return Job.from_doc(doc) if doc else None

    async def unfinished(self) -> list[Job]:
        docs = await self.collection.find({'status': {'$in': _values(UNFINISHED)}}).to_list()
        return [Job.from_doc(doc) for doc in docs]

    async def active_for_channel(self, channel_id: int) -> Job | None:
        # By status alone (indexed; active jobs are few): a second condition would make the planner scan.
        docs = await self.collection.find({'status': {'$in': _values(ACTIVE)}}).to_list()
        docs = [doc for doc in docs if doc['channel_id'] == channel_id]
        docs.sort(key=lambda d: d['created_at'], reverse=True)
        return Job.from_doc(docs[0]) if docs else None

    async def latest_for_channel(self, channel_id: int, kind: JobKind | None = None) -> Job | None:
        query: dict[str, Any] = {'channel_id': channel_id}
        if kind is not None:
            query['kind'] = kind.value
        doc = await self.collection.find_one(query, sort=[('created_at', DESCENDING)])
        return Job.from_doc(doc) if doc else None

    async def delete_channel(self, *, channel_id: int) -> None:
        await self.collection.delete_many({'channel_id': channel_id})
