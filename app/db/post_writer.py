"""The post writer: the one way posts are stored, changed or marked deleted.

Every source (backfill, sync, live updates, view counts, the audit) hands it what Telegram said; it compares with
what is stored and decides per post: created, edited, deleted, restored, counters only, or nothing at all (a
re-read of an unchanged post writes nothing). A change of content keeps the previous version and extends the
post's hash chain and the channel's chain head (app.db.post_hash). Each write's changes go to the change feed
(app.db.change_feed) in the same transaction as the posts, so no post is stored without its change.

Transactions need a replica set (the embedded database is one; a standalone MongoDB server is not): without one,
the writes run in the same order without a transaction, and a warning says how to get the guarantee back.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loguru import logger
from pymongo import InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from app.db.change_feed import ChangeFeed, ChangeKind
from app.db.channels_repo import ChannelsRepo
from app.db.client import transactions_supported
from app.db.models import utcnow
from app.db.post_hash import COUNTER_FIELDS, as_first_version, content, counters, fold_head, version_hash
from app.db.post_versions import PostVersionsRepo, version_doc
from app.db.posts_repo import PostsRepo

# kept beside a post, not part of what it said (no version, no change): where its file is and its thumbnail; a post
# stored before they were kept gets them from its next read
BESIDE_FIELDS = ('media_file', 'thumb')
DELETION_FIELDS = ('version', 'prev_hash', 'version_at', 'deleted', 'deleted_at', 'hash')
VERSIONED = (ChangeKind.CREATED, ChangeKind.EDITED, ChangeKind.DELETED, ChangeKind.RESTORED)


@dataclass
class WriteResult:
    channel_id: int
    created: list[int] = field(default_factory=list)
    edited: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    restored: list[int] = field(default_factory=list)
    counters: list[int] = field(default_factory=list)
    first_position: int | None = None
    last_position: int | None = None
    posts_stored: int | None = None  # the channel's stored total after this write, when posts were created

    @property
    def changes(self) -> int:
        return len(self.created) + len(self.edited) + len(self.deleted) + len(self.restored) + len(self.counters)


Listener = Callable[[WriteResult], Awaitable[None] | None]


def _sealed(old: dict[str, Any]) -> dict[str, Any]:
    """A stored post as a version with a hash: posts stored before versions were kept get theirs now."""
    if old.get('hash'):
        return old
    sealed = {**old, 'version': old.get('version') or 1, 'version_at': old.get('version_at') or old.get('fetched_at')}
    sealed['hash'] = version_hash(sealed, None)
    sealed['prev_hash'] = None
    return sealed


@dataclass
class Plan:
    """What one write does, decided from what Telegram said and what is stored: documents to insert, fields to set
    on stored ones, versions to keep, and the changes in feed order (message id, kind, the new version or None)."""
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)  # (stored _id, fields to set)
    kept: list[dict[str, Any]] = field(default_factory=list)
    changes: list[tuple[int, ChangeKind, dict[str, Any] | None]] = field(default_factory=list)

    @classmethod
    def of(cls, docs: list[dict[str, Any]], gone: list[int], stored: dict[int, dict[str, Any]],
           now: datetime) -> Plan:
        plan = cls()
        for doc in sorted(docs, key=lambda d: d['message_id']):
            plan._fetched(doc, stored.get(doc['message_id']), now)
        for message_id in gone:
            old = stored.get(message_id)
            if old is not None and not old.get('deleted'):
                plan._gone(message_id, old, now)
        return plan

    def _fetched(self, doc: dict[str, Any], old: dict[str, Any] | None, now: datetime) -> None:
        message_id = doc['message_id']
        if old is None:  # `prepare` made it a first version, hashed (see post_hash.as_first_version)
            new = doc if doc.get('hash') and doc.get('version') == 1 else as_first_version({**doc})
            self.inserts.append(new)
            self.changes.append((message_id, ChangeKind.CREATED, new))
            return
        edited = content(old) != content(doc)
        if edited or old.get('deleted'):
            old = _sealed(old)
            self.kept.append(version_doc(old))
            new = {**doc, 'version': old['version'] + 1, 'edits': (old.get('edits') or 0) + edited,
                   'prev_hash': old['hash'], 'version_at': doc.get('fetched_at') or now, 'deleted': False,
                   'deleted_at': None}
            new['hash'] = version_hash(new, old['hash'])
            self.updates.append((old['_id'], new))
            self.changes.append((message_id, ChangeKind.EDITED if edited else ChangeKind.RESTORED, new))
        else:
            fields = {name: doc[name] for name in BESIDE_FIELDS if old.get(name) is None and doc.get(name) is not None}
            if counters(old) != counters(doc):
                fields.update({name: doc.get(name) for name in COUNTER_FIELDS})
                fields['fetched_at'] = doc.get('fetched_at', now)
                self.changes.append((message_id, ChangeKind.COUNTERS, None))
            if fields:
                self.updates.append((old['_id'], fields))

    def _gone(self, message_id: int, old: dict[str, Any], now: datetime) -> None:
        old = _sealed(old)
        self.kept.append(version_doc(old))
        new = {**old, 'version': old['version'] + 1, 'prev_hash': old['hash'], 'version_at': now, 'deleted': True,
               'deleted_at': now}
        new['hash'] = version_hash(new, old['hash'])
        fields = {name: new[name] for name in DELETION_FIELDS}
        self.updates.append((old['_id'], fields))
        self.changes.append((message_id, ChangeKind.DELETED, fields))

    def operations(self, first: int) -> list[Any]:
        """The posts' writes; each new version (an inserted document or the fields set on a stored one) learns the
        position of its change, the first of which is `first`."""
        positions = {id(new): first + offset for offset, (_, _, new) in enumerate(self.changes) if new is not None}
        ops: list[Any] = []
        for new in self.inserts:
            new['position'] = positions[id(new)]
            ops.append(InsertOne(new))
        for stored_id, fields in self.updates:
            if id(fields) in positions:
                fields['position'] = positions[id(fields)]
            fields.pop('_id', None)
            ops.append(UpdateOne({'_id': stored_id}, {'$set': fields}))
        return ops


class PostWriter:
    """The writer of one collection: `posts`, or (`source='comments'`) the comments of discussion groups, whose
    `channel_id` is the group's; both keep versions, hash chains (per channel or group) and one feed."""

    def __init__(self, db: AsyncDatabase, posts: PostsRepo, versions: PostVersionsRepo, feed: ChangeFeed,
                 channels: ChannelsRepo, *, source: str = 'posts') -> None:
        self.source = source
        self.client = db.client
        self.posts = posts
        self.versions = versions
        self.feed = feed
        self.channels = channels
        self.heads = db['chain_heads']
        self.listeners: dict[str, Listener] = {}  # by name: who hears of each committed write (set again, replaced)
        self._transactions: bool | None = None

    async def ensure_indexes(self) -> None:
        pass  # chain heads are keyed by channel id alone

    # ------------------------------------------------------------ the doors

    async def store(self, channel_id: int, docs: list[dict[str, Any]], *, gone: Iterable[int] = (),
                    now: datetime | None = None) -> WriteResult:
        """Write what Telegram holds: `docs` prepared by `PostsRepo.prepare`, `gone` the ids it no longer has."""
        gone = sorted(set(gone) - {doc['message_id'] for doc in docs})
        if not docs and not gone:
            return WriteResult(channel_id)
        return await self._run(channel_id, lambda session: self._write(session, channel_id, docs, gone, now))

    async def delete(self, channel_id: int, message_ids: Iterable[int], *, now: datetime | None = None) -> WriteResult:
        return await self.store(channel_id, [], gone=message_ids, now=now)

    async def views(self, channel_id: int, message_id: int, views: int) -> WriteResult:
        """A live count of views: a counters-only change when the post is stored and the number moved."""
        async def write(session: AsyncClientSession | None) -> WriteResult:
            result = WriteResult(channel_id)
            old = await self.posts.collection.find_one({'channel_id': channel_id, 'message_id': message_id},
                                                       {'views': 1, 'deleted': 1}, session=session)
            if old is None or old.get('views') == views:
                return result
            first = await self._positions(1, session)
            await self.posts.collection.update_one({'_id': old['_id']}, {'$set': {'views': views}}, session=session)
            await self.feed.append(channel_id, first, [(message_id, ChangeKind.COUNTERS.value, None)], utcnow(),
                                   session, self.source)
            result.counters.append(message_id)
            result.first_position = result.last_position = first
            return result
        return await self._run(channel_id, write)

    async def forget_channel(self, channel_id: int) -> None:
        """A channel removed from Parsegram: its chain head goes with its posts (the feed keeps what happened)."""
        await self.heads.delete_one({'_id': channel_id})

    async def chain_head(self, channel_id: int) -> dict[str, Any] | None:
        return await self.heads.find_one({'_id': channel_id})

    # ------------------------------------------------------------ the work

    async def _write(self, session: AsyncClientSession | None, channel_id: int, docs: list[dict[str, Any]],
                     gone: list[int], now: datetime | None) -> WriteResult:
        now = now or utcnow()
        stored = await self._stored(channel_id, [doc['message_id'] for doc in docs] + gone, session)
        plan = Plan.of(docs, gone, stored, now)
        result = WriteResult(channel_id)
        if not plan.changes:
            if plan.updates:  # only what is kept beside posts: nothing to version or announce
                await self.posts.collection.bulk_write(plan.operations(0), ordered=False, session=session)
            return result
        first = await self._positions(len(plan.changes), session)
        await self.posts.collection.bulk_write(plan.operations(first), ordered=False, session=session)
        await self.versions.keep(plan.kept, session)
        await self.feed.append(channel_id, first, [(m, kind.value, new['hash'] if new else None)
                                                   for m, kind, new in plan.changes], now, session, self.source)
        hashes = [new['hash'] for _, kind, new in plan.changes if new is not None and kind in VERSIONED]
        head = await self.heads.find_one({'_id': channel_id}, session=session)
        last = first + len(plan.changes) - 1
        await self.heads.update_one(
            {'_id': channel_id},
            {'$set': {'head': fold_head((head or {}).get('head'), hashes), 'position': last, 'at': now},
             '$inc': {'versions': len(hashes)}}, upsert=True, session=session)
        for message_id, kind, _ in plan.changes:
            {ChangeKind.CREATED: result.created, ChangeKind.EDITED: result.edited, ChangeKind.DELETED: result.deleted,
             ChangeKind.RESTORED: result.restored, ChangeKind.COUNTERS: result.counters}[kind].append(message_id)
        result.first_position, result.last_position = first, last
        return result

    async def _stored(self, channel_id: int, ids: list[int], session: AsyncClientSession | None
                      ) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        low, high = min(ids), max(ids)
        # a page of history is a range of ids: read it as one (an index range scan); scattered ids by name
        query: dict[str, Any] = {'$gte': low, '$lte': high} if high - low < 4 * len(ids) else {'$in': ids}
        docs = await self.posts.collection.find({'channel_id': channel_id, 'message_id': query},
                                                {'tokens': 0}, session=session).to_list()
        return {doc['message_id']: doc for doc in docs}

    async def _positions(self, count: int, session: AsyncClientSession | None) -> int:
        return await self.feed.take_positions(count, session)  # type: ignore[arg-type]

    async def _run(self, channel_id: int, work: Callable[[AsyncClientSession | None], Awaitable[WriteResult]]
                   ) -> WriteResult:
        if await self._use_transactions():
            async with self.client.start_session() as session:
                result = await session.with_transaction(work)
        else:
            result = await work(None)
        if result.created and self.source == 'posts':
            result.posts_stored = await self.channels.add_posts_stored(channel_id, len(result.created))
        if result.changes:
            for listener in list(self.listeners.values()):
                try:
                    answer = listener(result)
                    if answer is not None:
                        await answer
                except Exception:  # a listener's failure must not undo or fail a committed write
                    logger.exception('a post-write listener failed')
        return result

    async def _use_transactions(self) -> bool:
        if self._transactions is None:
            self._transactions = await transactions_supported(self.client)
            if not self._transactions:
                logger.warning('MongoDB runs as a standalone server: posts and their changes are written without a '
                               'transaction, so a crash between the two can lose a change. Run MongoDB as a replica '
                               'set (a single member is enough: mongod --replSet rs0, then rs.initiate()) to keep '
                               'them together.')
        return self._transactions
