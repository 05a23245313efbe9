"""The work of a job on one channel with one client: backfill the history, or sync what changed.

Both take a connected TelegramClient and the repositories, so they run the same in the app, in a test and in
the benchmark. FloodWaitError propagates (an account's client never sleeps through one, see client_factory):
the caller (SyncService) decides how the job waits.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from telethon import TelegramClient, functions, types

from app.db.models import Job, Metric, MetricKind, Post, utcnow
from app.db.posts_repo import ID_CEILING
from app.mtproto.mapping import post_from_message

if TYPE_CHECKING:
    from app.db.repos import Repos

BATCH = 100  # messages.getHistory answers at most 100 messages
BY_ID = 100  # channels.getMessages answers at most 100 ids
QUEUE_SIZE = 2  # batches fetched ahead of the writer: bounds memory, lets fetching overlap writing
COALESCE = 300  # at most this many posts per write when batches queue up behind a slow database
POST_SNAPSHOT_EVERY = timedelta(hours=1)  # views/forwards/reactions history of recent posts, not one row per sync
DEEP_CHECK_PAGES = 3  # older pages re-read per sync to notice old edits and deletions, a little each time

async def top_message_id(client: TelegramClient, peer: types.InputChannel) -> int:
    result = await client(functions.messages.GetHistoryRequest(
        peer=as_peer(peer), offset_id=0, offset_date=None, add_offset=0, limit=1, max_id=0, min_id=0, hash=0))
    return max((m.id for m in result.messages), default=0)


async def history_page(client: TelegramClient, peer: types.InputChannel, *, offset_id: int, limit: int = BATCH,
                       min_id: int = 0) -> list[Any]:
    """Messages with id < offset_id (0: from the newest), newest first."""
    result = await client(functions.messages.GetHistoryRequest(
        peer=as_peer(peer), offset_id=offset_id, offset_date=None, add_offset=0, limit=limit, max_id=0, min_id=min_id,
        hash=0))
    return sorted(result.messages, key=lambda m: m.id, reverse=True)


async def messages_by_id(client: TelegramClient, peer: types.InputChannel, ids: list[int]) -> dict[int, Any]:
    """The messages of these ids (at most BY_ID, one request) that Telegram still has, by id: posts and service
    messages; an id it answers empty is left out."""
    wanted = set(ids)
    answer = await client(functions.channels.GetMessagesRequest(
        channel=peer, id=[types.InputMessageID(i) for i in ids]))
    return {m.id: m for m in answer.messages
            if isinstance(m, types.Message | types.MessageService) and m.id in wanted}


def as_peer(peer: types.InputChannel | types.InputPeerChannel) -> types.InputPeerChannel:
    if isinstance(peer, types.InputChannel):
        return types.InputPeerChannel(peer.channel_id, peer.access_hash)
    return peer


def to_posts(messages: list[Any], channel_id: int) -> list[Post]:
    now = utcnow()
    posts = (post_from_message(m, channel_id, fetched_at=now) for m in messages)
    return [p for p in posts if p is not None]


# ---------------------------------------------------------------- backfill

@dataclass
class BackfillProgress:
    done: int
    total: int
    eta_seconds: float | None
    offset_id: int
    new_ids: list[int]  # ids of this write that were not stored before


async def start_backfill(client: TelegramClient, repos: Repos, job: Job, peer: types.InputChannel
                         ) -> dict[str, Any]:
    """A backfill's first request: the newest post's id, saved as the checkpoint its reading starts from (the
    ranges an earlier backfill stored are kept)."""
    top = await top_message_id(client, peer)
    checkpoint = {'top_id': top, 'offset_id': top + 1, 'done_ranges': job.checkpoint.get('done_ranges', [])}
    await repos.jobs.save_checkpoint(job.id, checkpoint=checkpoint, done=0, total=top, eta_seconds=None)
    return checkpoint


async def backfill(client: TelegramClient, repos: Repos, job: Job, peer: types.InputChannel, *,
                   batch: int = BATCH, queue_size: int = QUEUE_SIZE,
                   on_progress: Callable[[BackfillProgress], Awaitable[None]] | None = None) -> Job:
    """Fetch the history from the newest post down, writing each batch and a checkpoint as it goes.

    The checkpoint is `{top_id, offset_id}`: every message with id >= offset_id (up to top_id) is stored. A rerun
    with the same job continues below offset_id; the batch that was in flight when a process died is simply
    upserted again, so the result has no gap and no duplicate.
    """
    channel_id = job.channel_id
    checkpoint = dict(job.checkpoint)
    skip = [tuple(r) for r in checkpoint.get('done_ranges', [])]  # stored completely by an earlier backfill
    if 'top_id' not in checkpoint:
        checkpoint = await start_backfill(client, repos, job, peer)
    top_id, offset_id = checkpoint['top_id'], checkpoint['offset_id']
    queue: asyncio.Queue[tuple[list[dict[str, Any]], int] | None] = asyncio.Queue(maxsize=queue_size)

    def prepare(page: list[Any]) -> list[dict[str, Any]]:
        return repos.posts.prepare(to_posts(page, channel_id))

    async def fetch() -> None:
        # Fetches and maps (in a worker thread, so the event loop stays responsive) ahead of the writer.
        offset = offset_id
        while (offset := _below_done(offset, skip)) > 1:
            page = await history_page(client, peer, offset_id=offset, limit=batch)
            if not page:
                break
            offset, short = page[-1].id, len(page) < batch
            docs = await asyncio.to_thread(prepare, page)
            del page
            await queue.put((docs, offset))
            if short:
                break
        await queue.put(None)

    started, start_done = time.monotonic(), top_id - offset_id + 1
    fetcher = asyncio.create_task(fetch(), name=f'backfill-fetch-{channel_id}')
    getter: asyncio.Future | None = None
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            done_set, _ = await asyncio.wait({getter, fetcher}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done_set:
                getter.cancel()
                fetcher.result()  # raises the fetcher's error (FloodWait, network) here
                item = await queue.get()  # the fetcher finished cleanly: its last item is queued
            else:
                item = getter.result()
            if item is None:
                break
            docs, new_offset = item
            # Batches that queued up while the previous write ran go out together: one write, one checkpoint.
            finished = False
            while not queue.empty() and len(docs) < COALESCE:
                more = queue.get_nowait()
                if more is None:
                    finished = True
                    break
                docs, new_offset = docs + more[0], more[1]

            async def store(docs: list[dict[str, Any]], new_offset: int) -> None:
                new_ids = (await repos.writer.store(channel_id, docs)).created
                checkpoint = {'top_id': top_id, 'offset_id': new_offset, 'done_ranges': skip}
                done = top_id - new_offset + 1
                rate = (done - start_done) / max(time.monotonic() - started, 1e-6)
                eta = (new_offset - 1) / rate if rate > 0 else None
                await repos.jobs.save_checkpoint(job.id, checkpoint=checkpoint, done=done, total=top_id,
                                                 eta_seconds=eta)
                if on_progress is not None:
                    await on_progress(BackfillProgress(done, top_id, eta, new_offset, new_ids))
            # a batch is written, checkpointed and counted whole: a pause or cancel waits for the one in flight
            stored = asyncio.ensure_future(store(docs, new_offset))
            try:
                await asyncio.shield(stored)
            except asyncio.CancelledError:
                await stored
                raise
            if finished:
                break
    finally:  # also on pause/cancel: no task of this backfill outlives it
        for task in (getter, fetcher):
            if task is not None and not task.done():
                task.cancel()
        await asyncio.gather(*(t for t in (getter, fetcher) if t is not None), return_exceptions=True)
    checkpoint = {'top_id': top_id, 'offset_id': 1}
    await repos.jobs.save_checkpoint(job.id, checkpoint=checkpoint, done=top_id, total=top_id, eta_seconds=0)
    return await repos.jobs.get(job.id) or job


def done_ranges(checkpoint: dict[str, Any]) -> list[tuple[int, int]]:
    """The id ranges a backfill's checkpoint says are stored completely, merged, lowest first."""
    ranges = [tuple(r) for r in checkpoint.get('done_ranges', [])]
    if 'top_id' in checkpoint and checkpoint['offset_id'] <= checkpoint['top_id']:
        ranges.append((checkpoint['offset_id'], checkpoint['top_id']))
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _below_done(offset: int, skip: list[tuple[int, int]]) -> int:
    """The offset to read below next: past every stored range that the next page would start in."""
    moved = True
    while moved:
        moved = False
        for lo, hi in skip:
            if lo <= offset - 1 <= hi:
                offset, moved = lo, True
    return offset


# ---------------------------------------------------------------- incremental sync

@dataclass
class SyncResult:
    new: int = 0
    updated: int = 0
    deleted: int = 0
    top_id: int = 0
    deep_before: int = 0
    new_ids: list[int] = field(default_factory=list)
    edited_ids: list[int] = field(default_factory=list)  # stored before, and Telegram reports a newer edit
    deleted_ids: list[int] = field(default_factory=list)


async def _apply_page(client: TelegramClient, repos: Repos, channel_id: int, peer: types.InputChannel,
                      page: list[Any], hi: int | None, bottom: bool, result: SyncResult) -> list[Post]:
    """Store a page; a stored post inside the page's id range that the page lacks is marked deleted only once
    Telegram confirms it by id: history pages now and then leave out messages that exist."""
    posts = to_posts(page, channel_id)
    lo = 1 if bottom or not page else page[-1].id
    upper = hi if hi is not None else ID_CEILING
    returned = {m.id for m in page}
    absent = [i for i in await repos.posts.ids_between(channel_id=channel_id, min_id=lo, max_id=upper)
              if i not in returned]
    gone: list[int] = []
    for start in range(0, len(absent), BY_ID):  # one request per 100 ids, and none while nothing is absent
        chunk = absent[start:start + BY_ID]
        found = to_posts(list((await messages_by_id(client, peer, chunk)).values()), channel_id)
        posts += found
        gone += sorted(set(chunk) - {p.message_id for p in found})
    written = await repos.writer.store(channel_id, repos.posts.prepare(posts), gone=gone)
    result.new += len(written.created)
    result.new_ids += written.created
    result.updated += len(posts) - len(written.created)
    result.edited_ids += written.edited + written.restored
    result.deleted += len(written.deleted)
    result.deleted_ids += written.deleted
    return posts


def post_snapshot(post: Post, at: datetime) -> Metric:
    return Metric(kind=MetricKind.POST, channel_id=post.channel_id, message_id=post.message_id, at=at, values={
        'views': post.views or 0, 'forwards': post.forwards or 0, 'replies': post.replies or 0,
        'reactions': sum(r.count for r in post.reactions)})


async def sync_channel(client: TelegramClient, repos: Repos, channel_id: int, peer: types.InputChannel, *,
                       last_message_id: int, refresh_days: int = 7, deep_before: int = 0,
                       now: datetime | None = None, new_only: bool = False) -> SyncResult:
    """New posts since the last one, fresh counters and edits of the last `refresh_days`, deletions marked.
    With `new_only` (a backfill has just read everything else) only the pages down to the last stored post.

    Walks the history from the newest post down until it has passed both the last stored post and the refresh
    window; then re-reads a few older pages below `deep_before` (a rolling cursor) so old edits and deletions
    are noticed over time too.
    """
    result = SyncResult()
    now = now or utcnow()
    since = now if new_only else now - timedelta(days=refresh_days)
    last_snapshot = await repos.metrics.latest_at(channel_id=channel_id, kind=MetricKind.POST)
    take_snapshots = last_snapshot is None or now - last_snapshot >= POST_SNAPSHOT_EVERY
    snapshots: list[Metric] = []
    offset, hi = 0, None
    while True:
        page = await history_page(client, peer, offset_id=offset)
        bottom = len(page) < BATCH
        if offset == 0:
            result.top_id = page[0].id if page else 0
        posts = await _apply_page(client, repos, channel_id, peer, page, hi, bottom, result)
        if take_snapshots:
            snapshots += [post_snapshot(p, now) for p in posts if p.date >= since]
        if bottom:
            break
        oldest = page[-1]
        offset, hi = oldest.id, oldest.id - 1
        if oldest.id <= last_message_id and oldest.date < since:
            break
    # Rolling check of older history: continue where the previous sync stopped, wrap to the top at the end.
    cursor = deep_before if 0 < deep_before < offset else offset
    for _ in range(DEEP_CHECK_PAGES if cursor > 1 and not bottom and not new_only else 0):
        page = await history_page(client, peer, offset_id=cursor)
        page_bottom = len(page) < BATCH
        await _apply_page(client, repos, channel_id, peer, page, cursor - 1, page_bottom, result)
        if page_bottom:
            cursor = 0
            break
        cursor = page[-1].id
    result.deep_before = deep_before if new_only else cursor
    await repos.metrics.add_many(snapshots)
    return result
