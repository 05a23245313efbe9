"""Search as the API and the pages ask it: parse, resolve the filters against the database, ask the engine, join
the hits with their posts and channels, and cut snippets. The engine runs in a worker thread, so no query holds
the event loop; its query is bounded (app.search.query) and so is how deep a cursor may page."""
from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from app.db.comments_repo import comment_from_doc
from app.db.models import Channel, Comment, Post
from app.db.posts_repo import post_from_doc
from app.export import post_link
from app.i18n import LazyText, lazy
from app.search.engine import Hit, Scope, Sort
from app.search.query import MEDIA_TYPES, Query, parse
from app.search.snippet import Matcher, highlight, snippet

if TYPE_CHECKING:
    from app.db.repos import Repos
    from app.search.index import SearchIndex

MAX_LIMIT = 100
MAX_OFFSET = 10_000  # deeper than this, narrow the search or export it
EXPORT_BATCH = 500
EXPORT_MAX = 1_000_000


class SearchRequestError(ValueError):
    """A search that cannot run as asked; the message says what to change."""

    def __init__(self, message: LazyText, column: int | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.column = column


class IndexUnavailable(RuntimeError):
    pass


@dataclass
class SearchRequest:
    q: str = ''
    channel_ids: list[int] | None = None
    tags: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    has_media: bool | None = None
    media_types: list[str] = field(default_factory=list)
    min_views: int | None = None
    forwarded_from: list[str] = field(default_factory=list)
    edited: bool | None = None
    deleted: bool | None = None
    sort: Sort = Sort.RELEVANCE
    limit: int = 20
    cursor: str | None = None
    before_id: int | None = None  # message ids below this only (a channel's pages)
    comment: bool | None = False  # False: posts only; True: comments only; None: posts and comments


@dataclass
class SearchItem:
    channel_id: int
    message_id: int
    date: datetime
    views: int | None
    forwards: int | None
    replies: int | None
    score: float | None
    snippet: str  # HTML: escaped text with each hit as <mark>…</mark>
    text: str
    channel_title: str
    channel_username: str | None
    media_type: str | None
    edits: int
    deleted: bool
    url: str  # the post (or the comment) on t.me
    post: Post = field(repr=False)
    comment_of: int | None = None  # a comment: the post it is under (channel_id is then the post's channel)

    def highlighted(self, matcher: Matcher) -> str:
        return highlight(self.text, matcher)


@dataclass
class SearchPage:
    items: list[SearchItem]
    total: int
    next_cursor: str | None
    query: Query
    matcher: Matcher


def stored_post(stored: bytes) -> Post:
    """A hit's stored copy: a comment when it names the post it is under."""
    return (Comment if b'"post_id"' in stored else Post).model_validate_json(stored)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f'o{offset}'.encode()).decode().rstrip('=')


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + '=' * (-len(cursor) % 4)).decode()
        if raw.startswith('o') and raw[1:].isdigit():
            return int(raw[1:])
    except (ValueError, UnicodeDecodeError):
        pass
    raise SearchRequestError(lazy('The cursor is not one this search gave: start again without it.'))


class SearchService:
    def __init__(self, repos: Repos, index: SearchIndex) -> None:
        self.repos = repos
        self.index = index

    def _engine(self):  # noqa: ANN202
        if self.index.engine is None:
            raise IndexUnavailable('the search index is not open yet')
        return self.index.engine

    async def _channels_named(self, refs: list[str]) -> list[int]:
        found = []
        for ref in refs:
            channel_id = await self.repos.channels.find_stored(ref)
            if channel_id is None:
                raise SearchRequestError(lazy('No stored channel matches "{ref}": give its id or @username.', ref=ref))
            found.append(channel_id)
        return found

    async def _sources(self, refs: list[str]) -> list[int]:
        found = []
        for ref in refs:
            text = ref.strip()
            if text.lstrip('-').isdigit():
                number = abs(int(text))
                found.append(number - 10**12 if number > 10**12 else number)
            else:
                found += await self._channels_named([text])
        return found

    async def scope(self, request: SearchRequest, query: Query) -> Scope:
        filters = query.filters
        channels: set[int] | None = None

        def narrow(ids: list[int]) -> None:
            nonlocal channels
            channels = set(ids) if channels is None else channels & set(ids)

        if request.channel_ids is not None:
            narrow(request.channel_ids)
        if filters.channels:
            narrow(await self._channels_named(filters.channels))
        tags = request.tags + filters.tags
        if tags:
            docs = await self.repos.channels.collection.find({'tags': {'$in': tags}}, {'_id': 1}).to_list()
            narrow([doc['_id'] for doc in docs])
        sources = request.forwarded_from + filters.forwarded_from
        since = max((d for d in (request.since, filters.since) if d), default=None)
        until = min((d for d in (request.until, filters.until) if d), default=None)
        media_types = sorted(set(request.media_types + filters.media_types))
        for media_type in media_types:
            if media_type not in MEDIA_TYPES:
                raise SearchRequestError(lazy('Unknown media type "{value}"; types are {types}.', value=media_type,
                                              types=', '.join(MEDIA_TYPES)))
        views = [v for v in (request.min_views, filters.min_views) if v]
        comment = filters.comment if filters.comment is not None else request.comment
        if channels is not None and comment is not False:  # the comments of these channels are in their groups
            docs = await self.repos.channels.collection.find(
                {'_id': {'$in': sorted(channels)}, 'linked_chat_id': {'$ne': None}}, {'linked_chat_id': 1}).to_list()
            channels = channels | {doc['linked_chat_id'] for doc in docs}
        return Scope(
            channel_ids=sorted(channels) if channels is not None else None,
            forwarded_from=await self._sources(sources) if sources else None,
            since=since, until=until,
            has_media=True if request.has_media or filters.has_media else request.has_media,
            media_types=media_types, min_views=max(views) if views else None,
            edited=filters.edited if filters.edited is not None else request.edited,
            deleted=filters.deleted if filters.deleted is not None else request.deleted, before_id=request.before_id,
            comment=comment)

    async def search(self, request: SearchRequest) -> SearchPage:
        query = parse(request.q)
        scope = await self.scope(request, query)
        offset = decode_cursor(request.cursor) if request.cursor else 0
        if offset > MAX_OFFSET:
            raise SearchRequestError(lazy('Pages end after {count} results: narrow the search or export it.',
                                          count=MAX_OFFSET))
        limit = max(1, min(request.limit, MAX_LIMIT))
        engine = self._engine()
        found = await asyncio.to_thread(engine.search, query, scope, request.sort, offset, limit)
        matcher = Matcher.of(query)
        items = await self._items(found.hits, matcher)
        more = offset + len(found.hits) < found.total and offset + limit <= MAX_OFFSET
        return SearchPage(items, found.total, encode_cursor(offset + limit) if more else None, query, matcher)

    async def _fetch(self, hits: list[Hit]) -> dict[tuple[int, int], Post]:
        """The hits' posts (and comments) as stored in the database, by (channel or group id, message id)."""
        keys = [(hit.channel_id, hit.message_id) for hit in hits]
        docs = await self.repos.posts.docs_by_keys(keys)
        found = {(doc['channel_id'], doc['message_id']): post_from_doc(doc) for doc in docs}
        missing = [key for key in keys if key not in found]
        if missing:
            found.update({(doc['channel_id'], doc['message_id']): comment_from_doc(doc)
                          for doc in await self.repos.comments.docs_by_keys(missing)})
        return found

    async def _add_channels(self, hits: list[Hit], channels: dict[int, Channel]) -> None:
        """The hits' channels that `channels` lacks, read and added; a discussion group's id names its channel."""
        missing = list({hit.channel_id for hit in hits} - set(channels))
        if missing:
            async for doc in self.repos.channels.collection.find({'_id': {'$in': missing}}):
                channels[doc['_id']] = Channel.from_doc(doc)
            groups = [channel_id for channel_id in missing if channel_id not in channels]
            if groups:
                async for doc in self.repos.channels.collection.find({'linked_chat_id': {'$in': groups}}):
                    channels[doc['linked_chat_id']] = Channel.from_doc(doc)

    async def _items(self, hits: list[Hit], matcher: Matcher) -> list[SearchItem]:
        channels: dict[int, Channel] = {}
        posts = {(hit.channel_id, hit.message_id): stored_post(hit.stored) for hit in hits if hit.stored}
        unstored = [hit for hit in hits if not hit.stored]  # an engine that keeps no copy: read from the database
        posts.update(await self._fetch(unstored))
        await self._add_channels(hits, channels)
        items = []
        for hit in hits:
            post = posts.get((hit.channel_id, hit.message_id))
            channel = channels.get(hit.channel_id)
            if post is None or channel is None:  # removed since the index saw it (a deleted channel)
                continue
            comment_of = post.post_id if isinstance(post, Comment) else None
            url = post_link(channel, comment_of or post.message_id) + (f'?comment={post.message_id}' if comment_of
                                                                       else '')
            items.append(SearchItem(
                channel_id=channel.id, message_id=post.message_id, date=post.date, views=post.views,
                forwards=post.forwards, replies=post.replies, score=hit.score,
                snippet=snippet(post.text, matcher), text=post.text, channel_title=channel.title,
                channel_username=channel.username, media_type=post.media.type if post.media else None,
                edits=post.edits, deleted=post.deleted, url=url, post=post, comment_of=comment_of))
        return items

    async def export(self, request: SearchRequest) -> AsyncIterator[tuple[Channel, Post]]:
        """Every matching post with its channel, in the request's order. The query is checked and run here (its
        errors raised before anything is sent); the posts are read from the database batch by batch as the
        returned iterator is consumed."""
        query = parse(request.q)
        scope = await self.scope(request, query)
        engine = self._engine()
        found = await asyncio.to_thread(lambda: engine.search(query, scope, request.sort, 0, EXPORT_MAX, stored=False))

        async def rows() -> AsyncIterator[tuple[Channel, Post]]:
            channels: dict[int, Channel] = {}
            for start in range(0, len(found.hits), EXPORT_BATCH):
                batch = found.hits[start:start + EXPORT_BATCH]
                await self._add_channels(batch, channels)
                posts = await self._fetch(batch)
                for hit in batch:
                    post = posts.get((hit.channel_id, hit.message_id))
                    if post is not None and hit.channel_id in channels:
                        yield channels[hit.channel_id], post

        return rows()
