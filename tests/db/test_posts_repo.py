import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import DuplicateKeyError

from app.db.models import MediaSummary, Post, Reaction
from app.db.posts_repo import PostFilter
from app.pages.give_way import GiveWay
from tests.support import eventually, store_posts

BASE = datetime(2026, 3, 1, tzinfo=UTC)


def _post(message_id: int, text: str = '', channel_id: int = 10, **fields) -> Post:
    return Post(channel_id=channel_id, message_id=message_id, date=BASE + timedelta(hours=message_id), text=text,
                **fields)


async def test_writing_twice_is_idempotent_and_the_unique_index_rejects_duplicates(repos):
    posts = [_post(i, f'post {i}') for i in range(1, 201)]
    await store_posts(repos, posts)
    await store_posts(repos, posts[50:150])
    assert await repos.posts.count(channel_id=10) == 200
    with pytest.raises(DuplicateKeyError):
        await repos.posts.collection.insert_one({'channel_id': 10, 'message_id': 5})
    # an upsert replaces changed fields
    await store_posts(repos, [_post(5, 'edited', views=99)])
    stored = await repos.posts.get(channel_id=10, message_id=5)
    assert (stored.text, stored.views) == ('edited', 99)


async def test_pages_newest_first_with_cursor(repos):
    await store_posts(repos, [_post(i, f'n{i}') for i in range(1, 251)])
    await store_posts(repos, [_post(i, 'other channel', channel_id=11) for i in range(1, 30)])
    seen = []
    before = None
    while True:
        items, before = await repos.posts.page(channel_id=10, limit=60, before_id=before)
        seen.extend(p.message_id for p in items)
        if before is None:
            break
    assert seen == list(range(250, 0, -1))


async def test_a_channel_without_posts_pages_and_exports_nothing(repos):
    """A channel just added, before its first posts arrive: its page and export are empty, not an error."""
    await store_posts(repos, [_post(i, channel_id=11) for i in range(1, 5)])  # another channel's posts
    for hint in (0, 500):
        assert await repos.posts.page(channel_id=10, limit=30, newest_hint=hint) == ([], None)
        assert await repos.posts.page(channel_id=10, limit=30, before_id=2**31 - 1, newest_hint=hint) == ([], None)
        assert [post async for post in repos.posts.stream(channel_id=10, newest_hint=hint)] == []


async def test_sparse_ids_are_paged_without_gaps(repos):
    ids = [1, 2, 3000, 3001, 90_000, 200_000]
    await store_posts(repos, [_post(i) for i in ids])
    items, before = await repos.posts.page(channel_id=10, limit=4)
    assert [p.message_id for p in items] == [200_000, 90_000, 3001, 3000] and before == 3000
    items, before = await repos.posts.page(channel_id=10, limit=4, before_id=before)
    assert [p.message_id for p in items] == [2, 1] and before is None
    assert await repos.posts.max_message_id(channel_id=10) == 200_000


async def test_date_range_media_and_deleted_filters(repos):
    await store_posts(repos, [
        _post(1, 'a'), _post(2, 'b', media=MediaSummary(type='photo')), _post(3, 'c'),
        _post(4, 'd', media=MediaSummary(type='video'), reactions=[Reaction(emoji='👍', count=3)]),
    ])
    items, _ = await repos.posts.page(channel_id=10, filter=PostFilter(has_media=True))
    assert [p.message_id for p in items] == [4, 2]
    assert items[0].reactions[0].count == 3
    items, _ = await repos.posts.page(channel_id=10, filter=PostFilter(has_media=False))
    assert [p.message_id for p in items] == [3, 1]
    window = PostFilter(since=BASE + timedelta(hours=2), until=BASE + timedelta(hours=3))
    items, _ = await repos.posts.page(channel_id=10, filter=window)
    assert [p.message_id for p in items] == [3, 2]
    assert (await repos.writer.delete(10, [2, 3])).deleted == [2, 3]
    deleted = await repos.posts.get(channel_id=10, message_id=2)
    assert deleted.deleted and deleted.deleted_at is not None
    assert await repos.posts.ids_between(channel_id=10, min_id=1, max_id=4) == [1, 4]
    items, _ = await repos.posts.page(channel_id=10, filter=PostFilter(include_deleted=False))
    assert [p.message_id for p in items] == [4, 1]


async def test_stream_yields_everything_in_order(repos):
    await store_posts(repos, [_post(i, 'x') for i in range(1, 1201)])
    ids = [p.message_id async for p in repos.posts.stream(channel_id=10)]
    assert ids == list(range(1200, 0, -1))


async def test_counters_refresh_and_charts(repos):
    await store_posts(repos, [_post(i, views=i * 10) for i in range(1, 49)])
    await store_posts(repos, [_post(1, views=5000, forwards=3, reactions=[Reaction(emoji='🔥', count=2)])])
    stored = await repos.posts.get(channel_id=10, message_id=1)
    assert (stored.views, stored.forwards, stored.reactions[0].emoji) == (5000, 3, '🔥')
    daily = await repos.posts.daily(channel_id=10, now=BASE + timedelta(days=3), chunk_days=1)  # a day a read
    assert [(day, n) for day, n, _views in daily] == [('2026-03-01', 23), ('2026-03-02', 24), ('2026-03-03', 1)]
    assert daily[-1][2] == 480
    assert await repos.posts.daily(channel_id=10, now=BASE + timedelta(days=3), chunk_days=10) == daily

    # between its chunks the read gives way to a person's request: the second chunk waits until that one ends
    give_way, steps = GiveWay(), []

    async def chunks() -> list:
        async def between() -> None:
            steps.append('waits')
            await give_way.clear()
        return await repos.posts.daily(channel_id=10, now=BASE + timedelta(days=2) - timedelta(seconds=1), days=2,
                                       chunk_days=1, between=between)
    async with give_way.asked():
        reading = asyncio.ensure_future(chunks())
        await eventually(lambda: steps == ['waits'])
        assert not reading.done()
    assert [(day, n) for day, n, _views in await reading] == [('2026-03-01', 23), ('2026-03-02', 24)]


async def test_filtered_pages_are_index_scans(repos):
    await store_posts(repos, [_post(i, f'alpha beta gamma {i}') for i in range(1, 50)])
    for post_filter, index in ((PostFilter(has_media=True), 'channel_message_unique'),
                               (PostFilter(), 'channel_message_unique')):
        query = {'channel_id': 10, 'message_id': {'$gte': 1, '$lt': 40}, **post_filter.mongo()}
        plan = str((await repos.posts.collection.find(query).explain())['queryPlanner']['winningPlan'])
        assert 'IXSCAN' in plan and index in plan, (post_filter, plan)


async def test_the_word_index_of_older_releases_is_dropped(repos):
    await repos.posts.collection.create_index([('channel_id', 1), ('tokens', 1), ('message_id', 1)],
                                              name='channel_tokens')
    await repos.posts.ensure_indexes()
    assert 'channel_tokens' not in await repos.posts.collection.index_information()
