"""Search across all channels: ranked pages with highlighted snippets, a streamed export, and the index's state."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.api.deps import ReadyRootDep
from app.api.errors import ApiError
from app.api.params import ChannelIdItem, DateQuery, UntilQuery
from app.export import download
from app.i18n import lazy
from app.search.engine import Sort
from app.search.query import MAX_QUERY_CHARS, MEDIA_TYPES, QueryError
from app.search.service import IndexUnavailable, SearchRequest, SearchRequestError

router = APIRouter(prefix='/mtproto')


class SearchItemView(BaseModel):
    channel_id: int
    message_id: int
    date: datetime
    views: int | None = None
    forwards: int | None = None
    replies: int | None = None
    score: float | None = Field(description='BM25 relevance when sorted by it; null for other orders')
    snippet: str = Field(description='HTML: the densest part of the text, escaped, each hit as <mark>…</mark>')
    text: str
    channel_title: str
    channel_username: str | None = None
    media_type: str | None = None
    edits: int = 0
    deleted: bool = False
    url: str = Field(description='the post (or the comment) on t.me')
    comment_of: int | None = Field(default=None, description='a comment: the post it is under, in channel_id; '
                                                              'message_id is then its id in the discussion group')


class SearchPageView(BaseModel):
    items: list[SearchItemView]
    total: int = Field(description='how many posts match')
    next_cursor: str | None = Field(description='pass back as `cursor` for the next page; null at the end')


class SearchIndexView(BaseModel):
    state: str = Field(description='starting, building (a rebuild is reading the posts), or ready')
    posts: int = Field(description='posts in the index')
    position: int = Field(description='the change-feed position the index is current to')
    done: int = Field(description='while building: posts read so far')
    total: int = Field(description='while building: about how many posts there are')


SearchQ = Annotated[str, Query(max_length=MAX_QUERY_CHARS, description=(
    'words (any form), "exact phrase", prefix*, -excluded, a OR b, #hashtag, @mention, and filters: channel:@name, '
    'tag:x, from:@source, since:2026-01-31, until:…, has:media, media:video, views:1000, is:edited, is:deleted, '
    'is:comment'))]
CommentsQuery = Annotated[Literal['exclude', 'include', 'only'], Query(description=(
    "posts only (exclude), posts and the comments under them (include), or comments only; 'is:comment' in the "
    'query says the same'))]
COMMENT_CHOICE = {'exclude': False, 'include': None, 'only': True}
ChannelIdsQuery = Annotated[list[ChannelIdItem] | None, Query(max_length=1000, description='only these channels')]
TagQuery = Annotated[list[str] | None, Query(max_length=50, description='only channels with any of these tags')]
MediaTypeQuery = Annotated[list[str] | None, Query(max_length=len(MEDIA_TYPES), description=(
    'only these media types: ' + ', '.join(MEDIA_TYPES)))]


def _request(q: str, channel_ids: list[int] | None, tag: list[str] | None, since: datetime | None,
             until: datetime | None, has_media: bool | None, media_type: list[str] | None, min_views: int | None,
             forwarded_from: list[str] | None, edited: bool | None, deleted: bool | None, sort: Sort, limit: int = 20,
             cursor: str | None = None, comments: str = 'exclude') -> SearchRequest:
    return SearchRequest(q=q, channel_ids=channel_ids, tags=tag or [], since=since, until=until, has_media=has_media,
                         media_types=media_type or [], min_views=min_views, forwarded_from=forwarded_from or [],
                         edited=edited, deleted=deleted, sort=sort, limit=limit, cursor=cursor,
                         comment=COMMENT_CHOICE[comments])


@contextlib.contextmanager
def search_errors() -> Iterator[None]:
    """A query's problems as 400s in the error shape; an index not open yet as a 503."""
    try:
        yield
    except QueryError as error:
        raise ApiError(400, 'QUERY_MALFORMED', lazy('The query is malformed at column {column}: {problem}',
                                                    column=error.column, problem=error.message)) from None
    except SearchRequestError as error:
        raise ApiError(400, 'SEARCH_INVALID', error.message) from None
    except IndexUnavailable:
        raise ApiError(503, 'SEARCH_NOT_READY', lazy('The search index is opening; try again in a few seconds.'),
                       {'Retry-After': '5'}) from None


@router.get('/search', response_model=SearchPageView)
async def search(
    root: ReadyRootDep, q: SearchQ = '', channel_ids: ChannelIdsQuery = None, tag: TagQuery = None,
    since: DateQuery = None, until: UntilQuery = None, has_media: bool | None = None,
    media_type: MediaTypeQuery = None, min_views: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    forwarded_from: Annotated[list[str] | None, Query(max_length=50, description=(
        'posts forwarded from these channels (id or @username)'))] = None,
    edited: bool | None = None, deleted: bool | None = None, sort: Sort = Sort.RELEVANCE,
    limit: Annotated[int, Query(ge=1, le=100)] = 20, cursor: Annotated[str | None, Query(max_length=100)] = None,
    comments: CommentsQuery = 'exclude',
) -> SearchPageView:
    """Posts of every stored channel (or the chosen ones) that match, best first or by date or views; the index's
    state is on GET /search/index. A malformed query answers 400 with its column."""
    request = _request(q, channel_ids, tag, since, until, has_media, media_type, min_views, forwarded_from, edited,
                       deleted, sort, limit, cursor, comments)
    with search_errors():
        page = await root.search.search(request)
    items = [SearchItemView.model_validate(item, from_attributes=True) for item in page.items]
    return SearchPageView(items=items, total=page.total, next_cursor=page.next_cursor)


@router.get('/search/export', response_class=StreamingResponse, responses={200: {
    'description': "Every matching post in the search's order, streamed: JSON Lines, or CSV with a header.",
    'content': {'application/x-ndjson': {'schema': {'type': 'string'}}, 'text/csv': {'schema': {'type': 'string'}}}}})
async def export_search(
    root: ReadyRootDep, q: SearchQ = '', channel_ids: ChannelIdsQuery = None, tag: TagQuery = None,
    since: DateQuery = None, until: UntilQuery = None, has_media: bool | None = None,
    media_type: MediaTypeQuery = None, min_views: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    forwarded_from: Annotated[list[str] | None, Query(max_length=50)] = None,
    edited: bool | None = None, deleted: bool | None = None, sort: Sort = Sort.RELEVANCE,
    format: Annotated[str, Query(pattern='^(csv|jsonl)$')] = 'jsonl', comments: CommentsQuery = 'exclude',
) -> StreamingResponse:
    request = _request(q, channel_ids, tag, since, until, has_media, media_type, min_views, forwarded_from, edited,
                       deleted, sort, comments=comments)
    with search_errors():
        rows = await root.search.export(request)
    return download(root.repos, rows, format, f'search.{format}')


@router.get('/search/index', response_model=SearchIndexView)
async def index_state(root: ReadyRootDep) -> SearchIndexView:
    """How current the search index is; a rebuild's progress."""
    status = root.search_index.status
    return SearchIndexView(state=status.state, posts=status.posts, position=status.position, done=status.done,
                           total=status.total)


@router.post('/search/reindex', status_code=202, response_model=SearchIndexView)
async def reindex(root: ReadyRootDep) -> SearchIndexView:
    """Rebuild the index from the database (searches answer from what is indexed meanwhile); follow it on
    GET /search/index."""
    root.search_index.request_rebuild()
    root.feed_consumers.wake(root.search_index.name)
    return await index_state(root)
