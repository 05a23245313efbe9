import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.db.change_feed import ChangeKind
from app.db.models import Post
from app.feed_consumers import FeedConsumer, FeedConsumers, FeedReader
from tests.support import store_posts

BASE = datetime(2026, 3, 1, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def _post(message_id: int, text: str = '', channel_id: int = 10) -> Post:
    return Post(channel_id=channel_id, message_id=message_id, date=BASE + timedelta(minutes=message_id), text=text)


class Recorder(FeedConsumer):
    """Keeps what it was handed in MongoDB, in the same transaction as its position; can be told to fail."""

    def __init__(self, db, name: str = 'recorder', fail_at: int | None = None) -> None:
        self.name = name
        self.seen = db[f'seen_{name}']
        self.fail_at = fail_at

    async def handle(self, changes, session) -> None:
        await self.seen.insert_many([{'p': c.position, 'm': c.message_id, 'k': c.kind.value} for c in changes],
                                    session=session)
        if self.fail_at is not None and any(c.position >= self.fail_at for c in changes):
            self.fail_at = None
            raise RuntimeError('stopped mid-batch')  # after part of its work: the transaction undoes it

    async def positions(self) -> list[int]:
        return [doc['p'] for doc in await self.seen.find().sort('p', 1).to_list()]


async def test_a_consumer_stopped_mid_way_resumes_from_its_position_and_sees_every_change_once(repos, db):
    await store_posts(repos, [_post(i, f'post {i}') for i in range(1, 121)])
    await store_posts(repos, [_post(5, 'post 5, edited')])
    await repos.writer.delete(10, [7])
    recorder = Recorder(db, fail_at=70)
    reader = FeedReader(repos.feed, recorder, batch=25)
    assert await reader.step() and await reader.step()  # 50 changes handled and their position saved
    with pytest.raises(RuntimeError):
        await reader.step()  # dies in its third batch: neither its records nor its position are kept
    assert await repos.feed.position('recorder') == 50

    restarted = FeedReader(repos.feed, recorder, batch=25, poll_seconds=0.05)  # a new process: from the store
    task = asyncio.ensure_future(restarted.run())
    try:
        await caught_up(restarted)
    finally:
        task.cancel()
    assert await recorder.positions() == list(range(1, 123))
    kinds = [doc['k'] for doc in await recorder.seen.find({'m': {'$in': [5, 7]}}).sort('p', 1).to_list()]
    assert kinds == ['created', 'created', 'edited', 'deleted']


@pytest.mark.timeout(120)  # two more Python processes start and import the app
async def test_with_two_processes_writing_one_consumer_skips_no_change(repos, db, mongo_uri):
    reader = FeedReader(repos.feed, Recorder(db), batch=7, poll_seconds=0.01)  # reads while they write
    task = asyncio.ensure_future(reader.run())
    writers = [await asyncio.create_subprocess_exec(
        sys.executable, '-m', 'tests.feed_writer_process', mongo_uri, db.name, '10', str(first), '30',
        cwd=ROOT, stdout=asyncio.subprocess.PIPE) for first in (1, 10_001)]
    try:
        outputs = [await writer.communicate() for writer in writers]
        assert [writer.returncode for writer in writers] == [0, 0]
        await caught_up(reader)
    finally:
        task.cancel()
    taken = sorted(p for out, _ in outputs for p in json.loads(out))
    assert len(taken) == 2 * (30 * 5 + 29)
    assert taken == list(range(1, len(taken) + 1))  # every position taken once, none lost to a conflict
    assert await reader.consumer.positions() == taken  # read in order, each once, none skipped
    stored = await repos.posts.collection.count_documents({'channel_id': 10})
    assert stored == 300 and await repos.versions.collection.count_documents({}) == 58


async def test_the_feed_is_trimmed_only_behind_every_consumer(repos, db):
    await store_posts(repos, [_post(i) for i in range(1, 11)])
    await store_posts(repos, [_post(i) for i in range(11, 21)])
    await repos.feed.save_position('slow', 10)
    await repos.feed.save_position('fast', 20)
    later = datetime.now(UTC) + timedelta(days=1)
    assert await repos.feed.trim(older_than=later) == 1  # the first write only: 'slow' has not read the second
    assert [c.position for c in await repos.feed.read(after=0)] == list(range(11, 21))
    assert await repos.feed.oldest() == 11
    assert await repos.feed.trim(older_than=datetime.now(UTC) - timedelta(days=1)) == 0  # too young


async def test_the_app_s_readers_are_woken_by_each_write(repos, db):
    consumers = FeedConsumers(repos.feed, repos.writer)
    reader = consumers.add(Recorder(db), poll_seconds=3600)  # no polling: only the write's wake-up moves it
    await consumers.start()
    try:
        await store_posts(repos, [_post(1)])
        await asyncio.wait_for(_until(lambda: reader.position == 1), 10)
        changes = await repos.feed.read()
        assert [(c.message_id, c.kind) for c in changes] == [(1, ChangeKind.CREATED)]
    finally:
        await consumers.stop()


async def caught_up(reader: FeedReader, timeout: float = 30.0) -> None:
    """Until the reader has handled everything written so far (it polls every few milliseconds here)."""
    async def reached() -> None:
        while reader.position < await reader.feed.head():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(reached(), timeout)


async def _until(check) -> None:
    while not check():
        await asyncio.sleep(0.01)


async def test_a_reader_gets_every_position_once_whatever_its_place_and_limit_and_the_sizes_of_writes(repos):
    sizes = [3, 250, 1, 40, 1, 1, 120, 7]  # one write longer than any limit below, some shorter than all
    first = 1
    for n, size in enumerate(sizes):
        await repos.feed.append(n, first, [(m, 'created', None) for m in range(size)], BASE, None)
        first += size
    last = first - 1
    # a small limit inside the long write and across the short ones, larger ones from odd places
    for limit, start in ((7, 0), (7, 250), (100, 0), (100, 2), (100, 254), (1000, 3), (1000, 300)):
        read, after = [], start
        while batch := await repos.feed.read(after=after, limit=limit):
            assert len(batch) <= limit
            read += [change.position for change in batch]
            after = batch[-1].position
        assert read == list(range(start + 1, last + 1)), (limit, start)
