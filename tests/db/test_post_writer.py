from datetime import UTC, datetime, timedelta

from app.db.change_feed import ChangeKind
from app.db.models import MediaFile, MediaSummary, Post, Reaction
from app.db.post_hash import version_hash
from app.db.posts_repo import PostsRepo

BASE = datetime(2026, 3, 1, tzinfo=UTC)


def _doc(message_id: int, text: str = '', channel_id: int = 10, **fields) -> dict:
    post = Post(channel_id=channel_id, message_id=message_id, date=BASE + timedelta(hours=message_id), text=text,
                **fields)
    return PostsRepo.prepare([post])[0]


async def test_a_backfill_s_posts_are_created_once_and_a_re_read_changes_nothing(repos):
    first = await repos.writer.store(10, [_doc(i, f'post {i}', views=i) for i in range(1, 301)])
    assert first.created == list(range(1, 301)) and (first.first_position, first.last_position) == (1, 300)
    changes = await repos.feed.read(after=0, limit=1000)
    assert [c.position for c in changes] == list(range(1, 301))
    assert {c.kind for c in changes} == {ChangeKind.CREATED} and all(len(c.hash) == 64 for c in changes)

    again = await repos.writer.store(10, [_doc(i, f'post {i}', views=i) for i in range(1, 301)])
    assert again.changes == 0 and await repos.feed.head() == 300  # nothing written, no position taken
    assert await repos.versions.collection.count_documents({}) == 0


async def test_each_edit_keeps_the_previous_version_in_a_chain(repos):
    await repos.writer.store(10, [_doc(5, 'first words')])
    for text in ('second words', 'third words', 'fourth words'):
        result = await repos.writer.store(10, [_doc(5, text, edit_date=BASE + timedelta(days=len(text)))])
        assert result.edited == [5]
    post = await repos.posts.get(channel_id=10, message_id=5)
    earlier = await repos.versions.of_post(channel_id=10, message_id=5)
    assert [v['text'] for v in earlier] == ['first words', 'second words', 'third words']
    assert (post.text, post.version, post.edits) == ('fourth words', 4, 3)
    chain = [*earlier, post.model_dump()]
    previous = None
    for version in chain:  # every hash covers its content and the hash before it
        assert version['prev_hash'] == previous
        assert version_hash(version, previous) == version['hash']
        previous = version['hash']
    kinds = [c.kind for c in await repos.feed.read()]
    assert kinds == [ChangeKind.CREATED, ChangeKind.EDITED, ChangeKind.EDITED, ChangeKind.EDITED]


async def test_counters_change_no_version_and_media_changes_are_edits(repos):
    await repos.writer.store(10, [_doc(1, 'same', views=10), _doc(2, 'photo', media=MediaSummary(type='photo'))])
    result = await repos.writer.store(10, [
        _doc(1, 'same', views=11, reactions=[Reaction(emoji='🔥', count=2)]),
        _doc(2, 'photo', media=MediaSummary(type='video'))])
    assert (result.counters, result.edited) == ([1], [2])
    assert (await repos.posts.get(channel_id=10, message_id=1)).views == 11
    assert [v['message_id'] for v in await repos.versions.collection.find().to_list()] == [2]
    views = await repos.writer.views(10, 1, 12)
    assert views.counters == [1] and (await repos.writer.views(10, 1, 12)).changes == 0


async def test_where_a_file_is_and_its_thumbnail_are_no_change_and_reach_older_posts_silently(repos):
    photo = MediaSummary(type='photo', mime_type='image/jpeg')
    where = MediaFile(kind='photo', id=77, access_hash=5, file_reference=b'\x00ref-1', dc_id=2, size_type='x', size=9)
    await repos.writer.store(10, [_doc(1, 'from an older release', media=photo)])  # kept nothing beside it
    head = await repos.feed.head()
    result = await repos.writer.store(10, [_doc(1, 'from an older release', media=photo, media_file=where,
                                                thumb=b'\x01\x28\x28tiny')])
    assert result.changes == 0 and await repos.feed.head() == head  # no version, no change in the feed
    post = await repos.posts.get(channel_id=10, message_id=1)
    assert post.media_file == where and post.thumb == b'\x01\x28\x28tiny' and post.version == 1
    assert 'media_file' not in post.model_dump() and 'thumb' not in post.model_dump()  # never in answers or exports
    renewed = where.model_copy(update={'file_reference': b'\x00ref-2'})
    await repos.writer.store(10, [_doc(1, 'from an older release', media=photo, media_file=renewed)])
    assert (await repos.posts.get(channel_id=10, message_id=1)).media_file == where  # a re-read writes nothing


async def test_a_deleted_post_keeps_its_last_version_and_a_return_is_a_change_too(repos):
    await repos.writer.store(10, [_doc(i, f'post {i}') for i in (1, 2, 3)])
    deleted = await repos.writer.delete(10, [2, 3, 99])
    assert deleted.deleted == [2, 3]  # 99 was never stored: nothing to mark
    assert (await repos.writer.delete(10, [2])).changes == 0
    post = await repos.posts.get(channel_id=10, message_id=2)
    assert post.deleted and post.text == 'post 2' and post.version == 2
    assert version_hash(post.model_dump(), post.prev_hash) == post.hash
    back = await repos.writer.store(10, [_doc(3, 'post 3')])
    assert back.restored == [3] and not (await repos.posts.get(channel_id=10, message_id=3)).deleted


async def test_posts_stored_before_versions_were_kept_are_sealed_when_they_first_change(repos):
    await repos.posts.collection.insert_one(_doc(7, 'old style'))  # no hash, as stored by an earlier release
    await repos.writer.store(10, [_doc(7, 'new style')])
    earlier = await repos.versions.of_post(channel_id=10, message_id=7)
    post = await repos.posts.get(channel_id=10, message_id=7)
    assert earlier[0]['hash'] == version_hash(earlier[0], None) == post.prev_hash
