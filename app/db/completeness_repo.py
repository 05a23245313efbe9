"""What Parsegram can prove it holds of a channel: ids stored, ids Telegram confirmed gone, and the rest unchecked.

`post_gaps` keeps runs of message ids that Telegram answered as gone when asked by id: deleted before Parsegram
saw them (`deleted`), or taken by a service message that is no post (`service`), with the date of the check.
`audits` keeps per channel the newest id the last audit covered, when, and how many posts audits refilled.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

GONE_KINDS = ('deleted', 'service')


def runs(ids: list[int]) -> list[tuple[int, int]]:
    """Sorted ids as (first, last) runs of consecutive numbers."""
    found: list[tuple[int, int]] = []
    for value in sorted(set(ids)):
        if found and value == found[-1][1] + 1:
            found[-1] = (found[-1][0], value)
        else:
            found.append((value, value))
    return found


@dataclass
class Completeness:
    channel_id: int
    newest: int  # the newest id the last audit covered (0: never audited)
    stored: int  # stored posts with ids 1..newest (deleted ones included: Parsegram has them)
    deleted: int  # confirmed gone: deleted before Parsegram saw them
    service: int  # confirmed gone: service messages, no posts
    refilled: int  # posts audits found missing and stored
    checked_at: datetime | None

    @property
    def unchecked(self) -> int:
        return max(0, self.newest - self.stored - self.deleted - self.service)

    @property
    def complete(self) -> bool:
        return self.checked_at is not None and self.unchecked == 0


class CompletenessRepo:
    def __init__(self, db: AsyncDatabase) -> None:
        self.gaps = db['post_gaps']
        self.audits = db['audits']

    async def ensure_indexes(self) -> None:
        await self.gaps.create_index([('channel_id', ASCENDING), ('first', ASCENDING)], name='channel_first')

    async def record_gone(self, channel_id: int, ids: list[int], kind: str, at: datetime) -> None:
        if ids:
            await self.gaps.insert_many([{'channel_id': channel_id, 'first': first, 'last': last, 'kind': kind,
                                          'checked_at': at} for first, last in runs(ids)])

    async def gone_runs(self, channel_id: int) -> list[dict[str, Any]]:
        return await self.gaps.find({'channel_id': channel_id}, {'_id': 0}).to_list()

    async def save_audit(self, channel_id: int, *, newest: int, refilled: int, at: datetime) -> None:
        await self.audits.update_one({'_id': channel_id}, {'$set': {'newest': newest, 'checked_at': at},
                                                           '$inc': {'refilled': refilled}}, upsert=True)

    async def of_channel(self, channel_id: int, count_stored: Callable[[int], Awaitable[int]]) -> Completeness:
        """`count_stored(newest)` counts the channel's stored posts with ids up to `newest`."""
        audit = await self.audits.find_one({'_id': channel_id}) or {}
        newest = audit.get('newest', 0)
        stored = await count_stored(newest) if newest else 0
        gone = {kind: 0 for kind in GONE_KINDS}
        for run in await self.gone_runs(channel_id):
            if run['first'] <= newest:
                gone[run['kind']] += min(run['last'], newest) - run['first'] + 1
        return Completeness(channel_id=channel_id, newest=newest, stored=stored, deleted=gone['deleted'],
                            service=gone['service'], refilled=audit.get('refilled', 0),
                            checked_at=audit.get('checked_at'))

    async def delete_channel(self, *, channel_id: int) -> None:
        await self.gaps.delete_many({'channel_id': channel_id})
        await self.audits.delete_one({'_id': channel_id})
