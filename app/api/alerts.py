"""Alert rules (saved searches that fire) and the notifications they and account or job trouble make."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.alerts.repo import AlertRule, Notification
from app.api.deps import ReadyRootDep
from app.api.params import ChannelIdItem, IdPath
from app.events import NotificationsChanged

router = APIRouter()


class RuleOut(BaseModel):
    id: str
    name: str
    query: str
    channel_ids: list[int] | None
    tags: list[str] | None
    min_views: int | None = Field(description='only posts with more views than this within an hour of posting')
    webhook: bool
    saved_messages: bool
    account_id: str | None
    paused: bool
    created_at: datetime
    matched: int = Field(description='posts matched so far')

    @classmethod
    def of(cls, rule: AlertRule) -> RuleOut:
        return cls(**rule.model_dump(include=set(cls.model_fields)))


class RuleCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    query: str = Field(default='', max_length=1000, description='in the search query language')
    channel_ids: list[ChannelIdItem] | None = Field(default=None, max_length=1000)
    tags: list[str] | None = Field(default=None, max_length=100)
    min_views: int | None = Field(default=None, ge=1, le=10**10)
    webhook: bool = Field(default=False, description='also an alert.matched event for the webhooks that want it')
    saved_messages: bool = Field(default=False, description="also a digest (one a minute at most) in an account's "
                                                             'own Saved Messages')
    account_id: str | None = Field(default=None, max_length=64, description='whose Saved Messages (default: the '
                                                                            'first connected account)')


class RulePatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    query: str | None = Field(default=None, max_length=1000)
    channel_ids: list[ChannelIdItem] | None = Field(default=None, max_length=1000)
    tags: list[str] | None = Field(default=None, max_length=100)
    min_views: int | None = Field(default=None, ge=1, le=10**10)
    webhook: bool | None = None
    saved_messages: bool | None = None
    account_id: str | None = Field(default=None, max_length=64)
    paused: bool | None = None


class NotificationsPage(BaseModel):
    items: list[Notification]
    unread: int


class ReadBody(BaseModel):
    ids: list[str] | None = Field(default=None, max_length=1000, description='which to mark read; all when absent')


class ReadAnswer(BaseModel):
    marked: int
    unread: int


@router.post('/alerts', status_code=201, response_model=RuleOut)
async def create_rule(body: RuleCreate, root: ReadyRootDep) -> RuleOut:
    return RuleOut.of(await root.alerts.create(**body.model_dump()))


@router.get('/alerts', response_model=list[RuleOut])
async def list_rules(root: ReadyRootDep) -> list[RuleOut]:
    return [RuleOut.of(rule) for rule in await root.repos.alerts.list_rules()]


@router.get('/alerts/{rule_id}', response_model=RuleOut)
async def get_rule(rule_id: IdPath, root: ReadyRootDep) -> RuleOut:
    return RuleOut.of(await root.alerts.get(rule_id))


@router.patch('/alerts/{rule_id}', response_model=RuleOut)
async def change_rule(rule_id: IdPath, body: RulePatch, root: ReadyRootDep) -> RuleOut:
    return RuleOut.of(await root.alerts.update(rule_id, **body.model_dump(exclude_unset=True)))


@router.delete('/alerts/{rule_id}', response_model=RuleOut)
async def delete_rule(rule_id: IdPath, root: ReadyRootDep) -> RuleOut:
    return RuleOut.of(await root.alerts.delete(rule_id))


@router.get('/notifications', response_model=NotificationsPage)
async def notifications(root: ReadyRootDep, unread: bool = False,
                        limit: int = Query(default=50, ge=1, le=500)) -> NotificationsPage:
    """Newest first: alert matches (with links to the post), revoked accounts, long FloodWaits, failed jobs."""
    # counted before the page is read: a notification that arrives between the two reads is then in the page and
    # added to the count, never counted with a page that lacks it
    counted = await root.repos.alerts.unread_count()
    items = await root.repos.alerts.notifications_page(unread=unread, limit=limit)
    return NotificationsPage(items=items, unread=max(counted, sum(not item.read for item in items)))


@router.post('/notifications/read', response_model=ReadAnswer)
async def mark_read(root: ReadyRootDep, body: ReadBody | None = None) -> ReadAnswer:
    marked = await root.repos.alerts.mark_read(body.ids if body else None)
    if marked:
        root.events.publish(NotificationsChanged())
    return ReadAnswer(marked=marked, unread=await root.repos.alerts.unread_count())
