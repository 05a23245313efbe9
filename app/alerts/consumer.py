"""Alerts fire from the change feed: a shared, transactional consumer checks each new, edited or re-counted post
against every rule, and a match (notification, webhook event, digest entry) commits with the consumer's position.

A rule watches posts published after it was made (a backfilled history is searched, not announced). A post it has
matched is remembered, so reading the post again, or a new view count, does not fire it twice; an edit that makes
it stop matching forgets it, and an edit that makes it match again fires again.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from loguru import logger
from pymongo.asynchronous.client_session import AsyncClientSession

from app.alerts.matcher import PostText, matches
from app.alerts.repo import AlertRule, AlertsRepo, Notification, new_notification_id
from app.db.change_feed import Change, ChangeKind
from app.db.models import Channel, Comment, Post, utcnow
from app.export import item_link, post_record
from app.feed_consumers import FeedConsumer
from app.search.engine import Scope
from app.search.index import indexed_post
from app.search.query import Query, QueryError, parse
from app.search.service import SearchRequest, SearchRequestError
from app.webhooks.event_log import EventLog, EventType

if TYPE_CHECKING:
    from app.db.repos import Repos
    from app.search.service import SearchService
    from app.webhooks.repo import WebhooksRepo

WATCHED = (ChangeKind.CREATED, ChangeKind.EDITED, ChangeKind.RESTORED, ChangeKind.COUNTERS)
VIEWS_WITHIN = timedelta(hours=1)
# Telegram dates posts in whole seconds by its own clock: a post sent just after the rule was made may carry a
# date a little before it
CLOCK_GRACE = timedelta(minutes=1)
SNIPPET_CHARS = 200


def snippet(text: str) -> str:
    flat = ' '.join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS - 1].rstrip() + '…'


class AlertsConsumer(FeedConsumer):
    name = 'alerts'
    shared = True

    def __init__(self, repos: Repos, alerts: AlertsRepo, search: SearchService, log: EventLog,
                 webhooks: WebhooksRepo) -> None:
        self.repos = repos
        self.alerts = alerts
        self.search = search
        self.log = log
        self.webhooks = webhooks
        self._fired = False
        self.listeners: list[Any] = []  # told after a batch that fired commits (the bell, the digests)

    async def _compiled(self, rule: AlertRule) -> tuple[Query, Scope] | None:
        try:
            query = parse(rule.query)
            request = SearchRequest(q=rule.query, channel_ids=rule.channel_ids, tags=rule.tags or [], comment=None
                                    if query.filters.comment is not None else False)
            return query, await self.search.scope(request, query)
        except (QueryError, SearchRequestError) as error:  # e.g. a channel it names was deleted since
            logger.warning('alert rule {} is skipped: {}', rule.id, error)
            return None

    async def handle(self, changes: list[Change], session: AsyncClientSession | None) -> None:
        watched = [c for c in changes if c.kind in WATCHED]
        if not watched:
            return
        rules = await self.alerts.list_rules(active_only=True, session=session)
        if not rules:
            return
        compiled = [(rule, found) for rule in rules if (found := await self._compiled(rule)) is not None]
        docs = await self._docs(watched, session)
        channels = await self._channels(docs)
        wants_event = bool((await self.webhooks.wanted_types()).get(EventType.ALERT_MATCHED))
        marked = await self.alerts.matched_keys(
            [self.alerts.match_key(rule.id, c.source, c.channel_id, c.message_id) for c in watched
             for rule, _ in compiled], session)  # once for the batch; kept current below as rules fire or forget
        texts: dict[tuple[str, int, int], PostText] = {}  # a post changed twice in a batch is analysed once
        for change in watched:
            post_key = (change.source, change.channel_id, change.message_id)
            doc = docs.get(post_key)
            if doc is None:
                continue
            channel = channels.get(doc.get('post_channel_id', change.channel_id))
            if channel is None:
                continue
            if post_key not in texts:
                texts[post_key] = await asyncio.to_thread(lambda doc=doc: PostText(indexed_post(doc)))
            forget = []
            for rule, (query, scope) in compiled:
                if doc['date'] < rule.created_at - CLOCK_GRACE:
                    continue
                key = self.alerts.match_key(rule.id, *post_key)
                if not matches(query, scope, texts[post_key]):
                    if key in marked and change.kind == ChangeKind.EDITED:
                        forget.append(key)
                        marked.discard(key)
                    continue
                if key in marked or not self._views_ok(rule, doc, change):
                    continue
                await self._fire(rule, key, channel, doc, wants_event, session)
                marked.add(key)
            await self.alerts.unmark(forget, session)

    @staticmethod
    def _views_ok(rule: AlertRule, doc: dict[str, Any], change: Change) -> bool:
        if not rule.min_views:
            return True
        return (doc.get('views') or 0) > rule.min_views and change.at - doc['date'] <= VIEWS_WITHIN

    async def _docs(self, changes: list[Change], session: AsyncClientSession | None
                    ) -> dict[tuple[str, int, int], dict[str, Any]]:
        found: dict[tuple[str, int, int], dict[str, Any]] = {}
        for source, repo in (('posts', self.repos.posts), ('comments', self.repos.comments)):
            keys = {(c.channel_id, c.message_id) for c in changes if c.source == source}
            if keys:
                for doc in await repo.docs_by_keys(keys):
                    found[(source, doc['channel_id'], doc['message_id'])] = doc
        return found

    async def _channels(self, docs: dict[tuple[str, int, int], dict[str, Any]]) -> dict[int, Channel]:
        ids = sorted({doc.get('post_channel_id', doc['channel_id']) for doc in docs.values()})
        return await self.repos.channels.get_many(ids) if ids else {}

    async def _fire(self, rule: AlertRule, key: str, channel: Channel, doc: dict[str, Any], wants_event: bool,
                    session: AsyncClientSession | None) -> None:
        post = (Comment if 'post_id' in doc else Post).model_validate(doc)
        await self.alerts.mark(key, rule.id, session)
        at = post.post_id if isinstance(post, Comment) else post.message_id
        await self.alerts.notify(Notification(
            id=new_notification_id(), kind='alert', title=rule.name, text=f'{channel.title}: {snippet(post.text)}',
            at=utcnow(), rule_id=rule.id, channel_id=channel.id,
            message_id=post.message_id, link=item_link(channel, post), path=f'/dashboard/channels/{channel.id}?at={at}',
            digest='pending' if rule.saved_messages else None), session)
        if rule.webhook and wants_event:
            data = {'rule': {'id': rule.id, 'name': rule.name, 'query': rule.query},
                    'post': post_record(channel, post)}
            await self.log.append(EventType.ALERT_MATCHED, data, channel_id=channel.id, tags=channel.tags,
                                  session=session)
        self._fired = True

    def committed(self) -> None:
        if self._fired:
            self._fired = False
            self.log.appended()
            for listener in list(self.listeners):
                try:
                    listener()
                except Exception:
                    logger.exception('an alerts listener failed')
