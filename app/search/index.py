"""The search index: derived from MongoDB, kept current by the change feed, rebuilt when it cannot be trusted.

The indexer is a consumer of the change feed that keeps its position with the index (not in MongoDB: every
Parsegram process on the database keeps an index of its own, each from the same feed). On start it rebuilds
from the posts collection when the index is missing, of an older format, or behind what the feed still keeps
(trimmed past its position), or ahead of it (another database); a rebuild notes the feed's head first, reads
every post, then goes on from that head, so changes made while it read are applied again, harmlessly.
"""
from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from loguru import logger
from pymongo.asynchronous.client_session import AsyncClientSession

from app.db.change_feed import Change, ChangeFeed
from app.db.repos import Repos
from app.events import ChannelChanged
from app.feed_consumers import FeedConsumer
from app.search.engine import IndexedPost, SearchEngine
from app.search.tantivy_engine import TantivyEngine
from app.search.words import analyse

REBUILD_BATCH = 2_000
REBUILD_MARKER = 'rebuild-requested'
SLOTS = 16
FIELDS = {'_id': 0, 'tokens': 0, 'has_media': 0, 'media_file': 0}  # the post as pages show it, without what is only
# MongoDB's or the downloader's


def bare_peer_id(marked: int | None) -> int | None:
    """A forward's source as the channel id Parsegram stores (-100… marked ids to bare ones; users as they are)."""
    if marked is None:
        return None
    return -marked - 10**12 if marked < -10**12 else abs(marked)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):  # a thumbnail: Post reads base64 back (val_json_bytes)
        return base64.b64encode(value).decode()
    raise TypeError(f'{type(value).__name__} is not JSON')


def stored_form(doc: dict[str, Any]) -> bytes:
    """The post as JSON (Post.model_validate_json reads it back), kept with its index entry."""
    return json.dumps(doc, default=_json_value, ensure_ascii=False, separators=(',', ':')).encode()


def indexed_post(doc: dict[str, Any]) -> IndexedPost:
    analysed = analyse(doc.get('text') or '')
    media = doc.get('media') or None
    return IndexedPost(
        channel_id=doc['channel_id'], message_id=doc['message_id'], date=doc['date'], forms=analysed.forms,
        lemmas=analysed.lemmas, tags=analysed.tags, views=doc.get('views') or 0,
        media_type=media.get('type') if media else None,
        forwarded_from=bare_peer_id((doc.get('fwd_from') or {}).get('from_id')),
        edited=(doc.get('edits') or 0) > 0, deleted=bool(doc.get('deleted')), comment='post_id' in doc,
        stored=stored_form({key: value for key, value in doc.items() if key not in FIELDS}))


def claim_slot(root: Path) -> tuple[Path, IO[str]]:
    """An index directory no other running process uses: `search`, else `search-2`, … (a lock held while open)."""
    root.mkdir(parents=True, exist_ok=True)
    for number in range(1, SLOTS + 1):
        path = root / ('search' if number == 1 else f'search-{number}')
        path.mkdir(exist_ok=True)
        handle = open(root / f'{path.name}.lock', 'w')  # noqa: SIM115 - held for the life of the index
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        handle.write(str(os.getpid()))
        handle.flush()
        return path, handle
    raise RuntimeError(f'All {SLOTS} search index directories under {root} are in use by other processes.')


def running_indexes(root: Path) -> list[Path]:
    """The index directories under DATA_DIR that a running process holds."""
    held = []
    for lock in sorted(root.glob('search*.lock')):
        with open(lock, 'a') as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                held.append(root / lock.stem)
            else:
                fcntl.flock(handle, fcntl.LOCK_UN)
    return held


@dataclass
class IndexStatus:
    state: str  # 'starting', 'building' or 'ready'
    posts: int  # documents in the index
    position: int  # the feed position it is current to
    done: int = 0  # while building: posts read so far, of about `total`
    total: int = 0


class SearchIndex(FeedConsumer):
    name = 'search'
    transactional = False  # the index is on disk: a batch seen twice just replaces the same posts again

    def __init__(self, repos: Repos, data_dir: Path) -> None:
        self.repos = repos
        self.data_dir = data_dir
        self.engine: SearchEngine | None = None
        self.path: Path | None = None  # the index directory this process claimed
        self._lock_handle: IO[str] | None = None
        self.status = IndexStatus('starting', 0, 0)
        self._rebuild = False
        self.listeners: list = []  # called with the status after a rebuild's progress or end

    # ------------------------------------------------------------ lifecycle

    def open(self) -> SearchEngine:
        if self.engine is None:
            path, self._lock_handle = claim_slot(self.data_dir)
            self.engine = TantivyEngine(path)
            self.path = path
        return self.engine

    async def close(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            await asyncio.to_thread(engine.close)
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None
        self.status = IndexStatus('starting', 0, 0)

    async def channel_changed(self, event: ChannelChanged) -> None:
        if event.deleted and self.engine is not None:  # its posts leave the database without a feed entry
            await asyncio.to_thread(self.engine.delete_channel, event.channel_id)
            await asyncio.to_thread(self.engine.commit, self.engine.position())

    def request_rebuild(self) -> None:
        self._rebuild = True
        if self.status.state != 'building':
            self.status = IndexStatus('building', self.status.posts, self.status.position)

    # ------------------------------------------------------------ feed consumer

    async def load_position(self, feed: ChangeFeed) -> int:
        engine = await asyncio.to_thread(self.open)
        head = await feed.head()
        oldest = await feed.oldest(head)
        position = engine.position()
        reason = None
        if engine.stored_format() != engine.format:
            reason = 'no index of this format yet'
        elif position > head:
            reason = f'index is at feed position {position}, beyond the database feed head {head}'
        elif oldest and position < oldest - 1:
            reason = f'the feed no longer keeps the changes after position {position}'
        if reason is None:
            self._ready()
            return position
        logger.info('search index: rebuilding from the database ({})', reason)
        return await self.rebuild(feed)

    async def reset_position(self, feed: ChangeFeed) -> int | None:
        marker = self.path / REBUILD_MARKER if self.path is not None else None
        if marker is not None and marker.exists():
            marker.unlink(missing_ok=True)
            self.request_rebuild()
        if not self._rebuild:
            return None
        return await self.rebuild(feed)

    async def save_position(self, feed: ChangeFeed, position: int, session: AsyncClientSession | None) -> None:
        assert self.engine is not None
        await asyncio.to_thread(self.engine.commit, position)
        self.status.position = position
        self.status.posts = await asyncio.to_thread(self.engine.count)

    async def handle(self, changes: list[Change], session: AsyncClientSession | None) -> None:
        assert self.engine is not None
        keys = list(dict.fromkeys((change.channel_id, change.message_id) for change in changes
                                  if change.source == 'posts'))
        comment_keys = list(dict.fromkeys((change.channel_id, change.message_id) for change in changes
                                          if change.source == 'comments'))
        docs = await self.repos.posts.docs_by_keys(keys, FIELDS) if keys else []
        if comment_keys:
            docs += await self.repos.comments.docs_by_keys(comment_keys, FIELDS)
            keys += comment_keys
        found = {(doc['channel_id'], doc['message_id']) for doc in docs}
        posts = await asyncio.to_thread(lambda: [indexed_post(doc) for doc in docs])
        gone = [key for key in keys if key not in found]  # removed with its channel
        await asyncio.to_thread(self.engine.upsert, posts)
        if gone:
            await asyncio.to_thread(self.engine.delete, gone)

    # ------------------------------------------------------------ rebuild

    async def rebuild(self, feed: ChangeFeed) -> int:
        engine = await asyncio.to_thread(self.open)
        self._rebuild = False
        head = await feed.head()
        total = await self.repos.posts.collection.estimated_document_count()
        self.status = IndexStatus('building', 0, 0, done=0, total=total)
        self._notify()
        await asyncio.to_thread(engine.clear)
        started = time.monotonic()
        batch: list[dict] = []
        last_note = started
        channels = await self.repos.channels.collection.find({}, {'state': 1, 'linked_chat_id': 1}).to_list()
        sources = []  # channel by channel, in bounded windows of ids; then the comments of their discussion groups
        for channel in channels:
            state = channel.get('state') or {}
            sources.append((self.repos.posts, channel['_id'],
                            max(state.get('top_message_id') or 0, state.get('last_message_id') or 0)))
        sources += [(self.repos.comments, channel['linked_chat_id'], 0) for channel in channels
                    if channel.get('linked_chat_id')]
        for repo, channel_id, hint in sources:
            async for doc in repo.stream_docs(channel_id=channel_id, projection=FIELDS, newest_hint=hint):
                batch.append(doc)
                if len(batch) >= REBUILD_BATCH:
                    await self._index_batch(engine, batch)
                    batch = []
                    if time.monotonic() - last_note >= 0.5:
                        last_note = time.monotonic()
                        self._notify()
        if batch:
            await self._index_batch(engine, batch)
        await asyncio.to_thread(engine.commit, head)
        logger.info('search index: {} posts indexed in {:.1f} s', self.status.done, time.monotonic() - started)
        self._ready()
        return head

    async def _index_batch(self, engine: SearchEngine, docs: list[dict]) -> None:
        await asyncio.to_thread(lambda: engine.upsert([indexed_post(doc) for doc in docs]))
        self.status.done += len(docs)
        self.status.total = max(self.status.total, self.status.done)

    def _ready(self) -> None:
        assert self.engine is not None
        self.status = IndexStatus('ready', self.engine.count(), self.engine.position())
        self._notify()

    def _notify(self) -> None:
        for listener in list(self.listeners):
            try:
                listener(self.status)
            except Exception:
                logger.exception('search index status listener failed')
