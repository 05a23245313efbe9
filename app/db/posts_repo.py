"""Repository for the `posts` collection.

Unique on (channel_id, message_id). Text search is the search index's (app.search): filters here are dates,
media and deletion. Pages walk message ids downwards in growing windows so every query is an index range scan,
never a full sort.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from app.db.models import Channel, MediaFile, Post, utcnow
from app.db.post_hash import as_first_version

ID_CEILING = 2**31  # message ids are 32-bit in Telegram's schema: none is stored at or above this

MAX_WINDOW = 1 << 20
OLD_INDEXES = ('channel_tokens',)  # the word index before the search index took text search


@dataclass
class PostFilter:
    since: datetime | None = None
    until: datetime | None = None
    has_media: bool | None = None
    include_deleted: bool = True

    def mongo(self) -> dict[str, Any]:
        """The indexed part of the filter: none. The embedded server's planner falls back to a collection scan when
        a query names any field outside the index, so every condition is checked by `accepts` on what an index
        range of message ids returns."""
        return {}

    def checked_in_python(self) -> bool:
        return bool(self.since or self.until or self.has_media is not None or not self.include_deleted)

    def accepts(self, doc: dict[str, Any]) -> bool:
        if self.since and doc['date'] < self.since:
            return False
        if self.until and doc['date'] > self.until:
            return False
        if self.has_media is not None and bool(doc.get('has_media')) != self.has_media:
            return False
        return self.include_deleted or not doc.get('deleted')


def newest_hint(channel: Channel) -> int:
    """The newest message id the channel's sync state knows (see PostsRepo._upper_bound)."""
    return max(channel.state.top_message_id, channel.state.last_message_id)


def post_doc(post: Post) -> dict[str, Any]:
    doc = post.to_doc()
    doc['has_media'] = post.media is not None
    if post.media_file is not None:  # excluded from the model's dumps (API answers, exports), kept in the database
        doc['media_file'] = post.media_file.model_dump()
    if post.thumb is not None:
        doc['thumb'] = post.thumb
    return doc


def post_from_doc(doc: dict[str, Any]) -> Post:
    data = {k: v for k, v in doc.items() if k not in ('_id', 'tokens', 'has_media')}
    return Post.model_validate(data)


async def _first_true(check: Callable[[int], Awaitable[bool]], lo: int, hi: int) -> int:
    """The smallest x in (lo, hi] for which `check` holds, by bisection; `check` is false at lo, true at hi and
    flips once in between."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if await check(mid):
            hi = mid
        else:
            lo = mid
    return hi


async def _negated(answer: Awaitable[bool]) -> bool:
    return not await answer


class PostsRepo:
    collection_name = 'posts'

    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[self.collection_name]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([('channel_id', ASCENDING), ('message_id', ASCENDING)], unique=True,
                                           name='channel_message_unique')
        existing = await self.collection.index_information()
        for name in OLD_INDEXES:
            if name in existing:
                await self.collection.drop_index(name)
        await self.collection.create_index([('channel_id', ASCENDING), ('date', ASCENDING)], name='channel_date')

    # ------------------------------------------------------------ writes

    @staticmethod
    def prepare(posts: Iterable[Post]) -> list[dict[str, Any]]:
        """Documents for the post writer (app.db.post_writer), which makes every post write; pure CPU work:
        callers may run it in a thread."""
        docs = []
        for post in posts:
            doc = as_first_version(post_doc(post))  # what the writer stores when the post is new
            doc.pop('_id', None)
            docs.append(doc)
        return docs

    async def delete_channel(self, *, channel_id: int) -> int:
        result = await self.collection.delete_many({'channel_id': channel_id})
        return result.deleted_count

    async def set_media_file(self, *, channel_id: int, message_id: int, media_file: MediaFile) -> None:
        """A renewed file reference. Where the file is is not part of what the post said, so this is no change
        of the post (no version, nothing in the feed) and the only post field written outside the post writer."""
        await self.collection.update_one({'channel_id': channel_id, 'message_id': message_id},
                                         {'$set': {'media_file': media_file.model_dump()}})

    # ------------------------------------------------------------ reads

    async def commented(self, channel_id: int, *, since: datetime | None = None, before: datetime | None = None,
                        below_id: int | None = None) -> list[int]:
        """Ids of the channel's posts with comments (Telegram's count above 0), newest first, posted since/before
        these dates and below `below_id`."""
        query: dict[str, Any] = {'channel_id': channel_id, 'replies': {'$gt': 0}}
        dates = {**({'$gte': since} if since else {}), **({'$lt': before} if before else {})}
        if dates:
            query['date'] = dates
        if below_id is not None:
            query['message_id'] = {'$lt': below_id}
        cursor = self.collection.find(query, {'_id': 0, 'message_id': 1}).sort('message_id', -1)
        return [doc['message_id'] async for doc in cursor]

    async def files_to_keep(self, channel_id: int, types: list[str], max_bytes: int,
                            window: int = 5_000) -> list[tuple[int, int]]:
        """(message id, bytes) of the channel's posts that are not deleted and hold a file of these types of at most
        `max_bytes`, newest first. Read in windows of message ids, so no read holds a big channel at once."""
        top = await self.collection.find_one({'channel_id': channel_id}, {'message_id': 1}, sort=[('message_id', -1)])
        found: list[tuple[int, int]] = []
        high = (top or {}).get('message_id', 0)
        while high > 0:
            low = max(0, high - window)
            cursor = self.collection.find(
                {'channel_id': channel_id, 'message_id': {'$gt': low, '$lte': high}, 'deleted': {'$ne': True},
                 'media.type': {'$in': types}, 'media.size': {'$lte': max_bytes}},
                {'_id': 0, 'message_id': 1, 'media.size': 1}).sort('message_id', -1)
            found.extend([(doc['message_id'], doc['media']['size']) async for doc in cursor])
            high = low
        return found

    async def get(self, *, channel_id: int, message_id: int) -> Post | None:
        doc = await self.collection.find_one({'channel_id': channel_id, 'message_id': message_id})
        return post_from_doc(doc) if doc else None

    async def count(self, *, channel_id: int, filter: PostFilter | None = None) -> int:
        filter = filter or PostFilter()
        query = {'channel_id': channel_id, **filter.mongo()}
        if not filter.checked_in_python():
            return await self.collection.count_documents(query)
        fields = {'date': 1, 'has_media': 1, 'deleted': 1}
        return sum([filter.accepts(doc) async for doc in self.collection.find(query, fields)])

    async def docs_by_keys(self, keys: Iterable[tuple[int, int]],
                           projection: dict[str, int] | None = None) -> list[dict[str, Any]]:
        """The stored documents of these (channel id, message id) pairs: one index range per channel (the embedded
        server answers an $or of pairs, or $in on both fields, with a collection scan)."""
        by_channel: dict[int, list[int]] = {}
        for channel_id, message_id in keys:
            by_channel.setdefault(channel_id, []).append(message_id)
        docs: list[dict[str, Any]] = []
        for channel_id, message_ids in by_channel.items():
            docs += await self.collection.find({'channel_id': channel_id, 'message_id': {'$in': message_ids}},
                                               projection).to_list()
        return docs

    async def max_message_id(self, *, channel_id: int, below: int | None = None) -> int:
        """Highest stored message id (below `below`), found by walking id windows down the unique index."""
        hi = below if below is not None else await self._upper_bound(channel_id)
        window = 64
        while hi > 0:
            lo = max(0, hi - window)
            docs = await self.collection.find(
                {'channel_id': channel_id, 'message_id': {'$gte': lo, '$lt': hi}}, {'message_id': 1}).to_list()
            if docs:
                return max(d['message_id'] for d in docs)
            hi, window = lo, min(window * 4, MAX_WINDOW)
        return 0

    async def newest_date(self, *, channel_id: int, newest_hint: int = 0) -> datetime | None:
        """The date of the channel's newest stored post (None without posts)."""
        newest = await self.max_message_id(channel_id=channel_id,
                                           below=await self._upper_bound(channel_id, newest_hint))
        doc = await self.collection.find_one({'channel_id': channel_id, 'message_id': newest}, {'date': 1}) \
            if newest else None
        return doc.get('date') if doc else None

    async def _upper_bound(self, channel_id: int, newest_hint: int = 0) -> int:
        """One more than the highest stored message id.

        The embedded server reads every match of a query before applying a limit, so "sort by id, limit 1" or a
        probe "any id >= x" costs as much as the posts it matches. Probes therefore only look above
        `newest_hint` (the channel's known newest id: few or no posts lie above it); without a hint the search
        falls back to an exponential and binary search from zero.
        """
        async def exists(at_least: int) -> bool:
            return await self.collection.find_one(
                {'channel_id': channel_id, 'message_id': {'$gte': at_least}}, {'_id': 1}) is not None

        lo = max(newest_hint, 0) + 1
        if not await exists(lo):  # the hint was the newest id (or above it): one probe
            return lo
        hi = max(lo * 2, 1024)  # invariant: an id >= lo exists, none >= hi
        while await exists(hi):
            lo, hi = hi, hi * 4
        return await _first_true(lambda x: _negated(exists(x)), lo, hi)  # the first x with no id >= x

    async def _lowest_id(self, channel_id: int) -> int:
        """The lowest stored message id (0 without posts), by probes "any id below x" growing from 2: each probe
        reads only ids below x, so the cost follows the lowest id, not the channel's size."""
        async def any_below(at_most: int) -> bool:
            return await self.collection.find_one(
                {'channel_id': channel_id, 'message_id': {'$lt': at_most}}, {'_id': 1}) is not None

        lo, hi = 0, 2  # invariant: no id below lo, some below hi
        while not await any_below(hi):
            if hi >= ID_CEILING:  # no posts at all
                return 0
            lo, hi = hi, min(hi * 4, ID_CEILING)
        return await _first_true(any_below, lo, hi) - 1  # the first x with an id below x is the lowest id + 1

    async def page(self, *, channel_id: int, limit: int = 50, before_id: int | None = None,
                   filter: PostFilter | None = None, newest_hint: int = 0) -> tuple[list[Post], int | None]:
        """Posts newest first, below `before_id`; returns (items, next_before_id or None at the end).

        Pass the channel's newest known message id as `newest_hint` (see `_upper_bound`).
        """
        items: list[Post] = []
        async for post in self._walk(channel_id, before_id, filter or PostFilter(), limit, newest_hint):
            items.append(post)
            if len(items) >= limit:
                break
        next_before = items[-1].message_id if len(items) >= limit else None
        return items, next_before

    async def stream(self, *, channel_id: int, filter: PostFilter | None = None,
                     newest_hint: int = 0) -> AsyncIterator[Post]:
        """Every matching post, newest first, in bounded memory (for exports)."""
        async for post in self._walk(channel_id, None, filter or PostFilter(), 500, newest_hint):
            yield post

    async def stream_docs(self, *, channel_id: int, projection: dict[str, int] | None = None,
                          newest_hint: int = 0) -> AsyncIterator[dict[str, Any]]:
        """Every stored document of the channel, newest first, read in bounded id windows (a whole-collection cursor
        makes the embedded server hold every match at once)."""
        async for doc in self._walk_docs(channel_id, None, PostFilter(), 1000, newest_hint, projection):
            yield doc

    async def _walk(self, channel_id: int, before_id: int | None, filter: PostFilter, want: int,
                    newest_hint: int = 0) -> AsyncIterator[Post]:
        async for doc in self._walk_docs(channel_id, before_id, filter, want, newest_hint):
            yield post_from_doc(doc)

    async def _walk_docs(self, channel_id: int, before_id: int | None, filter: PostFilter, want: int,
                         newest_hint: int = 0, projection: dict[str, int] | None = None
                         ) -> AsyncIterator[dict[str, Any]]:
        query = filter.mongo()
        # the walk stays inside the stored ids whatever `before_id` says: its cost follows the posts, not the numbers
        hi = await self._upper_bound(channel_id, newest_hint)
        if before_id is not None:
            hi = min(hi, before_id)
        lowest: int | None = None
        window = max(want * 2, 64)
        while hi > 0:
            lo = max(0, hi - window)
            found = await self.collection.find(
                {'channel_id': channel_id, 'message_id': {'$gte': lo, '$lt': hi}, **query}, projection).to_list()
            if not found:
                lowest = await self._lowest_id(channel_id) if lowest is None else lowest
                if lo <= lowest:
                    return
            docs = sorted((doc for doc in found if filter.accepts(doc)), key=lambda d: d['message_id'], reverse=True)
            for doc in docs:
                yield doc
            if filter.since and found and min(d['date'] for d in found) < filter.since:
                return  # ids grow with dates in a channel: nothing older can match
            hi = lo
            window = min(window * 2, MAX_WINDOW) if len(docs) < want else window

    async def ids_between(self, *, channel_id: int, min_id: int, max_id: int,
                          include_deleted: bool = False) -> list[int]:
        docs = await self.collection.find({'channel_id': channel_id, 'message_id': {'$gte': min_id, '$lte': max_id}},
                                          {'message_id': 1, 'deleted': 1}).to_list()
        return sorted(d['message_id'] for d in docs if include_deleted or not d.get('deleted'))

    async def recent_ids(self, *, channel_id: int, days: int, now: datetime | None = None) -> list[int]:
        since = (now or utcnow()) - timedelta(days=days)
        docs = await self.collection.find({'channel_id': channel_id, 'date': {'$gte': since}},
                                          {'message_id': 1, 'deleted': 1}).to_list()
        return sorted(d['message_id'] for d in docs if not d.get('deleted'))

    # ------------------------------------------------------------ charts

    async def daily(self, *, channel_id: int, days: int = 90, now: datetime | None = None, chunk_days: int = 10,
                    between: Callable[[], Awaitable[None]] | None = None) -> list[tuple[str, int, float | None]]:
        """(day, posts, average views per post) for each day of posting in the last `days` whole days, oldest first.

        Read a few days at a time: on a busy database a page of posts someone asked for gets its turn between the
        chunks instead of waiting behind one long scan of a large channel's months."""
        end = now or utcnow()
        start = datetime.combine((end - timedelta(days=days - 1)).date(), datetime.min.time(), tzinfo=UTC)
        rows: list[tuple[str, int, float | None]] = []
        first = start
        while start <= end:
            if between is not None and start > first:
                await between()  # `between` may hold the next chunk back while more urgent reads run
            stop = min(start + timedelta(days=chunk_days), end + timedelta(microseconds=1))
            found = await (await self.collection.aggregate([
                {'$match': {'channel_id': channel_id, 'date': {'$gte': start, '$lt': stop}}},
                {'$group': {'_id': {'$dateToString': {'format': '%Y-%m-%d', 'date': '$date'}}, 'n': {'$sum': 1},
                            'v': {'$avg': '$views'}}},  # $avg skips posts without views
            ])).to_list()
            rows.extend((row['_id'], row['n'], None if row['v'] is None else round(row['v'], 1)) for row in found)
            start = stop
        return sorted(rows)
