"""Stream stored posts as CSV or JSON Lines, one chunk per post, so an export never holds a channel in memory."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from app.db.models import Channel, Post

FORMATS = {'csv': 'text/csv; charset=utf-8', 'jsonl': 'application/x-ndjson; charset=utf-8'}
CSV_COLUMNS = ['channel_id', 'message_id', 'date', 'edit_date', 'link', 'text', 'views', 'forwards', 'replies',
               'reactions', 'media_type', 'media_mime_type', 'media_size', 'media_file_name', 'urls', 'mentions',
               'hashtags', 'grouped_id', 'fwd_from_id', 'fwd_from_name', 'post_author', 'pinned', 'deleted']


def post_link(channel: Channel, message_id: int) -> str:
    if channel.username:
        return f'https://t.me/{channel.username}/{message_id}'
    return f'https://t.me/c/{channel.id}/{message_id}'


def export_filename(channel: Channel, fmt: str) -> str:
    name = channel.username or f'channel_{channel.id}'
    return f'{name}.{fmt}'


def post_record(channel: Channel, post: Post) -> dict[str, Any]:
    record = post.model_dump(mode='json')
    record['link'] = post_link(channel, post.message_id)
    return record


def csv_row(channel: Channel, post: Post) -> list[Any]:
    media = post.media
    fwd = post.fwd_from
    return [
        post.channel_id, post.message_id, post.date.isoformat(), post.edit_date.isoformat() if post.edit_date else '',
        post_link(channel, post.message_id), post.text, _blank(post.views), _blank(post.forwards),
        _blank(post.replies), json.dumps([r.model_dump() for r in post.reactions], ensure_ascii=False),
        media.type if media else '', (media.mime_type or '') if media else '', _blank(media.size if media else None),
        (media.file_name or '') if media else '', ' '.join(post.entities.urls), ' '.join(post.entities.mentions),
        ' '.join(post.entities.hashtags), _blank(post.grouped_id), _blank(fwd.from_id if fwd else None),
        (fwd.from_name or '') if fwd else '', post.post_author or '', int(post.pinned), int(post.deleted),
    ]


def _blank(value: Any) -> Any:
    return '' if value is None else value


async def stream_export(channel: Channel, posts: AsyncIterator[Post], fmt: str) -> AsyncIterator[bytes]:
    if fmt not in FORMATS:
        raise ValueError(f'unknown export format {fmt!r}')
    if fmt == 'jsonl':
        async for post in posts:
            yield (json.dumps(post_record(channel, post), ensure_ascii=False) + '\n').encode()
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield ('\ufeff' + buffer.getvalue()).encode()  # the BOM lets spreadsheet programs read UTF-8
    async for post in posts:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(csv_row(channel, post))
        yield buffer.getvalue().encode()
