"""/dashboard/search as a person uses it: a query across channels, filters from the URL, pages, errors, exports."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nicegui.testing import User

from app.db.comments_repo import CommentsRepo
from app.db.models import Channel, Comment, MediaSummary, Post
from tests.support import search_current, sign_in, store_posts

BASE = datetime(2026, 4, 1, tzinfo=UTC)


async def _archive(root) -> None:
    await root.repos.channels.upsert_metadata(Channel(id=301, title='Орбита', username='orbita'))
    await root.repos.channels.upsert_metadata(Channel(id=302, title='Launch Pad', username='launchpad'))
    await root.repos.channels.add_tags([302], ['english'])
    posts = [Post(channel_id=301, message_id=i, date=BASE + timedelta(hours=i), views=100 * i,
                  text=f'Ракеты летят, выпуск {i} #космос') for i in range(1, 26)]
    posts += [Post(channel_id=301, message_id=26, date=BASE, text='Реклама ракет <b>дёшево</b>'),
              Post(channel_id=302, message_id=1, date=BASE, text='Rockets & more rockets', views=5,
                   media=MediaSummary(type='photo'))]
    await store_posts(root.repos, posts)
    await search_current(root)


async def test_a_search_across_channels_pages_and_marks_its_hits(user: User, app_root):
    await _archive(app_root)
    await sign_in(user)
    await user.open('/dashboard/search')
    await user.should_see(marker='search-help')  # nothing asked yet: how to search, with examples
    user.find(marker='search-q').type('ракета')
    await user.should_see('26 posts match · 20 shown')
    await user.should_see('<mark>Ракеты</mark> летят, выпуск 25')
    await user.should_not_see(marker='search-help')
    user.find(marker='search-more').click()
    await user.should_see('26 posts match')
    await user.should_see(marker='result-301-26')
    await user.should_see('Реклама <mark>ракет</mark> &lt;b&gt;дёшево&lt;/b&gt;')  # escaped, marked


async def test_filters_come_from_the_url_and_a_bad_query_says_where(user: User, app_root):
    await _archive(app_root)
    await sign_in(user)
    await user.open('/dashboard/search?q=rocket&tag=english&media=photo&sort=views')
    await user.should_see('1 post matches')
    await user.should_see(marker='result-302-1')
    assert user.find(marker='search-q').elements.pop().value == 'rocket'
    assert user.find(marker='search-tags').elements.pop().value == ['english']
    assert user.find(marker='search-sort').elements.pop().value == 'views'

    await user.open('/dashboard/search?q=%23космос&channel=301&since=2026-04-01&until=2026-04-01&views=2000')
    await user.should_see('4 posts match')  # hours 20–23 of that day, with at least 2,000 views
    assert user.find(marker='search-channels').elements.pop().value == [301]

    user.find(marker='search-q').clear()
    user.find(marker='search-q').type('ракета "выпуск')
    await user.should_see('The query is malformed at column 8')


async def test_the_whole_result_exports_and_the_index_rebuilds_from_the_page(user: User, app_root):
    await _archive(app_root)
    await sign_in(user)
    answer = await user.http_client.get('/dashboard/search/export', params={'format': 'jsonl', 'q': '#космос',
                                                                            'sort': 'date'})
    assert answer.status_code == 200 and len(answer.text.splitlines()) == 25
    bad = await user.http_client.get('/dashboard/search/export', params={'q': '"open'})
    assert bad.status_code == 400

    await user.open('/dashboard/search')
    await user.should_see('27 posts indexed')
    user.find(marker='index-rebuild').click()
    await user.should_see(marker='index-rebuild-confirm')
    user.find(marker='index-rebuild-confirm').click()
    await user.should_see(marker='index-progress')  # the rebuild's bar
    await search_current(app_root)
    await user.should_see('27 posts indexed')
    await user.should_not_see(marker='index-progress')


async def test_comments_show_in_results_when_asked_for_named_by_their_post(user: User, app_root):
    group_id = 309_000
    await app_root.repos.channels.upsert_metadata(Channel(id=309, title='Спор', username='spor',
                                                          linked_chat_id=group_id))
    await store_posts(app_root.repos, [Post(channel_id=309, message_id=7, date=BASE, text='Ракеты снова летят')])
    comment = Comment(channel_id=group_id, message_id=90, date=BASE, post_author='Анна', text='Ракета красивая',
                      post_channel_id=309, post_id=7)
    await app_root.repos.comment_writer.store(group_id, CommentsRepo.prepare([comment]))
    await search_current(app_root)
    await sign_in(user)
    await user.open('/dashboard/search?q=ракета')
    await user.should_see('1 post matches')
    await user.should_not_see('comment by')
    await user.open('/dashboard/search?q=ракета&comments=include')
    await user.should_see('2 posts match')
    await user.should_see('comment by Анна under #7')
    await user.should_see('https://t.me/spor/7?comment=90')
