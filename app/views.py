"""What the API answers about channels and jobs: typed views, so the OpenAPI schema and callers know the shape."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.db.models import Channel, Job, JobKind, JobStatus, Progress, SyncSettings, SyncState, SyncStatus


class JobView(BaseModel):
    """A backfill or sync job: its status, progress, ETA, why it waits or failed."""

    id: str
    kind: JobKind
    channel_id: int
    account_id: str | None = Field(default=None, description='the account that reads the channel for this job')
    status: JobStatus
    progress: Progress
    checkpoint: dict[str, Any] = Field(description='where a backfill continues: top_id, offset_id, done_ranges; '
                                                   'a finished sync: how many posts were new, updated, deleted')
    error: str | None = None
    wait_until: datetime | None = None
    wait_reason: str | None = Field(default=None, description='flood_wait or no_account')
    eta_seconds: float | None = None
    follow_up: bool = Field(default=False, description='one more sync is queued when this one ends')
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls(**job.model_dump(exclude={'owner'}))


class JobProgressView(BaseModel):
    kind: JobKind = Field(default=JobKind.SYNC, description='`backfill` reads the whole history, `sync` new posts')
    done: int = 0
    total: int | None = None
    eta_seconds: float | None = None
    status: JobStatus
    wait_until: datetime | None = None
    wait_reason: str | None = None


class ChannelStats(BaseModel):
    posts_stored: int
    last_synced_at: datetime | None = None
    last_post_at: datetime | None = Field(default=None, description='date of the newest stored post')
    sync_status: SyncStatus = Field(description='from the latest job; `paused` also when the schedule is off')
    progress: JobProgressView | None = Field(default=None, description='the active job, while there is one')
    job_id: str | None = None
    history_complete: bool = Field(default=False, description='the whole history has been read to its first post')
    history_total: int | None = Field(default=None, description='about how many posts the channel has (its newest '
                                                                'message id), once a backfill has asked')


class ChannelView(BaseModel):
    """A stored channel with its sync settings, state and the progress of its active job."""

    id: int
    title: str
    username: str | None = None
    about: str | None = None
    participants_count: int | None = None
    photo: str | None = Field(default=None, description='data: URL of the small profile photo')
    linked_chat_id: int | None = None
    broadcast: bool = True
    invite_hashes: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    sync: SyncSettings
    state: SyncState
    added_at: datetime
    updated_at: datetime
    accounts: list[str] = Field(description='accounts logged in now that can read it')
    joined: bool = Field(description='an account logged in now is a member: live updates arrive')
    link: str | None = None
    stats: ChannelStats
    created: bool | None = Field(default=None, description='on add: whether it was new')

    @classmethod
    def of(cls, channel: Channel, stats: dict[str, Any], *, readers: set[str], created: bool | None = None
           ) -> ChannelView:
        """`readers`: the accounts logged in now; a revoked or logged-out one reads nothing."""
        link = f'https://t.me/{channel.username}' if channel.username else None
        return cls(**channel.model_dump(exclude={'access_hashes', 'joined_by'}),
                   accounts=sorted(a for a in channel.access_hashes if a in readers),
                   joined=any(a in readers for a in channel.joined_by), link=link,
                   stats=ChannelStats.model_validate(stats), created=created)


class ChannelList(BaseModel):
    """One page of channels; pass `next_cursor` back as `cursor` for the next page (null at the end)."""

    items: list[ChannelView]
    total: int = Field(description='channels that match the filters, on all pages')
    next_cursor: str | None = None


class TagCount(BaseModel):
    name: str
    channels: int


class BulkDone(BaseModel):
    action: str
    done: list[int] = Field(description='channels the action was applied to')
    missing: list[int] = Field(description='ids no stored channel has')


class ChannelDeleted(BaseModel):
    id: int
    deleted: bool = True


class ChangeView(BaseModel):
    """One change to a stored post, at its position in the change feed."""

    position: int
    channel_id: int
    message_id: int
    kind: str = Field(description='created, edited, deleted, restored (a post taken for deleted came back) or '
                                  'counters (views, forwards, replies, reactions or pin only)')
    at: datetime = Field(description='when Parsegram wrote it')
    hash: str | None = Field(default=None, description="the new version's SHA-256 (none for counters)")
    source: str = Field(default='posts', description="'posts', or 'comments': a comment, whose channel_id is the "
                                                     "channel's discussion group")


class ChangesPage(BaseModel):
    items: list[ChangeView]
    next_after: int = Field(description='pass back as `after` for the next page')
    head: int = Field(description='the last position written so far')
    oldest: int = Field(description='the first position still kept: older changes were trimmed')


class VersionView(BaseModel):
    """One version of a post: what it held, when Parsegram saw it, and its place in the post's hash chain."""

    version: int
    version_at: datetime | None = Field(default=None, description='when Parsegram saw this version')
    edit_date: datetime | None = Field(default=None, description="Telegram's date of the edit")
    date: datetime
    text: str = ''
    entities: dict[str, Any] | None = None
    media: dict[str, Any] | None = None
    fwd_from: dict[str, Any] | None = None
    post_author: str | None = None
    grouped_id: int | None = None
    deleted: bool = False
    deleted_at: datetime | None = None
    hash: str | None = Field(default=None, description='SHA-256 over the previous hash and this version (see the '
                                                       'architecture notes for the canonical form)')
    prev_hash: str | None = None
    position: int | None = Field(default=None, description="the change feed's position of the change")


class PostVersions(BaseModel):
    channel_id: int
    message_id: int
    edits: int = Field(description='how many times its content was seen to change')
    deleted: bool
    items: list[VersionView] = Field(description='oldest first; the last is the post as stored now')


class VerifyView(BaseModel):
    """The recheck of a channel's stored history."""

    channel_id: int
    ok: bool
    posts: int = Field(description='posts checked')
    versions: int = Field(description='versions checked, current ones included')
    unsealed: int = Field(description='posts stored before versions were kept and unchanged since: no hash yet')
    message_id: int | None = Field(default=None, description='the first post whose stored history no longer matches')
    version: int | None = Field(default=None, description='its first version that fails')
    reason: str | None = None
    head: str | None = Field(default=None, description="the channel's chain head, recomputed")


class CompletenessView(BaseModel):
    """Of the message ids from #1 to `newest`: stored, confirmed gone by Telegram, or not yet checked."""

    channel_id: int
    first: int = Field(default=1, description='message ids of a channel start at 1')
    newest: int = Field(description='the newest id the last audit covered; 0: never audited')
    stored: int
    confirmed_gone: int = Field(description='deleted before Parsegram saw them, or service messages')
    deleted: int
    service: int
    unchecked: int
    refilled: int = Field(description='posts audits found missing and stored')
    complete: bool = Field(description='every id from #1 to `newest` is stored or confirmed gone')
    checked_at: datetime | None = Field(default=None, description='when the last audit ended')

    @classmethod
    def of(cls, held: Any) -> CompletenessView:
        return cls(channel_id=held.channel_id, newest=held.newest, stored=held.stored,
                   confirmed_gone=held.deleted + held.service, deleted=held.deleted, service=held.service,
                   unchecked=held.unchecked, refilled=held.refilled, complete=held.complete,
                   checked_at=held.checked_at)


class PostsPage(BaseModel):
    items: list[dict[str, Any]] = Field(description='posts newest first, as in the JSONL export')
    next_before_id: int | None = Field(description='pass back as before_id for the next page; null at the end')


class StorageByType(BaseModel):
    count: int
    bytes: int


class ChannelStorage(BaseModel):
    """The channel's kept files (photos, videos, audio, documents): a file several posts show counts once per post."""

    channel_id: int
    count: int
    bytes: int
    by_type: dict[str, StorageByType] = Field(description='by media type: photo, video, audio, voice, document, …')


class MediaJobView(BaseModel):
    """How far the download policy's work on the channel has come."""

    status: str = Field(description='running, waiting (see wait_until and reason) or done')
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    skipped: int = Field(default=0, description='files passed over: deleted on Telegram before they were kept')
    eta_seconds: int | None = None
    wait_until: datetime | None = None
    reason: str | None = None
    quota_full: bool = Field(default=False, description='files are left that no longer fit in the quota')


class MediaPolicyBody(BaseModel):
    """Which of the channel's files Parsegram keeps by itself, newest first, as posts arrive and for its history."""

    model_config = ConfigDict(extra='forbid')
    enabled: bool
    types: list[Literal['photo', 'video', 'audio', 'voice', 'document', 'gif', 'sticker']] = Field(
        default=['photo'], min_length=1, max_length=7)
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1, le=4 * 1024**3,
                                description='larger files are left for a download on demand')
    quota_bytes: int = Field(default=1024**3, ge=1, le=2**50,
                             description="the channel's kept files stop growing at this total")


class MediaPolicyView(MediaPolicyBody):
    channel_id: int
    job: MediaJobView | None = None


class CommentView(BaseModel):
    """A comment under a post, as stored (a deleted one keeps what it said)."""

    message_id: int = Field(description="the comment's id in the channel's discussion group")
    date: datetime
    edit_date: datetime | None = None
    author_id: int | None = None
    author_name: str | None = None
    text: str
    reply_to: int | None = Field(default=None, description='the comment it answers; null when it answers the post')
    reactions: list[dict[str, Any]] = Field(default_factory=list)
    deleted: bool = False
    edits: int = 0
    version: int = 1
    hash: str | None = None


class CommentsPage(BaseModel):
    channel_id: int
    post_id: int
    group_id: int | None = Field(description="the channel's discussion group, where the comments are")
    total: int
    items: list[CommentView]
