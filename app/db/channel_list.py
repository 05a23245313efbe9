"""What a channel list asks for (text filter, tag, status, sort, a page) and how a channel is matched and ordered."""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
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


# the entry's attribute and its natural direction: names A→Z, everything else largest or newest first
SORT_FIELDS: dict[ListSort, tuple[str, bool]] = {
    ListSort.TITLE: ('title', False), ListSort.SUBSCRIBERS: ('subscribers', True),
    ListSort.POSTS: ('posts_stored', True), ListSort.LAST_POST: ('last_post_at', True),
    ListSort.LAST_SYNCED: ('last_synced_at', True), ListSort.ADDED: ('added_at', True),
}

# a channel's status is its latest job's (app.mtproto.sync.sync_status); a filter names the job statuses it means
STATUS_JOBS: dict[StatusFilter, tuple[JobStatus, ...]] = {
    StatusFilter.SYNCING: (JobStatus.QUEUED, JobStatus.RUNNING), StatusFilter.WAITING: (JobStatus.WAITING,),
    StatusFilter.PAUSED: (JobStatus.PAUSED,), StatusFilter.FAILED: (JobStatus.FAILED,),
}
BUSY_JOBS = tuple(status for statuses in STATUS_JOBS.values() for status in statuses)


@dataclass
class ListEntry:
    """What the list filters and sorts a channel by."""

    id: int
    title: str = ''
    username: str | None = None
    subscribers: int | None = None
    tags: tuple[str, ...] = ()
    added_at: datetime | None = None
    sync_enabled: bool = True
    posts_stored: int = 0
    last_post_at: datetime | None = None
    last_synced_at: datetime | None = None
    job_id: str | None = None
    job_status: JobStatus | None = None  # of its latest job

    @classmethod
    def of(cls, doc: dict[str, Any], job_status: JobStatus | None) -> ListEntry:
        state = doc.get('state') or {}
        return cls(id=doc['_id'], title=doc.get('title') or '', username=doc.get('username'),
                   subscribers=doc.get('participants_count'), tags=tuple(doc.get('tags') or ()),
                   added_at=doc.get('added_at'), sync_enabled=(doc.get('sync') or {}).get('enabled', True),
                   posts_stored=state.get('posts_stored') or 0, last_post_at=state.get('last_post_at'),
                   last_synced_at=state.get('last_synced_at'), job_id=state.get('job_id'), job_status=job_status)

    @property
    def status(self) -> StatusFilter:
        for name, statuses in STATUS_JOBS.items():
            if self.job_status in statuses:
                return name
        return StatusFilter.IDLE if self.sync_enabled else StatusFilter.PAUSED  # a schedule off is paused too


LIST_FIELDS = {'title': 1, 'username': 1, 'participants_count': 1, 'tags': 1, 'added_at': 1, 'sync.enabled': 1,
               'state.posts_stored': 1, 'state.last_post_at': 1, 'state.last_synced_at': 1, 'state.job_id': 1}


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

    def matches(self, entry: ListEntry) -> bool:
        words = self.q.strip().lstrip('@').strip().lower()
        if words and words not in entry.title.lower() and words not in (entry.username or '').lower():
            return False
        if self.tag and self.tag not in entry.tags:
            return False
        return self.status is None or entry.status == self.status

    @property
    def is_descending(self) -> bool:
        """The direction asked for, or the sort's natural one."""
        return SORT_FIELDS[self.sort][1] if self.descending is None else self.descending

    def order(self, entries: list[ListEntry]) -> list[ListEntry]:
        """Sorted like the database would: missing values lowest, ties by id in the same direction."""
        name = SORT_FIELDS[self.sort][0]
        descending = self.is_descending

        def key(entry: ListEntry) -> tuple:
            value = getattr(entry, name)
            return (value is not None, value if value is not None else 0, entry.id)
        return sorted(entries, key=key, reverse=descending)
