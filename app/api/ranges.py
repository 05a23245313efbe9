"""HTTP Range requests (RFC 9110 §14) over a kept file: one range is served as 206; anything else whole.

A browser's video player asks `bytes=N-` and seeks with more of them; download managers ask `bytes=A-B`. Several
ranges in one request (multipart answers) are rare and served whole, as the RFC allows.
"""
from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from gridfs.asynchronous.grid_file import AsyncGridOut

from app.api.errors import error_response
from app.db.media_repo import KeptFile
from app.i18n import lazy

_RANGE = re.compile(r'^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$', re.IGNORECASE)
READ_BYTES = 256 * 1024


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range [start, end] (inclusive) a Range header asks for, None for the whole file; raises
    RangeNotSatisfiable when it starts past the end."""
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None:  # several ranges, another unit, or malformed: the whole file (RFC 9110 §14.2)
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0:
            raise RangeNotSatisfiable
        return max(0, size - count), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable
    return start, end


def content_disposition(file_name: str, *, attachment: bool) -> str:
    kind = 'attachment' if attachment else 'inline'
    plain = file_name.encode('ascii', 'replace').decode().replace('"', '').replace('?', '_') or 'file'
    return f'{kind}; filename="{plain}"; filename*=UTF-8\'\'{quote(file_name)}'


async def _read(stream: AsyncGridOut, start: int, length: int) -> AsyncIterator[bytes]:
    await stream.seek(start)
    left = length
    while left > 0:
        data = await stream.read(min(READ_BYTES, left))
        if not data:
            break
        left -= len(data)
        yield data


def file_response(request: Request, kept: KeptFile, stream: AsyncGridOut, range_header: str | None, *,
                  attachment: bool = False) -> Response:
    headers = {'Accept-Ranges': 'bytes', 'ETag': f'"{kept.sha256}"',
               'Content-Disposition': content_disposition(kept.file_name, attachment=attachment),
               'Cache-Control': 'private, max-age=86400'}
    try:
        wanted = parse_range(range_header, kept.size)
    except RangeNotSatisfiable:
        return error_response(416, 'RANGE_NOT_SATISFIABLE', lazy(
            'The file has {size} bytes; ask for a range that starts before its end.', size=kept.size),
            {**headers, 'Content-Range': f'bytes */{kept.size}'}, request=request)
    if wanted is None:
        start, end, status = 0, kept.size - 1, 200
    else:
        (start, end), status = wanted, 206
        headers['Content-Range'] = f'bytes {start}-{end}/{kept.size}'
    length = max(0, end - start + 1)
    headers['Content-Length'] = str(length)
    return StreamingResponse(_read(stream, start, length), status_code=status, media_type=kept.mime_type,
                             headers=headers)
