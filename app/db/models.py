"""Plain data records stored in MongoDB. No I/O here; repositories map them to and from documents.

Every model maps its `id` field to the document's `_id` (see `Record.to_doc` / `Record.from_doc`).
"""
from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class Record(BaseModel):
    model_config = ConfigDict(use_enum_values=False, populate_by_name=True)

    def to_doc(self) -> dict[str, Any]:
        doc = self.model_dump(mode='python', exclude={'id'} if 'id' in type(self).model_fields else set())
        if 'id' in type(self).model_fields:
            doc['_id'] = self.id  # type: ignore[attr-defined]
        return _enums_to_values(doc)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Self:
        data = dict(doc)
        if '_id' in data:
            data['id'] = data.pop('_id')
        return cls.model_validate(data)


def _enums_to_values(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {k: _enums_to_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_enums_to_values(v) for v in value]
    return value


# ---------------------------------------------------------------- accounts

class AccountStatus(StrEnum):
    PENDING = 'pending'
    CODE_SENT = 'code_sent'
    PASSWORD_REQUIRED = 'password_required'
    AUTHORIZED = 'authorized'
    REVOKED = 'revoked'
    ERROR = 'error'


class Lease(BaseModel):
    owner: str
    until: datetime


class Account(Record):
    id: str
    phone: str | None = None
    user_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    dc_id: int | None = None
    session_encrypted: str | None = None  # Fernet token of the StringSession; never leaves app.db/app.mtproto
    status: AccountStatus = AccountStatus.PENDING
    status_reason: str | None = None
    flood_wait_until: datetime | None = None  # the whole account (Telegram refused even its connection checks)
    flood_waits: dict[str, datetime] = Field(default_factory=dict)  # method class -> until; the others go on
    day_calls: dict[str, list[datetime]] = Field(default_factory=dict)  # method class -> its calls of the last day
    # requests of the last hour, counted per minute ({'at': minute, 'n': count}): the page's counts survive a restart
    hour_calls: list[dict[str, Any]] = Field(default_factory=list)
    lease: Lease | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- channels

class SyncStatus(StrEnum):
    IDLE = 'idle'
    QUEUED = 'queued'
    BACKFILLING = 'backfilling'
    SYNCING = 'syncing'
    WAITING = 'waiting'  # FloodWait: see Job.wait_until
    PAUSED = 'paused'
    ERROR = 'error'


class SyncSettings(BaseModel):
    enabled: bool = True
    interval_seconds: int = 300
    refresh_days: int = 7
    comment_days: int = 7  # a sync reads again the comments of the posts of these last days (0: comments off)


class SyncState(BaseModel):
    status: SyncStatus = SyncStatus.IDLE
    last_message_id: int = 0  # newest message id stored
    top_message_id: int = 0  # newest message id Telegram reported
    last_synced_at: datetime | None = None
    next_sync_at: datetime | None = None
    job_id: str | None = None
    error: str | None = None
    posts_stored: int = 0
    last_post_at: datetime | None = None  # date of the newest stored post
    backfilled: bool = False  # the whole history has been fetched once
    deep_check_before: int = 0  # rolling cursor of the older-history check (see app.mtproto.jobs)
    # set by a backfill, cleared by the next sync: the refresh window was just read, so that sync reads new posts only
    backfill_read_at: datetime | None = None
    account_id: str | None = None  # the account that currently reads this channel


MEDIA_TYPES = ('photo', 'video', 'audio', 'voice', 'document', 'gif', 'sticker')  # media with a file behind it


class MediaPolicy(BaseModel):
    """Which of a channel's files Parsegram keeps by itself, as posts arrive and for the history read before."""
    enabled: bool = False
    types: list[str] = Field(default_factory=lambda: ['photo'])
    max_file_bytes: int = 20 * 1024 * 1024  # larger files are left for a download on demand
    quota_bytes: int = 1024 * 1024 * 1024  # the channel's kept files stop growing at this total


class Channel(Record):
    id: int  # Telegram's bare channel id (positive; -100<id> is the "marked" form)
    title: str = ''
    username: str | None = None
    about: str | None = None
    participants_count: int | None = None
    photo: str | None = None  # data: URL of the small profile photo, when known
    linked_chat_id: int | None = None
    broadcast: bool = True
    access_hashes: dict[str, int] = Field(default_factory=dict)  # account id -> access_hash (per account!)
    joined_by: list[str] = Field(default_factory=list)  # account ids that are members (live updates)
    invite_hashes: list[str] = Field(default_factory=list)  # invite links it was added by: never resolved again
    tags: list[str] = Field(default_factory=list)  # a person's labels ("news", "regional"), for filters and bulk work
    sync: SyncSettings = Field(default_factory=SyncSettings)
    state: SyncState = Field(default_factory=SyncState)
    media_policy: MediaPolicy = Field(default_factory=MediaPolicy)
    added_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class RefState(StrEnum):
    QUEUED = 'queued'  # waiting for an account with budget; retry_at says when one is expected
    RESOLVING = 'resolving'
    NEEDS_JOIN = 'needs_join'  # an invite link: the preview waits for a person to confirm
    ADDED = 'added'
    ERROR = 'error'


class ChannelRefEntry(Record):
    """One pasted reference on its way to becoming a stored channel (the `channel_refs` queue)."""

    id: str
    ref: str
    state: RefState = RefState.QUEUED
    join: bool = False  # join an invite link without asking again (the person confirmed it)
    account_id: str | None = None  # the account asked for; None lets the queue choose
    worked_by: str | None = None  # the account that resolved it
    access_hash: int | None = None  # known already (a chat folder's channel): no look-up needed
    tags: list[str] = Field(default_factory=list)  # given to the channel once it is added
    channel_id: int | None = None
    title: str | None = None
    created: bool = False  # False when the channel was already stored
    participants_count: int | None = None  # of an invite preview
    code: str | None = None
    reason: str | None = None
    retry_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- posts

class PostEntities(BaseModel):
    urls: list[str] = Field(default_factory=list)
    mentions: list[str] = Field(default_factory=list)
    hashtags: list[str] = Field(default_factory=list)


class MediaSummary(BaseModel):
    type: str  # photo, video, audio, voice, document, sticker, gif, webpage, poll, geo, contact, other
    mime_type: str | None = None
    size: int | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None


class MediaFile(BaseModel):
    """Where Telegram keeps a post's file, enough to download it. The reference expires; reading the message again
    gives a new one. Not part of what the post said: kept beside it, outside its versions and exports."""
    kind: str  # 'photo' or 'document'
    id: int
    access_hash: int
    file_reference: bytes
    dc_id: int
    size_type: str = ''  # the photo size to download (its largest); '' for a document's own file
    size: int = 0

    @property
    def telegram_id(self) -> str:
        """Telegram's name for these bytes: the same in every post that shows the file."""
        return f'{self.kind}:{self.id}:{self.size_type}'


class Reaction(BaseModel):
    emoji: str
    count: int


class ForwardInfo(BaseModel):
    from_id: int | None = None  # marked peer id (-100... for channels)
    from_name: str | None = None
    channel_post: int | None = None
    date: datetime | None = None


class Post(Record):
    """Unique on (channel_id, message_id); `id` is not used, the pair is the key."""
    model_config = ConfigDict(use_enum_values=False, populate_by_name=True, ser_json_bytes='base64',
                              val_json_bytes='base64')

    channel_id: int
    message_id: int
    date: datetime
    edit_date: datetime | None = None
    text: str = ''
    entities: PostEntities = Field(default_factory=PostEntities)
    media: MediaSummary | None = None
    grouped_id: int | None = None
    # beside the content, never hashed or exported: where the file is, and the tiny inline thumbnail (a stripped
    # JPEG, app.media_thumbs) Telegram sends with photos and videos
    media_file: MediaFile | None = Field(default=None, exclude=True)
    thumb: bytes | None = Field(default=None, exclude=True)
    views: int | None = None
    forwards: int | None = None
    replies: int | None = None
    reactions: list[Reaction] = Field(default_factory=list)
    fwd_from: ForwardInfo | None = None
    post_author: str | None = None
    pinned: bool = False
    deleted: bool = False
    deleted_at: datetime | None = None
    fetched_at: datetime = Field(default_factory=utcnow)
    # its place in the post's chain of versions (set by the post writer, see app.db.post_hash)
    version: int = 1  # 1: as first seen; each edit, deletion or return counts one more
    edits: int = 0
    hash: str | None = None
    prev_hash: str | None = None
    version_at: datetime | None = None  # when Parsegram saw this version
    position: int | None = None  # the change feed's position of the change that made this version


class Comment(Post):
    """A comment under a channel's post: a message of the channel's discussion group (`channel_id` is the group's,
    `message_id` the comment's id there), its author in `post_author`. Stored, versioned and fed like posts."""
    post_channel_id: int  # the channel whose post it comments on
    post_id: int
    author_id: int | None = None
    reply_to: int | None = None  # the comment it answers; None when it answers the post itself
    thread_id: int | None = None  # the group's copy of the post that every comment under it answers


# ---------------------------------------------------------------- metrics

class MetricKind(StrEnum):
    CHANNEL = 'channel'  # values: {subscribers}
    POST = 'post'  # values: {views, forwards, replies, reactions}


class Metric(Record):
    kind: MetricKind
    channel_id: int
    message_id: int | None = None
    at: datetime = Field(default_factory=utcnow)
    values: dict[str, int] = Field(default_factory=dict)


# ---------------------------------------------------------------- jobs

class JobKind(StrEnum):
    BACKFILL = 'backfill'
    SYNC = 'sync'
    REFRESH = 'refresh'
    AUDIT = 'audit'  # asks Telegram about the ids missing from the stored sequence (app.mtproto.audit)
    COMMENTS = 'comments'  # reads the comments of the posts older than the sync's window, once (app.mtproto.comments)


class JobStatus(StrEnum):
    QUEUED = 'queued'
    RUNNING = 'running'
    WAITING = 'waiting'  # FloodWait or no account available; wait_until says until when
    PAUSED = 'paused'
    DONE = 'done'
    FAILED = 'failed'
    CANCELLED = 'cancelled'


class Progress(BaseModel):
    done: int = 0
    total: int | None = None


class Job(Record):
    id: str
    kind: JobKind
    channel_id: int
    account_id: str | None = None
    status: JobStatus = JobStatus.QUEUED
    progress: Progress = Field(default_factory=Progress)
    checkpoint: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    wait_until: datetime | None = None
    wait_reason: str | None = None  # why a waiting job waits: WAIT_FLOOD or WAIT_NO_ACCOUNT (app.mtproto.sync)
    eta_seconds: float | None = None
    owner: str | None = None  # process id string of the runner, for crash recovery
    follow_up: bool = False  # "sync now" while it ran: one more sync is queued when it ends
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- secrets

class ApiToken(Record):
    id: str
    name: str
    token_hash: str  # sha256 hex of the token; the token itself is shown once
    prefix: str  # first characters, to recognise a token in the list
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class Admin(Record):
    id: str = 'admin'
    password_hash: str  # scrypt, see app.auth
    created_at: datetime = Field(default_factory=utcnow)
