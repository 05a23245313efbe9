"""A channel's page shows how often a post was edited, its versions word by word, how complete the channel is,
and rechecks its stored history on request."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nicegui.testing import User

from app.db.models import Channel, Post
from tests.support import sign_in, store_posts

WAIT = 100
CHANNEL_ID = 7_400_000
BASE = datetime(2026, 6, 1, tzinfo=UTC)


def _post(message_id: int, text: str) -> Post:
    return Post(channel_id=CHANNEL_ID, message_id=message_id, date=BASE + timedelta(hours=message_id), text=text)


async def test_versions_completeness_and_verify_on_the_channel_page(user: User, app_root):
    repos = app_root.repos
    await repos.channels.upsert_metadata(Channel(id=CHANNEL_ID, title='Proof Page', username='proof_page'))
    await store_posts(repos, [_post(i, f'post number {i}') for i in range(1, 6)])
    for text in ('Запуск ракеты перенесли', 'Запуск ракет перенесли на завтра', 'Launch moved to Friday'):
        await store_posts(repos, [_post(3, text)])
    await repos.writer.delete(CHANNEL_ID, [2])
    await repos.channels.set_state(CHANNEL_ID, posts_stored=5, top_message_id=6, last_message_id=5)
    await repos.completeness.record_gone(CHANNEL_ID, [6], 'deleted', BASE)
    await repos.completeness.save_audit(CHANNEL_ID, newest=6, refilled=1, at=BASE)

    await sign_in(user, retries=WAIT)
    await user.open(f'/dashboard/channels/{CHANNEL_ID}')
    await user.should_see('edited 3 times', retries=WAIT)
    await user.should_see('data-mark="post-deleted"')
    await user.should_see('Complete from #1 to #6 as of 2026-06-01 00:00 UTC · 1 post refilled · 1 id confirmed gone')

    user.find(marker='posts-list').trigger('click', 3)  # "edited 3 times" on post 3
    await user.should_see('Post #3: 4 versions, oldest first')
    for n in range(1, 5):
        await user.should_see(marker=f'version-{n}')
    await user.should_see('<del class="pg-del">ракеты</del><ins class="pg-ins">ракет</ins>')
    await user.should_see('<ins class="pg-ins"> на завтра</ins>')

    user.find(marker='verify-history').click()
    await user.should_see('History verified: 5 posts and 9 versions match their hashes.', retries=WAIT)
    await repos.versions.collection.update_one({'channel_id': CHANNEL_ID, 'message_id': 3, 'version': 2},
                                               {'$set': {'text': 'Запуск отменили'}})
    user.find(marker='verify-history').click()
    await user.should_see('Post #3, version 2: its stored history no longer matches its hash.', retries=WAIT)

