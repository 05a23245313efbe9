"""The completeness audit: ask Telegram about every id missing from a channel's stored sequence.

Ids from 1 to the newest known are either stored, already confirmed gone, or missing. Missing ids are asked for
by id, 100 a request (`channels.getMessages`, paced like history): a post that exists is stored (refilled), a
service message or an empty answer is recorded as gone with the date of the check. So an audit costs one request
per 100 missing ids and nothing for a channel with no gap; a gap that appears later (a missed live update) is
found by the next one. Each request's answer is written before the next is sent: an audit stopped midway (a
FloodWait, a restart) goes on from what is left.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telethon import TelegramClient, types

from app.db.completeness_repo import Completeness
from app.db.models import utcnow
from app.mtproto.jobs import BY_ID, messages_by_id, to_posts

if TYPE_CHECKING:
    from app.db.repos import Repos

ID_WINDOW = 50_000  # stored ids are read this many numbers at a time


@dataclass
class AuditResult:
    newest: int
    missing: int = 0  # ids asked about
    refilled: int = 0
    deleted: int = 0
    service: int = 0
    requests: int = 0


async def missing_ids(repos: Repos, channel_id: int, newest: int) -> list[int]:
    """Ids 1..newest neither stored nor confirmed gone."""
    known = [(run['first'], run['last']) for run in await repos.completeness.gone_runs(channel_id)]
    missing: list[int] = []
    for low in range(1, newest + 1, ID_WINDOW):
        high = min(newest, low + ID_WINDOW - 1)
        stored = set(await repos.posts.ids_between(channel_id=channel_id, min_id=low, max_id=high,
                                                   include_deleted=True))
        missing += [i for i in range(low, high + 1) if i not in stored]
    if known:
        missing = [i for i in missing if not any(first <= i <= last for first, last in known)]
    return missing


async def audit_channel(client: TelegramClient, repos: Repos, channel_id: int, peer: types.InputChannel, *,
                        newest: int, progress: Callable[[int, int], Awaitable[None]] | None = None) -> AuditResult:
    """Check ids 1..newest; `progress(checked, missing)` after each request."""
    result = AuditResult(newest=newest)
    missing = await missing_ids(repos, channel_id, newest)
    result.missing = len(missing)
    for start in range(0, len(missing), BY_ID):
        chunk = missing[start:start + BY_ID]
        found = await messages_by_id(client, peer, chunk)
        result.requests += 1
        posts = to_posts(list(found.values()), channel_id)  # service messages map to no post
        service = [i for i, m in found.items() if isinstance(m, types.MessageService)]
        answered = {p.message_id for p in posts} | set(service)
        deleted = [i for i in chunk if i not in answered]
        if posts:
            written = await repos.writer.store(channel_id, repos.posts.prepare(posts))
            result.refilled += len(written.created)
        now = utcnow()
        await repos.completeness.record_gone(channel_id, deleted, 'deleted', now)
        await repos.completeness.record_gone(channel_id, service, 'service', now)
        result.deleted += len(deleted)
        result.service += len(service)
        if progress is not None:
            await progress(start + len(chunk), len(missing))
    await repos.completeness.save_audit(channel_id, newest=newest, refilled=result.refilled, at=utcnow())
    return result


async def completeness(repos: Repos, channel_id: int) -> Completeness:
    async def count_stored(newest: int) -> int:
        # the channel's kept total less the few posts above the audited range: counting the range itself reads
        # every post of it on the embedded database (seconds for 100,000), and pages ask on every job event
        channel = await repos.channels.get(channel_id)
        above = await repos.posts.collection.count_documents(
            {'channel_id': channel_id, 'message_id': {'$gt': newest}})
        return (channel.state.posts_stored if channel is not None else 0) - above
    return await repos.completeness.of_channel(channel_id, count_stored)
