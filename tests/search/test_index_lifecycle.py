"""The index is derived data: it follows every write through the change feed and rebuilds itself from MongoDB when
it is missing, of an older format, or behind what the feed still keeps."""
import asyncio
import json
import shutil

from app.db.models import utcnow
from app.events import ChannelChanged
from app.search.index import REBUILD_MARKER
from tests.search.conftest import Searching, post, store_posts


async def test_new_edited_and_deleted_posts_are_found_as_they_are_now(channels, searching):
    await searching.start()
    await store_posts(channels, [post(10, 1, 'Первая ракета'), post(10, 2, 'Второй спутник')])
    await searching.current()
    assert await searching.found('ракета') == [1]
    await store_posts(channels, [post(10, 1, 'Первый спутник')])  # edited: the old word no longer finds it
    await channels.writer.delete(10, [2])
    await searching.current()
    assert await searching.found('ракета') == []
    assert sorted(await searching.found('спутник')) == [1, 2]
    assert await searching.found('спутник is:deleted') == [2]
    assert searching.index.status.posts == 2  # each post once however often it changed


async def test_a_lost_or_old_index_is_rebuilt_from_the_database(channels, repos, tmp_path):
    await store_posts(channels, [post(10, i, f'ракета номер {i}') for i in range(1, 301)])
    first = Searching(repos, tmp_path / 'data')
    await first.start()
    path = first.index.path
    assert first.index.status.posts == 300
    await first.stop()

    shutil.rmtree(path)  # lost
    again = Searching(repos, tmp_path / 'data')
    await again.start()
    assert again.index.status.posts == 300 and len(await again.found('ракета')) == 100
    await again.stop()

    state = json.loads((path / 'parsegram.json').read_text())
    (path / 'parsegram.json').write_text(json.dumps({**state, 'format': state['format'] - 1}))  # older format
    older = Searching(repos, tmp_path / 'data')
    await older.start()
    assert older.index.status.posts == 300
    assert json.loads((path / 'parsegram.json').read_text())['format'] == state['format']
    await older.stop()


async def test_a_batch_applied_but_not_recorded_is_applied_again_without_doubling(channels, repos, tmp_path):
    first = Searching(repos, tmp_path / 'data')
    await first.start()
    await store_posts(channels, [post(10, i, f'спутник {i}') for i in range(1, 51)])
    changes = await repos.feed.read(after=first.reader.position)
    first.task.cancel()  # stopped: like a crash after the index took the batch, before its position was kept
    await first.index.handle(changes, None)
    first.index.engine.commit(first.index.engine.position())
    await first.stop()

    restarted = Searching(repos, tmp_path / 'data')
    await restarted.start()
    assert restarted.index.status.posts == 50
    assert len(await restarted.found('спутник')) == 50


async def test_an_index_behind_the_trimmed_feed_rebuilds(channels, repos, tmp_path):
    first = Searching(repos, tmp_path / 'data')
    await first.start()
    await first.stop()  # at position 0
    await store_posts(channels, [post(10, i, f'станция {i}') for i in range(1, 21)])
    await repos.feed.trim(older_than=utcnow())  # no other consumer holds the feed back
    assert await repos.feed.oldest() > 1
    later = Searching(repos, tmp_path / 'data')
    await later.start()
    assert len(await later.found('станция')) == 20


async def test_two_processes_keep_their_own_index_and_answer_alike(channels, repos, tmp_path):
    one, two = Searching(repos, tmp_path / 'data'), Searching(repos, tmp_path / 'data')  # one DATA_DIR
    await one.start()
    await two.start()
    try:
        assert one.index.path != two.index.path
        await store_posts(channels, [post(10 if i % 2 else 20, i, f'Ракеты и каналы {i}') for i in range(1, 41)])
        await store_posts(channels, [post(10, 1, 'Спутник')])
        await one.current()
        await two.current()
        for q in ('ракета', 'канал -спутник', 'channel:@kosmos_ru', 'спутник'):
            assert await one.found(q) == await two.found(q), q
    finally:
        await two.stop()


async def test_a_rebuild_asked_from_outside_and_a_deleted_channel(channels, searching):
    await store_posts(channels, [post(10, 1, 'ракета'), post(20, 2, 'ракета')])
    await searching.start()
    marker = searching.index.path / REBUILD_MARKER
    marker.touch()  # what `parsegram reindex` leaves for a running server
    searching.reader.wake()
    await asyncio.wait_for(_gone(marker), 10)
    await searching.current()
    assert searching.index.status.posts == 2
    await searching.index.channel_changed(ChannelChanged(channel_id=20, deleted=True))
    assert await searching.found('ракета') == [1]


async def _gone(path) -> None:
    while path.exists():
        await asyncio.sleep(0.01)
