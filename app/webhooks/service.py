"""Webhooks as people and programs manage them (the API and the dashboard page share this)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from app.crypto import SecretBox
from app.i18n import lazy
from app.mtproto.errors import ServiceError
from app.webhooks.addresses import AddressPolicy, AddressRefused
from app.webhooks.event_log import EVENT_TYPES
from app.webhooks.repo import Delivery, Webhook
from app.webhooks.sender import WebhookSenders
from app.webhooks.signing import new_secret

if TYPE_CHECKING:
    from app.db.repos import Repos

MAX_WEBHOOKS = 100
MAX_URL_CHARS = 2000


class WebhookService:
    def __init__(self, repos: Repos, senders: WebhookSenders, secret_box: SecretBox, policy: AddressPolicy) -> None:
        self.repos = repos
        self.repo = repos.webhooks
        self.senders = senders
        self.secret_box = secret_box
        self.policy = policy

    async def _check_url(self, url: str) -> str:
        url = url.strip()
        if len(url) > MAX_URL_CHARS:
            raise ServiceError(400, 'WEBHOOK_URL_REFUSED', lazy('The URL is longer than {count} characters.',
                                                                 count=MAX_URL_CHARS))
        try:
            await self.policy.check(url)
        except AddressRefused as error:
            raise ServiceError(400, 'WEBHOOK_URL_REFUSED', error.message) from None
        return url

    @staticmethod
    def _check_events(events: list[str]) -> list[str]:
        unknown = [kind for kind in events if kind not in EVENT_TYPES]
        if unknown or not events:
            raise ServiceError(400, 'UNKNOWN_EVENT_TYPE', lazy(
                'Choose event types among {types} (unknown: {unknown}).', types=', '.join(EVENT_TYPES),
                unknown=', '.join(unknown) or '-'))
        return list(dict.fromkeys(events))

    async def _check_channels(self, channel_ids: list[int] | None) -> list[int] | None:
        if not channel_ids:
            return None
        found = await self.repos.channels.get_many(channel_ids)
        missing = [str(cid) for cid in channel_ids if cid not in found]
        if missing:
            raise ServiceError(404, 'CHANNEL_NOT_FOUND', lazy('No stored channel with id {ids}; see the channel list.',
                                                              ids=', '.join(missing)))
        return list(dict.fromkeys(channel_ids))

    async def create(self, *, url: str, events: list[str], channel_ids: list[int] | None = None,
                     tags: list[str] | None = None) -> tuple[Webhook, str]:
        """A new webhook and its secret (given only here); it gets the events from now on."""
        events = self._check_events(events)
        channel_ids = await self._check_channels(channel_ids)
        url = await self._check_url(url)
        if len(await self.repo.list()) >= MAX_WEBHOOKS:
            raise ServiceError(409, 'TOO_MANY_WEBHOOKS', lazy('{count} webhooks is the most; delete one first.',
                                                              count=MAX_WEBHOOKS))
        secret = new_secret()
        hook = await self.repo.create(url=url, events=events, secret_enc=self.secret_box.encrypt(secret),
                                      position=await self.repos.events_log.head(), channel_ids=channel_ids,
                                      tags=[tag.strip() for tag in tags or [] if tag.strip()] or None)
        self.senders.wake()
        return hook, secret

    async def get(self, webhook_id: str) -> Webhook:
        hook = await self.repo.get(webhook_id)
        if hook is None:
            raise ServiceError(404, 'WEBHOOK_NOT_FOUND', lazy('No webhook with this id; see the list of webhooks.'))
        return hook

    async def update(self, webhook_id: str, *, paused: bool | None = None, events: list[str] | None = None,
                     url: str | None = None, channel_ids: list[int] | None = None,
                     tags: list[str] | None = None) -> Webhook:
        hook = await self.get(webhook_id)
        fields: dict = {}
        if url is not None:
            fields['url'] = await self._check_url(url)
        if events is not None:
            fields['events'] = self._check_events(events)
        if channel_ids is not None:
            fields['channel_ids'] = await self._check_channels(channel_ids)
        if tags is not None:
            fields['tags'] = [tag.strip() for tag in tags if tag.strip()] or None
        if paused is True and not hook.paused:
            fields.update(paused=True, paused_reason=None)
        elif paused is False and hook.paused:  # resumed: the failed event is tried again now
            fields.update(paused=False, paused_reason=None, attempts=0, failing_since=None, next_attempt_at=None)
        if not fields:
            return hook
        updated = await self.repo.update(webhook_id, **fields)
        assert updated is not None
        self.senders.forget(webhook_id)  # what it delivers, and how, may have changed: claimed again afresh
        self.senders.wake()
        return updated

    async def delete(self, webhook_id: str) -> Webhook:
        hook = await self.get(webhook_id)
        self.senders.forget(webhook_id)
        await self.repo.delete(webhook_id)
        return hook

    async def deliveries(self, webhook_id: str) -> list[Delivery]:
        await self.get(webhook_id)
        return await self.repo.deliveries_of(webhook_id)

    async def test(self, webhook_id: str) -> Delivery:
        return await self.senders.send_test(await self.get(webhook_id))

    async def replay(self, webhook_id: str, delivery_id: str) -> Delivery:
        hook = await self.get(webhook_id)
        delivery = await self.repo.delivery(webhook_id, delivery_id)
        if delivery is None:
            raise ServiceError(404, 'DELIVERY_NOT_FOUND', lazy('No delivery with this id among the last 100.'))
        if delivery.event_number is None:
            return await self.senders.send_test(hook, event_id=delivery.event_id)
        event = await self.repos.events_log.get(delivery.event_number)
        if event is None:
            raise ServiceError(410, 'EVENT_EXPIRED', lazy('This event is older than the event log keeps; it can no '
                                                          'longer be sent again.'))
        return await self.senders.replay(hook, event)
