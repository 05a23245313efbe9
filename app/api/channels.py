"""Channels API: add by any reference, list, read, delete, sync now, posts with filters, streamed export."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, StringConstraints

from app.api.deps import ReadyRootDep
from app.api.errors import ApiError
from app.api.params import BeforeIdQuery, ChannelIdItem, ChannelIdPath, DateQuery, FolderIdPath, IdPath
from app.api.search import SearchQ, search_errors
from app.db.channel_list import (
    MAX_TAG_LENGTH,
    MAX_TAGS,
    ChannelQuery,
    ListSort,
    StatusFilter,
    decode_cursor,
    encode_cursor,
    normalize_tag,
)
from app.db.models import Channel, ChannelRefEntry, RefState
from app.db.posts_repo import PostFilter, newest_hint
from app.export import channel_export, post_record
from app.i18n import lazy
from app.mtproto.add_queue import MAX_REFS_PER_PASTE
from app.mtproto.bulk import MAX_BULK, BulkAction, BulkError, run_bulk
from app.root import Root
from app.search.engine import Sort
from app.search.service import MAX_LIMIT as MAX_SEARCH_LIMIT
from app.search.service import SearchRequest
from app.views import BulkDone, ChannelDeleted, ChannelList, ChannelView, JobView, PostsPage, TagCount

router = APIRouter(prefix='/mtproto')


class AddChannelBody(BaseModel):
    ref: str = Field(min_length=1, max_length=500, description='@name, name, t.me/name, t.me/+hash, -100123, ...')
    account_id: str | None = None
    join: bool = False


class QueueRefsBody(BaseModel):
    refs: list[Annotated[str, Field(max_length=500)]] = Field(
        min_length=1, max_length=MAX_REFS_PER_PASTE, description='channel references, one per item (or lines)')
    account_id: str | None = None


class RefEntryView(BaseModel):
    """One queued reference: `queued` (with `retry_at` when it waits for a budget), `resolving`, `needs_join`
    (an invite to confirm with POST .../join), `added` (with `channel_id`) or `error` (with `code` and `reason`)."""

    id: str
    ref: str
    state: RefState
    channel_id: int | None = None
    title: str | None = None
    created: bool = False
    participants_count: int | None = None
    code: str | None = None
    reason: str | None = None
    retry_at: datetime | None = None
    tags: list[str] = Field(default_factory=list, description='given to the channel once it is added')
    account_id: str | None = Field(default=None, description='the account that resolved it')
    created_at: datetime

    @classmethod
    def of(cls, entry: ChannelRefEntry) -> RefEntryView:
        return cls(**entry.model_dump(exclude={'account_id', 'worked_by', 'join', 'updated_at', 'access_hash'}),
                   account_id=entry.worked_by)


class PreviewView(BaseModel):
    title: str
    participants_count: int | None = None
    about: str | None = None
    photo: str | None = None


class InvitePreview(BaseModel):
    """An invite link's channel, not joined yet: send the same request with `join: true` to join and add it."""
    needs_join: bool = True
    preview: PreviewView


class ScheduleBody(BaseModel):
    sync_enabled: bool | None = Field(default=None, description='false stops scheduled syncs; "sync now" still works')
    interval_seconds: int | None = Field(default=None, ge=60, le=7 * 86400,
                                         description='seconds between scheduled syncs, 60 to 604800')
    comment_days: int | None = Field(default=None, ge=0, le=365,
                                     description='a sync reads again the comments of the posts of these last days '
                                                 '(0: comments are not read)')


async def channel_view(root: Root, channel: Channel, *, created: bool | None = None) -> ChannelView:
    stats = await root.sync.channel_stats(channel)
    return ChannelView.of(channel, stats, readers=root.accounts.authorized_account_ids(), created=created)


async def _get_channel(root: Root, channel_id: int) -> Channel:
    channel = await root.channels.repos.channels.get(channel_id)
    if channel is None:
        raise ApiError(404, 'CHANNEL_NOT_FOUND', lazy('No channel {channel_id} is stored.', channel_id=channel_id))
    return channel


@router.post('/channels', response_model=ChannelView | InvitePreview)
async def add_channel(body: AddChannelBody, root: ReadyRootDep, response: Response) -> ChannelView | InvitePreview:
    """Add a channel. An invite link without `join: true` answers with a preview to confirm."""
    result = await root.channels.add(body.ref, account_id=body.account_id, join=body.join)
    if result.needs_join:
        preview = result.preview
        return InvitePreview(preview=PreviewView(title=preview.title, participants_count=preview.participants_count,
                                                 about=preview.about, photo=preview.photo))
    response.status_code = 201 if result.created else 200
    return await channel_view(root, result.channel, created=result.created)


@router.post('/channel-refs', status_code=202, response_model=list[RefEntryView])
async def queue_refs(body: QueueRefsBody, root: ReadyRootDep) -> list[RefEntryView]:
    """Queue many references at once; they are added in the background within every account's budgets."""
    entries = await root.add_queue.submit('\n'.join(body.refs), account_id=body.account_id)
    return [RefEntryView.of(entry) for entry in entries]


@router.get('/channel-refs', response_model=list[RefEntryView])
async def list_refs(root: ReadyRootDep, ids: Annotated[list[EntryId] | None, Query(max_length=MAX_IDS_PER_READ)] = None
                    ) -> list[RefEntryView]:
    """The given entries (up to 100 a request, so the address stays short), or every unfinished one (queued,
    resolving, waiting for a join), oldest first."""
    repo = root.add_queue.repos.channel_refs
    entries = await repo.get_many(ids) if ids else await repo.unfinished()
    return [RefEntryView.of(entry) for entry in entries]


MAX_IDS_PER_READ = 100
EntryId = Annotated[str, StringConstraints(pattern='^[A-Za-z0-9_-]{1,64}$')]


class FolderView(BaseModel):
    """One of an account's Telegram chat folders."""
    id: int
    title: str
    emoticon: str | None = None
    channels: int = Field(description='channels in it')


@router.get('/accounts/{account_id}/folders', response_model=list[FolderView])
async def list_folders(account_id: IdPath, root: ReadyRootDep) -> list[FolderView]:
    """The account's chat folders (messages.getDialogFilters), to import one."""
    folders = await root.channels.folders(account_id)
    return [FolderView(id=f.id, title=f.title, emoticon=f.emoticon, channels=len(f.channels)) for f in folders]


@router.post('/accounts/{account_id}/folders/{folder_id}/import', status_code=202, response_model=list[RefEntryView])
async def import_folder(account_id: IdPath, folder_id: FolderIdPath, root: ReadyRootDep) -> list[RefEntryView]:
    """Queue every channel of a chat folder, tagged with the folder's name; follow them with GET .../channel-refs."""
    return [RefEntryView.of(entry) for entry in await root.add_queue.import_folder(account_id, folder_id)]


@router.post('/channel-refs/{entry_id}/join', response_model=RefEntryView)
async def join_ref(entry_id: IdPath, root: ReadyRootDep) -> RefEntryView:
    """Confirm an invite preview (`needs_join`): the queue joins it."""
    entry = await root.add_queue.confirm_join(entry_id)
    if entry is None:
        raise ApiError(404, 'NOT_FOUND', lazy('No queued reference {entry_id}.', entry_id=entry_id))
    return RefEntryView.of(entry)


@router.get('/channels', response_model=ChannelList)
async def list_channels(
    root: ReadyRootDep,
    q: Annotated[str | None, Query(max_length=200, description='part of the title or @username')] = None,
    tag: Annotated[str | None, Query(max_length=MAX_TAG_LENGTH)] = None,
    status: StatusFilter | None = None,
    sort: ListSort = ListSort.TITLE,
    order: Annotated[str | None, Query(pattern='^(asc|desc)$',
                                       description='default: titles A to Z, the rest largest or newest first')] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> ChannelList:
    """Channels with their sync state and stats, one page at a time, filtered and sorted."""
    try:
        offset = decode_cursor(cursor)
        tag = normalize_tag(tag) if tag is not None else None
    except ValueError as error:
        raise ApiError(400, 'BAD_REQUEST', str(error)) from None
    query = ChannelQuery(q=q or '', tag=tag, status=status, sort=sort, limit=limit, offset=offset,
                         descending=None if order is None else order == 'desc')
    channels, stats, total = await root.sync.channel_page(query)
    following = offset + len(channels)
    readers = root.accounts.authorized_account_ids()
    return ChannelList(items=[ChannelView.of(channel, item, readers=readers)
                              for channel, item in zip(channels, stats, strict=True)],
                       total=total, next_cursor=encode_cursor(following) if following < total else None)


@router.get('/tags', response_model=list[TagCount])
async def list_tags(root: ReadyRootDep) -> list[TagCount]:
    """Every tag in use and how many channels carry it."""
    return [TagCount(name=name, channels=count) for name, count in (await root.sync.directory.tags()).items()]


class BulkBody(BaseModel):
    action: BulkAction = Field(description='sync, pause (job and schedule), resume, tag, untag or delete')
    ids: list[ChannelIdItem] = Field(min_length=1, max_length=MAX_BULK)
    tags: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=MAX_TAGS,
                                                              description='for tag and untag')


@router.post('/channels/bulk', response_model=BulkDone)
async def bulk(body: BulkBody, root: ReadyRootDep) -> BulkDone:
    """One action on many channels: sync now, pause, resume, tag, untag or delete."""
    try:
        result = await run_bulk(root.sync, body.action, body.ids, body.tags)
    except BulkError as error:
        raise ApiError(400, 'BAD_REQUEST', str(error)) from None
    return BulkDone(action=result.action.value, done=result.done, missing=result.missing)


@router.get('/channels/{channel_id}', response_model=ChannelView)
async def get_channel(channel_id: ChannelIdPath, root: ReadyRootDep) -> ChannelView:
    return await channel_view(root, await _get_channel(root, channel_id))


@router.delete('/channels/{channel_id}', response_model=ChannelDeleted)
async def delete_channel(
    channel_id: ChannelIdPath, root: ReadyRootDep,
    keep_files: Annotated[bool, Query(description='keep the files kept from its posts (false: delete each file no '
                                                  "other channel's post shows)")] = True,
) -> ChannelDeleted:
    """Remove the channel, its posts, versions and jobs. Its kept files stay unless `keep_files=false`."""
    await _get_channel(root, channel_id)
    await root.sync.delete_channel(channel_id, keep_files=keep_files)
    return ChannelDeleted(id=channel_id)


@router.patch('/channels/{channel_id}', response_model=ChannelView)
async def update_schedule(channel_id: ChannelIdPath, body: ScheduleBody, root: ReadyRootDep) -> ChannelView:
    """Change a channel's sync schedule: `{"sync_enabled": false}`, `{"interval_seconds": 900}` or how many days
    of comments a sync reads again (`{"comment_days": 3}`)."""
    await _get_channel(root, channel_id)
    if body.sync_enabled is None and body.interval_seconds is None and body.comment_days is None:
        raise ApiError(400, 'BAD_REQUEST', lazy('Send `sync_enabled`, `interval_seconds` and/or `comment_days` to '
                                                'change the schedule.'))
    if body.comment_days is not None:
        await root.repos.channels.set_sync_settings(channel_id, comment_days=body.comment_days)
    if body.sync_enabled is not None or body.interval_seconds is not None:
        await root.sync.set_schedule(channel_id, enabled=body.sync_enabled, interval_seconds=body.interval_seconds)
    return await channel_view(root, await _get_channel(root, channel_id))


@router.post('/channels/{channel_id}/sync', status_code=202, response_model=JobView)
async def sync_channel(channel_id: ChannelIdPath, root: ReadyRootDep) -> JobView:
    """Queue a sync; during a running one, answers that job with `follow_up: true` (one more sync follows it)."""
    await _get_channel(root, channel_id)
    return JobView.of(await root.sync.enqueue(channel_id))


def _filter(since: datetime | None, until: datetime | None, has_media: bool | None) -> PostFilter:
    if since and until and since > until:
        raise ApiError(400, 'BAD_REQUEST', lazy('`since` is after `until`.'))
    return PostFilter(since=since, until=until, has_media=has_media)


def _search(channel_id: int, q: str | None, since: datetime | None, until: datetime | None,
            has_media: bool | None, limit: int = 50, before_id: int | None = None) -> SearchRequest | None:
    """A query in the query language goes to the search index, newest first."""
    if not (q or '').strip():
        return None
    return SearchRequest(q=q or '', channel_ids=[channel_id], since=since, until=until, has_media=has_media,
                         sort=Sort.DATE, limit=limit, before_id=before_id)


@router.get('/channels/{channel_id}/posts', response_model=PostsPage)
async def list_posts(
    channel_id: ChannelIdPath, root: ReadyRootDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: BeforeIdQuery = None,
    q: SearchQ = '',
    since: DateQuery = None, until: DateQuery = None, has_media: bool | None = None,
) -> PostsPage:
    """Posts newest first; pass `next_before_id` back as `before_id` for the next page (null at the end)."""
    channel = await _get_channel(root, channel_id)
    post_filter = _filter(since, until, has_media)
    query = _search(channel_id, q, since, until, has_media, min(limit, MAX_SEARCH_LIMIT), before_id)
    if query is not None:
        with search_errors():
            page = await root.search.search(query)
        items = [item.post for item in page.items]
        next_before = items[-1].message_id if items and page.total > len(page.items) else None
    else:
        items, next_before = await root.repos.posts.page(
            channel_id=channel_id, limit=limit, before_id=before_id, filter=post_filter,
            newest_hint=newest_hint(channel))
    return PostsPage(items=[post_record(channel, post) for post in items], next_before_id=next_before)


@router.get('/channels/{channel_id}/export', response_class=StreamingResponse, responses={200: {
    'description': 'Every matching post, newest first, streamed: one JSON object per line, or CSV with a header.',
    'content': {'application/x-ndjson': {'schema': {'type': 'string'}}, 'text/csv': {'schema': {'type': 'string'}}}}})
async def export_posts(
    channel_id: ChannelIdPath, root: ReadyRootDep,
    format: Annotated[str, Query(pattern='^(csv|jsonl)$')] = 'jsonl',
    q: SearchQ = '',
    since: DateQuery = None, until: DateQuery = None, has_media: bool | None = None,
    versions: Annotated[bool, Query(description="each post's earlier versions too, with their hashes")] = False,
    comments: Annotated[bool, Query(description='the comments under each post too (JSONL: a `comments` list; CSV: '
                                                "a row per comment after its post's)")] = False,
) -> StreamingResponse:
    channel = await _get_channel(root, channel_id)
    post_filter = _filter(since, until, has_media)
    with search_errors():
        return await channel_export(root.repos, root.search, channel, format, post_filter,
                                    _search(channel_id, q, since, until, has_media), versions=versions,
                                    comments=comments)


