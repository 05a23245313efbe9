"""One action on many channels at once (a selection on the channels page, or POST /api/mtproto/channels/bulk)."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from app.db.channel_list import MAX_TAGS, normalize_tag
from app.events import ChannelChanged
from app.i18n import lazy

if TYPE_CHECKING:
    from app.mtproto.sync import SyncService

MAX_BULK = 1000


class BulkAction(StrEnum):
    SYNC = 'sync'
    PAUSE = 'pause'
    RESUME = 'resume'
    TAG = 'tag'
    UNTAG = 'untag'
    DELETE = 'delete'


class BulkError(ValueError):
    pass


@dataclass
class BulkResult:
    action: BulkAction
    done: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # ids no stored channel has


def clean_tags(tags: list[str]) -> list[str]:
    try:
        cleaned = list(dict.fromkeys(normalize_tag(tag) for tag in tags))
    except ValueError as error:
        raise BulkError(str(error)) from None
    if not cleaned:
        raise BulkError(lazy('Name at least one tag.'))
    if len(cleaned) > MAX_TAGS:
        raise BulkError(lazy('At most {most} tags at once.', most=MAX_TAGS))
    return cleaned


async def run_bulk(sync: SyncService, action: BulkAction, channel_ids: list[int],
                   tags: list[str] | None = None, *, keep_files: bool = True) -> BulkResult:
    ids = list(dict.fromkeys(channel_ids))
    if not ids:
        raise BulkError(lazy('Select at least one channel.'))
    if len(ids) > MAX_BULK:
        raise BulkError(lazy('At most {most} channels at once.', most=f'{MAX_BULK:,}'))
    repo = sync.repos.channels
    result = BulkResult(action)
    if action in (BulkAction.TAG, BulkAction.UNTAG):
        cleaned = clean_tags(tags or [])
        change = repo.add_tags if action == BulkAction.TAG else repo.remove_tags
        result.done = await change(ids, cleaned)
        for channel_id in result.done:
            sync.events.publish(ChannelChanged(channel_id=channel_id))
    else:
        result.done = await repo.existing(ids)
        for channel_id in result.done:
            if action == BulkAction.SYNC:
                await sync.enqueue(channel_id)
            elif action == BulkAction.PAUSE:
                await sync.pause_channel(channel_id)
            elif action == BulkAction.RESUME:
                await sync.resume_channel(channel_id)
            else:
                await sync.delete_channel(channel_id, keep_files=keep_files)
    done = set(result.done)
    result.done = [i for i in ids if i in done]
    result.missing = [i for i in ids if i not in done]
    return result
