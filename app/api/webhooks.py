"""Webhooks: create (the secret is in the answer once), list, change, pause, delete, test, deliveries, replay."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import ReadyRootDep
from app.api.params import ChannelIdItem, IdPath
from app.webhooks.event_log import EVENT_TYPES
from app.webhooks.repo import Delivery, Webhook

router = APIRouter(prefix='/webhooks')

EVENTS_DESCRIPTION = 'event types: ' + ', '.join(EVENT_TYPES)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    channel_ids: list[int] | None
    tags: list[str] | None
    paused: bool
    paused_reason: str | None = Field(description='why Parsegram paused it (after 24 hours of failing), if it did')
    created_at: datetime
    delivered: int = Field(description='events delivered so far')
    attempts: int = Field(description='failed attempts in a row at the next event (0 when all is well)')
    failing_since: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, hook: Webhook) -> WebhookOut:
        return cls(**hook.model_dump(include=set(cls.model_fields)))


class WebhookCreated(WebhookOut):
    secret: str = Field(description='signs every delivery (X-Parsegram-Signature); shown only in this answer')


class WebhookCreate(BaseModel):
    url: str = Field(min_length=1, max_length=2000, description='an http(s) URL')
    events: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES), description=EVENTS_DESCRIPTION)
    channel_ids: list[ChannelIdItem] | None = Field(default=None, max_length=1000)
    tags: list[str] | None = Field(default=None, max_length=100)


class WebhookPatch(BaseModel):
    paused: bool | None = None
    events: list[str] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES),
                                     description=EVENTS_DESCRIPTION)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    channel_ids: list[ChannelIdItem] | None = Field(default=None, max_length=1000)
    tags: list[str] | None = Field(default=None, max_length=100)


@router.post('', status_code=201, response_model=WebhookCreated)
async def create_webhook(body: WebhookCreate, root: ReadyRootDep) -> WebhookCreated:
    hook, secret = await root.webhook_service.create(url=body.url, events=body.events, channel_ids=body.channel_ids,
                                                     tags=body.tags)
    return WebhookCreated(**WebhookOut.of(hook).model_dump(), secret=secret)


@router.get('', response_model=list[WebhookOut])
async def list_webhooks(root: ReadyRootDep) -> list[WebhookOut]:
    return [WebhookOut.of(hook) for hook in await root.repos.webhooks.list()]


@router.get('/{webhook_id}', response_model=WebhookOut)
async def get_webhook(webhook_id: IdPath, root: ReadyRootDep) -> WebhookOut:
    return WebhookOut.of(await root.webhook_service.get(webhook_id))


@router.patch('/{webhook_id}', response_model=WebhookOut)
async def change_webhook(webhook_id: IdPath, body: WebhookPatch, root: ReadyRootDep) -> WebhookOut:
    return WebhookOut.of(await root.webhook_service.update(webhook_id, **body.model_dump(exclude_unset=True)))


@router.delete('/{webhook_id}', response_model=WebhookOut)
async def delete_webhook(webhook_id: IdPath, root: ReadyRootDep) -> WebhookOut:
    return WebhookOut.of(await root.webhook_service.delete(webhook_id))


@router.get('/{webhook_id}/deliveries', response_model=list[Delivery])
async def list_deliveries(webhook_id: IdPath, root: ReadyRootDep) -> list[Delivery]:
    """The last 100 deliveries, newest first: each event's status, attempts, answer and time to answer."""
    return await root.webhook_service.deliveries(webhook_id)


@router.post('/{webhook_id}/test', response_model=Delivery)
async def test_webhook(webhook_id: IdPath, root: ReadyRootDep) -> Delivery:
    """Send a `webhook.test` event now and say how the receiver answered."""
    return await root.webhook_service.test(webhook_id)


@router.post('/{webhook_id}/deliveries/{delivery_id}/replay', response_model=Delivery)
async def replay_delivery(webhook_id: IdPath, delivery_id: IdPath, root: ReadyRootDep) -> Delivery:
    """Send a delivered (or failed) event again now, under its own id."""
    return await root.webhook_service.replay(webhook_id, delivery_id)
