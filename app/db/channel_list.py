"""What a channel list asks for: text filter, tag, status, sort and a page, turned into one database query."""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.db.models import JobStatus

MAX_TAG_LENGTH = 32
MAX_TAGS = 20


class ListSort(StrEnum):
    TITLE = 'title'
    SUBSCRIBERS = 'subscribers'
    POSTS = 'posts'
    LAST_POST = 'last_post'
    LAST_SYNCED = 'last_synced'
    ADDED = 'added'


class StatusFilter(StrEnum):
    SYNCING = 'syncing'  # queued or running, backfill or sync
    WAITING = 'waiting'
    PAUSED = 'paused'
    FAILED = 'failed'
    IDLE = 'idle'


# field and its natural direction: names A→Z, everything else largest or newest first
SORT_FIELDS: dict[ListSort, tuple[str, int]] = {
    ListSort.TITLE: ('title', 1), ListSort.SUBSCRIBERS: ('participants_count', -1),
    ListSort.POSTS: ('state.posts_stored', -1), ListSort.LAST_POST: ('state.last_post_at', -1),
    ListSort.LAST_SYNCED: ('state.last_synced_at', -1), ListSort.ADDED: ('added_at', -1),
}

# a channel's status is its latest job's (app.mtproto.sync.sync_status); a filter names the job statuses it means
STATUS_JOBS: dict[StatusFilter, tuple[JobStatus, ...]] = {
    StatusFilter.SYNCING: (JobStatus.QUEUED, JobStatus.RUNNING), StatusFilter.WAITING: (JobStatus.WAITING,),
    StatusFilter.PAUSED: (JobStatus.PAUSED,), StatusFilter.FAILED: (JobStatus.FAILED,),
}
NOT_IDLE_JOBS = tuple(status for statuses in STATUS_JOBS.values() for status in statuses)


class BadCursor(ValueError):
    pass


def normalize_tag(tag: str) -> str:
    """One spelling per tag: trimmed, inner spaces collapsed, lower case; ValueError says what is wrong."""
    tag = ' '.join(tag.split()).lower()
    if not tag:
        raise ValueError('A tag cannot be empty.')
    if len(tag) > MAX_TAG_LENGTH:
        raise ValueError(f'A tag is at most {MAX_TAG_LENGTH} characters: “{tag[:MAX_TAG_LENGTH]}…” is longer.')
    return tag


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f'o{offset}'.encode()).decode().rstrip('=')


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + '=' * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ''
    if not re.fullmatch(r'o\d{1,9}', text):
        raise BadCursor('This cursor is not one the channel list gave out: start again without `cursor`.')
    return int(text[1:])


@dataclass(frozen=True)
class ChannelQuery:
    q: str = ''
    tag: str | None = None
    status: StatusFilter | None = None
    sort: ListSort = ListSort.TITLE
    descending: bool | None = None  # None: the sort's natural direction
    limit: int = 50
    offset: int = 0

    def text_filter(self) -> dict[str, Any]:
        words = self.q.strip().lstrip('@').strip()
        if not words:
            return {}
        pattern = re.escape(words)
        return {'$or': [{'title': {'$regex': pattern, '$options': 'i'}},
                        {'username': {'$regex': pattern, '$options': 'i'}}]}

    def mongo(self, busy_jobs: dict[str, JobStatus] | None = None) -> dict[str, Any]:
        """The filter. A status filter needs `busy_jobs`: the id and status of every job that is not idle."""
        parts: list[dict[str, Any]] = []
        if text := self.text_filter():
            parts.append(text)
        if self.tag:
            parts.append({'tags': self.tag})
        if self.status is not None:
            parts.append(self._status_filter(busy_jobs or {}))
        return {'$and': parts} if len(parts) > 1 else parts[0] if parts else {}

    def _status_filter(self, busy_jobs: dict[str, JobStatus]) -> dict[str, Any]:
        not_busy = {'state.job_id': {'$nin': list(busy_jobs)}}
        if self.status == StatusFilter.IDLE:
            return {**not_busy, 'sync.enabled': {'$ne': False}}
        wanted = STATUS_JOBS[self.status]
        in_status = {'state.job_id': {'$in': [job_id for job_id, status in busy_jobs.items() if status in wanted]}}
        if self.status == StatusFilter.PAUSED:  # a channel with its schedule off is paused too
            return {'$or': [in_status, {**not_busy, 'sync.enabled': False}]}
        return in_status

    def sort_spec(self) -> list[tuple[str, int]]:
        field, natural = SORT_FIELDS[self.sort]
        direction = natural if self.descending is None else (-1 if self.descending else 1)
        return [(field, direction), ('_id', direction)]
