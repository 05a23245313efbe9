"""What becomes an event: post changes from the change feed, and channel, job and account happenings from the bus.

Post events are appended by a shared feed consumer in the same transaction that moves its position, so each change
becomes one event exactly once, whichever process handles it; a post written again unchanged (a resumed backfill)
is no change and so no event. Nothing is appended for a type no webhook (not paused) wants.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loguru import logger
from pymongo.asynchronous.client_session import AsyncClientSession

from app.db.change_feed import Change, ChangeKind
from app.db.models import Channel, Post
from app.events import AccountChanged, ChannelChanged, Event, FloodWaitChanged, JobChanged
from app.export import post_record
from app.feed_consumers import FeedConsumer
from app.webhooks.event_log import EventLog, EventType, NewEvent
from app.webhooks.repo import Webhook, WebhooksRepo

if TYPE_CHECKING:
    from app.db.repos import Repos

POST_EVENTS = {ChangeKind.CREATED: EventType.POST_CREATED, ChangeKind.EDITED: EventType.POST_EDITED,
               ChangeKind.DELETED: EventType.POST_DELETED}
BUS_EVENTS = (ChannelChanged, JobChanged, AccountChanged, FloodWaitChanged)


def wants(hook: Webhook, channel: Channel | None) -> bool:
    """Whether a webhook's channel and tag filter lets an event of this channel through."""
    if channel is None or (not hook.channel_ids and not hook.tags):
        return True
    return channel.id in (hook.channel_ids or ()) or bool(set(channel.tags) & set(hook.tags or ()))


class WebhookOutbox(FeedConsumer):
    name = 'webhooks'
    shared = True

    def __init__(self, repos: Repos, log: EventLog, webhooks: WebhooksRepo) -> None:
        self.repos = repos
        self.log = log
        self.webhooks = webhooks
        self._appended = False

    async def handle(self, changes: list[Change], session: AsyncClientSession | None) -> None:
        wanted = await self.webhooks.wanted_types()
        relevant = [c for c in changes if c.source == 'posts' and POST_EVENTS.get(c.kind) in wanted]
        if not relevant:
            return
        channels = await self.repos.channels.get_many(sorted({c.channel_id for c in relevant}))
        keys = [(c.channel_id, c.message_id) for c in relevant
                if any(wants(hook, channels.get(c.channel_id)) for hook in wanted[POST_EVENTS[c.kind]])]
        if not keys:
            return
        docs = await self.repos.posts.docs_by_keys(set(keys))
        posts = {(doc['channel_id'], doc['message_id']): doc for doc in docs}
        items: list[NewEvent] = []
        for change in relevant:
            doc = posts.get((change.channel_id, change.message_id))
            channel = channels.get(change.channel_id)
            if doc is None or channel is None:  # its channel was deleted since
                continue
            kind = POST_EVENTS[change.kind]
            if not any(wants(hook, channel) for hook in wanted[kind]):
                continue
            items.append(NewEvent(kind, post_record(channel, Post.model_validate(doc)), channel.id,
                                  tuple(channel.tags), change.at))
        if items:
            await self.log.append_many(items, session)
            self._appended = True

    def committed(self) -> None:
        if self._appended:  # the senders look again now that the events can be read
            self._appended = False
            self.log.appended()

    async def on_bus(self, event: Event) -> None:
        """Channel, job and account happenings of this process, for the webhooks that want them."""
        try:
            found = await self._bus_event(event)
            if found is None:
                return
            kind, data, channel = found
            wanted = (await self.webhooks.wanted_types()).get(kind, [])
            if any(wants(hook, channel) for hook in wanted):
                await self.log.append(kind, data, channel_id=channel.id if channel else None,
                                      tags=channel.tags if channel else (), at=event.at)
        except Exception:  # a webhook event must never break the service that published it
            logger.exception('turning {} into a webhook event failed', type(event).__name__)

    async def _bus_event(self, event: Event) -> tuple[str, dict[str, Any], Channel | None] | None:
        if isinstance(event, ChannelChanged) and event.added:
            channel = await self.repos.channels.get(event.channel_id)
            if channel is None:
                return None
            return EventType.CHANNEL_ADDED, channel_data(channel), channel
        if isinstance(event, ChannelChanged) and event.deleted:
            return EventType.CHANNEL_DELETED, {'id': event.channel_id}, Channel(id=event.channel_id)
        if isinstance(event, JobChanged) and event.status == 'failed':
            job = await self.repos.jobs.get(event.job_id)
            channel = await self.repos.channels.get(event.channel_id)
            data = {'id': event.job_id, 'channel_id': event.channel_id, 'kind': job.kind.value if job else None,
                    'error': job.error if job else None}
            return EventType.JOB_FAILED, data, channel
        if isinstance(event, AccountChanged) and event.state == 'revoked':
            return EventType.ACCOUNT_REVOKED, await account_data(self.repos, event.account_id), None
        if isinstance(event, FloodWaitChanged) and event.until is not None:
            data = await account_data(self.repos, event.account_id)
            data.update(method_class=event.kind, until=event.until.isoformat(),
                        seconds=max(0, round((event.until - event.at).total_seconds())))
            return EventType.ACCOUNT_FLOOD_WAIT, data, None
        return None


def channel_data(channel: Channel) -> dict[str, Any]:
    return {'id': channel.id, 'title': channel.title, 'username': channel.username, 'tags': channel.tags,
            'participants_count': channel.participants_count}


async def account_data(repos: Repos, account_id: str) -> dict[str, Any]:
    account = await repos.accounts.get(account_id)
    name = ' '.join(part for part in (account.first_name, account.last_name) if part) if account else ''
    return {'account_id': account_id, 'user_id': account.user_id if account else None,
            'username': account.username if account else None, 'name': name or None}
