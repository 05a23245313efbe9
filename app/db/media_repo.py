"""Kept media: files in GridFS, one copy per SHA-256, and which post shows which file.

- `media.files` / `media.chunks` (GridFS bucket `media`): a file's chunks are written part by part as Telegram
  sends them (a chunk is one downloaded part), so a download that stops resumes after its last stored part. The
  file's document is written last, with the SHA-256 of its bytes in `metadata.sha256` (unique): a file already
  kept under that hash keeps its one copy and the new chunks are dropped.
- `media_links`: one per post whose file is kept (`_id` "channel:message"), with the file's id, hash, size, type,
  content type and name, and Telegram's id of the file (a second post showing the same Telegram file links to the
  kept copy without a download).
- `media_downloads`: downloads under way: where the chunks go and how many parts are stored.
- `media_jobs`: per channel, how far the download policy's work has come (files and bytes, its pace, a wait), and
  which process does it (a lease, so two processes never download one channel's files twice).

A backup of the database is a backup of every kept file; several Parsegram processes share them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from gridfs import AsyncGridFSBucket
from gridfs.asynchronous.grid_file import AsyncGridOut
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from app.db.models import utcnow

PART_BYTES = 512 * 1024  # one downloaded part, one GridFS chunk (Telegram allows parts up to 1 MiB)
BUCKET = 'media'


def link_key(channel_id: int, message_id: int) -> str:
    return f'{channel_id}:{message_id}'


@dataclass(frozen=True)
class KeptFile:
    """A post's kept file, as the API and pages serve it."""
    file_id: ObjectId
    sha256: str
    size: int
    type: str
    mime_type: str
    file_name: str

    @classmethod
    def of(cls, link: dict[str, Any]) -> KeptFile:
        return cls(file_id=link['file_id'], sha256=link['sha256'], size=link['size'], type=link['type'],
                   mime_type=link['mime_type'], file_name=link['file_name'])


class MediaRepo:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self.bucket = AsyncGridFSBucket(db, bucket_name=BUCKET, chunk_size_bytes=PART_BYTES)
        self.files = db[f'{BUCKET}.files']
        self.chunks = db[f'{BUCKET}.chunks']
        self.links = db['media_links']
        self.downloads = db['media_downloads']
        self.jobs = db['media_jobs']

    async def ensure_indexes(self) -> None:
        await self.chunks.create_index([('files_id', ASCENDING), ('n', ASCENDING)], unique=True, name='files_id_1_n_1')
        await self.files.create_index([('filename', ASCENDING), ('uploadDate', ASCENDING)],
                                      name='filename_1_uploadDate_1')
        await self.files.create_index([('metadata.sha256', ASCENDING)], unique=True, name='sha256')
        await self.files.create_index([('metadata.telegram_id', ASCENDING)], name='telegram_id')
        await self.links.create_index([('channel_id', ASCENDING)], name='channel')
        await self.links.create_index([('file_id', ASCENDING)], name='file')
        await self.downloads.create_index([('channel_id', ASCENDING)], name='channel')

    # ------------------------------------------------------------ kept files

    async def kept(self, channel_id: int, message_id: int) -> KeptFile | None:
        link = await self.links.find_one({'_id': link_key(channel_id, message_id)})
        return KeptFile.of(link) if link else None

    async def kept_many(self, channel_id: int, message_ids: list[int]) -> dict[int, KeptFile]:
        keys = [link_key(channel_id, message_id) for message_id in message_ids]
        return {link['message_id']: KeptFile.of(link) async for link in self.links.find({'_id': {'$in': keys}})}

    async def by_telegram_id(self, telegram_id: str) -> dict[str, Any] | None:
        """The kept file of this Telegram file (its id and size type), if any post's download kept it."""
        return await self.files.find_one({'metadata.telegram_id': telegram_id})

    async def open(self, file_id: ObjectId) -> AsyncGridOut:
        return await self.bucket.open_download_stream(file_id)

    async def link(self, channel_id: int, message_id: int, file: dict[str, Any], *, type: str) -> KeptFile:
        meta = file.get('metadata') or {}
        doc = {'channel_id': channel_id, 'message_id': message_id, 'file_id': file['_id'], 'sha256': meta['sha256'],
               'size': file['length'], 'type': type, 'mime_type': meta.get('mime_type') or 'application/octet-stream',
               'file_name': file.get('filename') or '', 'kept_at': utcnow()}
        await self.links.replace_one({'_id': link_key(channel_id, message_id)}, doc, upsert=True)
        return KeptFile.of(doc)

    # ------------------------------------------------------------ downloads under way

    async def download_state(self, key: str) -> dict[str, Any] | None:
        return await self.downloads.find_one({'_id': key})

    async def begin(self, key: str, *, channel_id: int, telegram_id: str, size: int) -> dict[str, Any]:
        """The download of this key: the one under way (its stored parts kept) or a new one. A download of another
        Telegram file under the same key (the post's media was replaced) starts over."""
        state = await self.downloads.find_one({'_id': key})
        if state is not None and state.get('telegram_id') == telegram_id and state.get('size') == size:
            return state
        if state is not None:
            await self.chunks.delete_many({'files_id': state['files_id']})
        state = {'_id': key, 'channel_id': channel_id, 'files_id': ObjectId(), 'telegram_id': telegram_id, 'size': size,
                 'parts': 0, 'started_at': utcnow()}
        await self.downloads.replace_one({'_id': key}, state, upsert=True)
        return state

    async def put_part(self, state: dict[str, Any], n: int, data: bytes) -> None:
        await self.chunks.replace_one({'files_id': state['files_id'], 'n': n},
                                      {'files_id': state['files_id'], 'n': n, 'data': data}, upsert=True)
        await self.downloads.update_one({'_id': state['_id']}, {'$set': {'parts': n + 1, 'updated_at': utcnow()}})
        state['parts'] = n + 1

    async def stored_parts(self, state: dict[str, Any]):
        """The parts stored so far, in order (to hash them when a download resumes)."""
        async for chunk in self.chunks.find({'files_id': state['files_id'], 'n': {'$lt': state['parts']}}).sort('n'):
            yield bytes(chunk['data'])

    async def finish(self, state: dict[str, Any], *, length: int, sha256: str, mime_type: str, file_name: str,
                     uploaded: datetime | None = None) -> dict[str, Any]:
        """Make the stored parts a file (or, when a file with these bytes is kept already, drop them for it)."""
        doc = {'_id': state['files_id'], 'length': length, 'chunkSize': PART_BYTES, 'uploadDate': uploaded or utcnow(),
               'filename': file_name,
               'metadata': {'sha256': sha256, 'mime_type': mime_type, 'telegram_id': state['telegram_id']}}
        try:
            await self.files.insert_one(doc)
        except DuplicateKeyError:
            await self.chunks.delete_many({'files_id': state['files_id']})
            doc = await self.files.find_one({'metadata.sha256': sha256})
        await self.downloads.delete_one({'_id': state['_id']})
        return doc

    # ------------------------------------------------------------ the policy's jobs

    async def job(self, channel_id: int) -> dict[str, Any] | None:
        return await self.jobs.find_one({'_id': channel_id})

    async def claim_job(self, channel_id: int, owner: str, *, lease_seconds: float) -> bool:
        """Take (or keep) the channel's policy work for this process unless another process's lease still runs."""
        now = utcnow()
        doc = await self.jobs.find_one({'_id': channel_id}, {'owner': 1, 'lease_until': 1})
        if doc is not None and doc.get('owner') not in (None, owner) and doc.get('lease_until') and \
                doc['lease_until'] > now:
            return False
        await self.jobs.update_one({'_id': channel_id}, {'$set': {
            'owner': owner, 'lease_until': now + timedelta(seconds=lease_seconds)}}, upsert=True)
        return True

    async def save_job(self, channel_id: int, **fields: Any) -> None:
        await self.jobs.update_one({'_id': channel_id}, {'$set': {**fields, 'updated_at': utcnow()}}, upsert=True)

    async def kept_ids(self, channel_id: int) -> set[int]:
        return {link['message_id'] async for link in self.links.find({'channel_id': channel_id}, {'message_id': 1})}

    # ------------------------------------------------------------ storage

    async def kept_total(self, channel_ids: list[int]) -> tuple[int, int]:
        """How many files the channels' posts show from the kept ones, and their bytes."""
        by_type = (await self._by_type(channel_ids)).values()
        return sum(entry['count'] for entry in by_type), sum(entry['bytes'] for entry in by_type)

    async def storage(self, channel_id: int) -> dict[str, dict[str, int]]:
        """Kept files of a channel by type: {type: {count, bytes}}."""
        return await self._by_type([channel_id])

    async def _by_type(self, channel_ids: list[int]) -> dict[str, dict[str, int]]:
        # counted by the database: a channel page's header asks on every refresh, a link per kept file
        cursor = await self.links.aggregate([
            {'$match': {'channel_id': {'$in': channel_ids}}},
            {'$group': {'_id': '$type', 'count': {'$sum': 1}, 'bytes': {'$sum': '$size'}}}])
        return {row['_id']: {'count': row['count'], 'bytes': row['bytes']} async for row in cursor}

    async def drop_channel(self, channel_id: int, *, keep_files: bool) -> int:
        """Forget which of the channel's posts show which file; unless `keep_files`, delete each file no other
        channel's post shows. Returns how many files were deleted."""
        file_ids = {link['file_id'] async for link in self.links.find({'channel_id': channel_id}, {'file_id': 1})}
        if keep_files:
            return 0
        await self.links.delete_many({'channel_id': channel_id})
        deleted = 0
        for file_id in file_ids:
            if await self.links.find_one({'file_id': file_id}, {'_id': 1}) is None:
                await self.bucket.delete(file_id)
                deleted += 1
        async for state in self.downloads.find({'channel_id': channel_id}):
            await self.chunks.delete_many({'files_id': state['files_id']})
            await self.downloads.delete_one({'_id': state['_id']})
        return deleted

    async def forget_job(self, channel_id: int) -> None:
        await self.jobs.delete_one({'_id': channel_id})
