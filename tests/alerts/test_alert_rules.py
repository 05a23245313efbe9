"""Alert rules against the change feed: word forms, filters, one notification per post however often it is read,
an edit that newly matches, views within an hour, history left alone, and one firing across two processes."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from app.alerts.consumer import AlertsConsumer
from app.db.comments_repo import CommentsRepo
from app.db.models import Channel, Comment, Post, utcnow
from app.feed_consumers import FeedReader
from app.search.service import SearchService
from tests.support import store_posts

CHANNEL = 10


def consumer(repos) -> AlertsConsumer:
    return AlertsConsumer(repos, repos.alerts, SearchService(repos, None), repos.events_log, repos.webhooks)


def post(message_id: int, text: str, *, minutes_ago: float = 0, views: int = 0, channel_id: int = CHANNEL) -> Post:
    return Post(channel_id=channel_id, message_id=message_id, date=utcnow() - timedelta(minutes=minutes_ago),
                text=text, views=views)


async def setup(repos, **rule) -> tuple[FeedReader, str]:
    await repos.channels.upsert_metadata(Channel(id=CHANNEL, title='Новости', username='news'))
    await repos.channels.upsert_metadata(Channel(id=CHANNEL + 1, title='Other'))
    made = await repos.alerts.create_rule(**{'name': 'Rockets', 'query': 'ракета', **rule})
    reader = FeedReader(repos.feed, consumer(repos))
    reader.position = await repos.feed.head()
    return reader, made.id


async def drain(reader: FeedReader) -> None:
    while await reader.step():
        pass


async def alerts_for(repos) -> list[tuple[int, str]]:
    found = await repos.alerts.notifications_page(limit=100)
    return sorted((n.message_id, n.text) for n in found if n.kind == 'alert')


async def test_a_word_matches_its_other_forms_once_and_again_only_when_an_edit_newly_matches(repos):
    reader, _ = await setup(repos)
    await store_posts(repos, [post(1, 'Запуск ракеты перенесли'), post(2, 'Погода на завтра'),
                              post(3, 'Ракет больше нет', channel_id=CHANNEL + 1)])
    await drain(reader)
    assert await alerts_for(repos) == [(1, 'Новости: Запуск ракеты перенесли'), (3, 'Other: Ракет больше нет')]
    first = (await repos.alerts.notifications_page())[0]
    assert first.link in ('https://t.me/news/1', 'https://t.me/c/11/3') and first.path.startswith('/dashboard/')

    await store_posts(repos, [post(1, 'Запуск ракеты перенесли', views=500)])  # read again, new count
    await store_posts(repos, [post(2, 'Погода на завтра: ракета на старте')])  # an edit that now matches
    await drain(reader)
    assert [m for m, _ in await alerts_for(repos)] == [1, 2, 3]

    await store_posts(repos, [post(1, 'Запуск перенесли')])  # no longer about rockets …
    await drain(reader)
    await store_posts(repos, [post(1, 'Запуск ракет перенесли снова')])  # … and about them again: fires again
    await drain(reader)
    assert [m for m, _ in await alerts_for(repos)] == [1, 1, 2, 3]
    assert await repos.alerts.unread_count() == 4
    assert (await repos.alerts.rule((await repos.alerts.list_rules())[0].id)).matched == 4


async def test_filters_views_within_an_hour_and_history_before_the_rule(repos):
    reader, _ = await setup(repos, query='ракета -учения', channel_ids=[CHANNEL], min_views=1000)
    await store_posts(repos, [post(1, 'Ракета взлетела', minutes_ago=10, views=50),
                              post(2, 'Ракеты и учения', minutes_ago=10, views=5000),
                              post(3, 'Ракета', channel_id=CHANNEL + 1, views=5000),
                              post(4, 'Старая ракета', minutes_ago=600, views=9000),  # before the rule: history
                              post(5, 'Ракета днём', minutes_ago=90, views=10)])
    await drain(reader)
    assert await alerts_for(repos) == []
    rule = (await repos.alerts.list_rules())[0]
    await repos.alerts.update_rule(rule.id, created_at=utcnow() - timedelta(hours=3))
    await store_posts(repos, [post(1, 'Ракета взлетела', minutes_ago=10, views=1500),  # past 1000 within the hour
                              post(5, 'Ракета днём', minutes_ago=90, views=1500)])  # past it, but after an hour
    await drain(reader)
    assert [m for m, _ in await alerts_for(repos)] == [1]


async def test_two_processes_reading_the_feed_fire_each_alert_once(repos):
    first, _ = await setup(repos)
    second = FeedReader(repos.feed, consumer(repos))
    second.position = first.position
    await store_posts(repos, [post(m, f'ракета номер {m}') for m in range(1, 41)])
    for _ in range(10):
        await asyncio.gather(first.step(), second.step())
    await drain(first)
    await drain(second)
    assert [m for m, _ in await alerts_for(repos)] == list(range(1, 41))


async def test_a_rule_for_comments_fires_on_a_comment_with_its_link_and_a_rule_for_posts_does_not(repos):
    group = 10_000
    reader, _ = await setup(repos)  # 'ракета': posts only, as search answers without is:comment
    await repos.channels.upsert_metadata(Channel(id=CHANNEL, title='Новости', username='news', linked_chat_id=group))
    await repos.alerts.create_rule(name='Talk', query='ракета is:comment')
    await store_posts(repos, [post(5, 'Запуск завтра')])
    comment = Comment(channel_id=group, message_id=40, date=utcnow(), text='Ракету перенесли, увы', post_author='Анна',
                      post_channel_id=CHANNEL, post_id=5, author_id=77)
    await repos.comment_writer.store(group, CommentsRepo.prepare([comment]))
    await drain(reader)
    found = [n for n in await repos.alerts.notifications_page(limit=100) if n.kind == 'alert']
    assert [(n.title, n.text, n.link) for n in found] == [
        ('Talk', 'Новости: Ракету перенесли, увы', 'https://t.me/news/5?comment=40')]
    assert found[0].path == f'/dashboard/channels/{CHANNEL}?at=5'  # the post it comments on

    await repos.comment_writer.store(group, CommentsRepo.prepare([comment]))  # read again: no second alert
    await drain(reader)
    assert len([n for n in await repos.alerts.notifications_page(limit=100) if n.kind == 'alert']) == 1
