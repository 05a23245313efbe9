"""Stream stored posts as CSV or JSON Lines, one chunk per post, so an export never holds a channel in memory.

Every post carries its version number, edit count and hash; with `versions`, each post's earlier versions come
too (JSONL: a `versions` list, oldest first; CSV: a row per earlier version before the post's own row, with the
counters left empty), each with its hash and the hash before it (see app.db.post_hash). With `comments`, the
comments under each post come with it (JSONL: a `comments` list, oldest first; CSV: a row per comment after the
post's, its `link` the comment's, `post_author` its author, and two more columns: `comment_of`, `author_id`).
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi.responses import StreamingResponse

from app.db.models import Channel, Comment, Post
from app.db.posts_repo import PostFilter, newest_hint

if TYPE_CHECKING:
    from app.db.repos import Repos
    from app.search.service import SearchRequest, SearchService

FORMATS = {'csv': 'text/csv; charset=utf-8', 'jsonl': 'application/x-ndjson; charset=utf-8'}
CSV_COLUMNS = ['channel_id', 'message_id', 'date', 'edit_date', 'link', 'text', 'views', 'forwards', 'replies',
               'reactions', 'media_type', 'media_mime_type', 'media_size', 'media_file_name', 'urls', 'mentions',
               'hashtags', 'grouped_id', 'fwd_from_id', 'fwd_from_name', 'post_author', 'pinned', 'deleted', 'version',
               'edits', 'version_at', 'hash', 'prev_hash']
Versions = Callable[[Post], Awaitable[list[dict[str, Any]]]]
Comments = Callable[[Post], Awaitable[list[Comment]]]
COMMENT_COLUMNS = ['comment_of', 'author_id']
COMMENT_FIELDS = ('message_id', 'channel_id', 'date', 'edit_date', 'post_author', 'author_id', 'text', 'reply_to',
                  'reactions', 'deleted', 'edits', 'version', 'hash', 'prev_hash')
CHUNK_BYTES = 64 * 1024


def post_link(channel: Channel, message_id: int) -> str:
    if channel.username:
        return f'https://t.me/{channel.username}/{message_id}'
    return f'https://t.me/c/{channel.id}/{message_id}'


def item_link(channel: Channel, post: Post) -> str:
    """A post's t.me link, or a comment's (its post's link with ?comment=)."""
    if isinstance(post, Comment):
        return f'{post_link(channel, post.post_id)}?comment={post.message_id}'
    return post_link(channel, post.message_id)


def export_filename(channel: Channel, fmt: str) -> str:
    name = channel.username or f'channel_{channel.id}'
    return f'{name}.{fmt}'


def post_record(channel: Channel, post: Post) -> dict[str, Any]:
    record = post.model_dump(mode='json')
    record['link'] = item_link(channel, post)
    return record


def csv_row(channel: Channel, post: Post) -> list[Any]:
    media = post.media
    fwd = post.fwd_from
    return [
        post.channel_id, post.message_id, post.date.isoformat(), post.edit_date.isoformat() if post.edit_date else '',
        item_link(channel, post), post.text, _blank(post.views), _blank(post.forwards),
        _blank(post.replies), json.dumps([r.model_dump() for r in post.reactions], ensure_ascii=False),
        media.type if media else '', (media.mime_type or '') if media else '', _blank(media.size if media else None),
        (media.file_name or '') if media else '', ' '.join(post.entities.urls), ' '.join(post.entities.mentions),
        ' '.join(post.entities.hashtags), _blank(post.grouped_id), _blank(fwd.from_id if fwd else None),
        (fwd.from_name or '') if fwd else '', post.post_author or '', int(post.pinned), int(post.deleted),
        post.version, post.edits, post.version_at.isoformat() if post.version_at else '', post.hash or '',
        post.prev_hash or '',
    ]


def earlier_row(channel: Channel, version: dict[str, Any]) -> list[Any]:
    """An earlier version as a CSV row: what it held, its place in the chain; no counters (they were not kept)."""
    post = Post.model_validate({**version, 'reactions': [], 'views': None, 'forwards': None, 'replies': None})
    return csv_row(channel, post)


def comment_record(channel: Channel, comment: Comment) -> dict[str, Any]:
    record = comment.model_dump(mode='json', include=set(COMMENT_FIELDS))
    record['group_id'] = record.pop('channel_id')
    record['author_name'] = record.pop('post_author')
    record['link'] = item_link(channel, comment)
    return record


def comment_row(channel: Channel, comment: Comment) -> list[Any]:
    return csv_row(channel, comment) + [comment.post_id, _blank(comment.author_id)]


def _blank(value: Any) -> Any:
    return '' if value is None else value


async def stream_posts(rows: AsyncIterator[tuple[Channel, Post]], fmt: str, versions: Versions | None = None,
                       comments: Comments | None = None) -> AsyncIterator[bytes]:
    """Posts of any channels, each with its channel (for its link), as JSONL or CSV, in chunks of about
    CHUNK_BYTES: a chunk per post would cost the server and the client more than writing the post does."""
    pending: list[bytes] = []
    size = 0
    async for part in _encoded(rows, fmt, versions, comments):
        pending.append(part)
        size += len(part)
        if size >= CHUNK_BYTES:
            yield b''.join(pending)
            pending, size = [], 0
    if pending:
        yield b''.join(pending)


async def _encoded(rows: AsyncIterator[tuple[Channel, Post]], fmt: str, versions: Versions | None,
                   comments: Comments | None) -> AsyncIterator[bytes]:
    if fmt not in FORMATS:
        raise ValueError(f'unknown export format {fmt!r}')

    async def earlier(post: Post) -> list[dict[str, Any]]:
        return await versions(post) if versions is not None and post.version > 1 else []

    async def under(post: Post) -> list[Comment]:  # a post Telegram counts no comments for is not asked about
        return await comments(post) if comments is not None and post.replies else []

    if fmt == 'jsonl':
        async for channel, post in rows:
            record = post_record(channel, post)
            if versions is not None:
                record['versions'] = json.loads(json.dumps(await earlier(post), default=_iso, ensure_ascii=False))
            if comments is not None:
                record['comments'] = [comment_record(channel, comment) for comment in await under(post)]
            yield (json.dumps(record, ensure_ascii=False) + '\n').encode()
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS + (COMMENT_COLUMNS if comments is not None else []))
    yield ('\ufeff' + buffer.getvalue()).encode()  # the BOM lets spreadsheet programs read UTF-8
    tail = ['', ''] if comments is not None else []
    async for channel, post in rows:
        buffer.seek(0)
        buffer.truncate()
        for version in await earlier(post):
            writer.writerow(earlier_row(channel, version) + tail)
        writer.writerow(csv_row(channel, post) + tail)
        for comment in await under(post):
            writer.writerow(comment_row(channel, comment))
        yield buffer.getvalue().encode()


def _iso(value: Any) -> str:
    return value.isoformat()


def download(repos: Repos, rows: AsyncIterator[tuple[Channel, Post]], fmt: str, filename: str, *,
             versions: bool = False, comments: bool = False) -> StreamingResponse:
    """Posts as a streamed download (the API's and the dashboard's exports); with `versions`, each post's earlier
    versions too; with `comments`, the comments under each."""
    async def of_post(post: Post) -> list[dict[str, Any]]:
        return await repos.versions.of_post(channel_id=post.channel_id, message_id=post.message_id)

    async def comments_of(post: Post) -> list[Comment]:
        return await repos.comments.of_post(post.channel_id, post.message_id)

    return StreamingResponse(stream_posts(rows, fmt, of_post if versions else None,
                                          comments_of if comments else None), media_type=FORMATS[fmt],
                             headers={'Content-Disposition': f'attachment; filename="{filename}"'})


async def channel_export(repos: Repos, search: SearchService, channel: Channel, fmt: str, post_filter: PostFilter,
                         query: SearchRequest | None, *, versions: bool = False,
                         comments: bool = False) -> StreamingResponse:
    """A channel's export: its matching posts newest first; with a query (the query language), what the search
    index finds in the channel. The query's problems are raised before anything is sent."""
    if query is not None:
        rows = await search.export(query)
    else:
        rows = _of_channel(channel, repos.posts.stream(channel_id=channel.id, filter=post_filter,
                                                       newest_hint=newest_hint(channel)))
    return download(repos, rows, fmt, export_filename(channel, fmt), versions=versions, comments=comments)


async def _of_channel(channel: Channel, posts: AsyncIterator[Post]) -> AsyncIterator[tuple[Channel, Post]]:
    async for post in posts:
        yield channel, post
