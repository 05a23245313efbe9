"""The search engine behind one small interface.

The app speaks to an engine only through SearchEngine: documents in (`IndexedPost`, already analysed), a parsed
query with resolved filters in, hit keys out. TantivyEngine (embedded, on disk) is the one shipped; an engine on a
cluster (OpenSearch, Quickwit, Meilisearch) implements the same methods — `compile` the Query's clauses to its own
query DSL over the same fields — and is opened in `SearchIndex.open` (app.search.index).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from app.search.query import Query


def post_key(channel_id: int, message_id: int) -> str:
    return f'{channel_id}:{message_id}'


def split_key(key: str) -> tuple[int, int]:
    channel_id, message_id = key.split(':')
    return int(channel_id), int(message_id)


class Sort(StrEnum):
    RELEVANCE = 'relevance'
    DATE = 'date'  # newest first
    VIEWS = 'views'  # most viewed first


@dataclass(frozen=True)
class IndexedPost:
    channel_id: int
    message_id: int
    date: datetime
    forms: str
    lemmas: str
    tags: str
    views: int = 0
    media_type: str | None = None
    forwarded_from: int | None = None
    edited: bool = False
    deleted: bool = False
    comment: bool = False  # a comment under a post (channel_id is the discussion group's)
    stored: bytes = b''  # the post as JSON, given back with a hit: results need no round trip to the database


@dataclass
class Scope:
    """Filters resolved to ids (channel names, tags and sources looked up in the database)."""
    channel_ids: list[int] | None = None  # None: every channel; [] matches nothing
    forwarded_from: list[int] | None = None
    since: datetime | None = None
    until: datetime | None = None
    has_media: bool | None = None
    media_types: list[str] = field(default_factory=list)
    min_views: int | None = None
    edited: bool | None = None
    deleted: bool | None = None
    before_id: int | None = None  # message ids below this only (a channel's pages, newest first)
    comment: bool | None = False  # False: posts only; True: comments only; None: both


@dataclass(frozen=True)
class Hit:
    channel_id: int
    message_id: int
    score: float | None  # relevance, when sorted by it
    stored: bytes = b''  # the post as indexed (with `stored=True`)


@dataclass
class Hits:
    total: int
    hits: list[Hit]


class SearchEngine(Protocol):
    format: int  # raised when what is indexed changes: an index of another format is rebuilt

    def stored_format(self) -> int | None: ...
    def position(self) -> int: ...
    def count(self) -> int: ...
    def upsert(self, posts: list[IndexedPost]) -> None: ...
    def delete(self, keys: list[tuple[int, int]]) -> None: ...
    def delete_channel(self, channel_id: int) -> None: ...
    def clear(self) -> None: ...
    def commit(self, position: int) -> None: ...
    def search(self, query: Query, scope: Scope, sort: Sort, offset: int, limit: int, *,
               stored: bool = True) -> Hits: ...
    def close(self) -> None: ...
