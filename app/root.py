"""The composition root: every long-lived object of the process, built once from Settings and a clock.

`build_root` is the only place that constructs services and hands them to each other; `main.py` and the tests
both call it. `Root.start` brings the database up (retrying), then starts the components in order; pages and
API routes are served meanwhile and say "starting" (`NotReady`, 503 in the API) instead of failing.
"""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from app.alerts.consumer import AlertsConsumer
from app.alerts.digest import DigestSender
from app.alerts.service import AlertService
from app.alerts.trouble import TROUBLE_EVENTS, TroubleNotices
from app.auth import AdminAuth, ApiTokens, LoginThrottle
from app.clock import Clock, SystemClock
from app.config import Settings, resolve_secret_key
from app.crypto import SecretBox
from app.db.client import Database
from app.db.repos import Repos
from app.events import ChannelChanged, EventBus, NotificationsChanged
from app.feed_consumers import FeedConsumers
from app.i18n import lazy
from app.mtproto.accounts import AccountManager, process_owner_id
from app.mtproto.add_queue import AddQueue
from app.mtproto.channels import ChannelService
from app.mtproto.door import TelegramDoor
from app.mtproto.limits import RequestLimiter
from app.mtproto.login import LoginService
from app.mtproto.media import MediaService
from app.mtproto.media_policy import MediaPolicyRunner
from app.mtproto.sync import SyncService
from app.search.index import SearchIndex
from app.search.service import SearchService
from app.webhooks.addresses import AddressPolicy
from app.webhooks.outbox import BUS_EVENTS, WebhookOutbox
from app.webhooks.sender import WebhookSenders
from app.webhooks.service import WebhookService


class NotReady(Exception):
    """The database or a component is still starting; the API answers 503 with Retry-After."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(eq=False)
class Lifecycle:
    """The mutable part of the root: what has started, and why something did not."""
    started: bool = False
    startup_error: str | None = None
    generated_password: bool = False
    stopping: bool = False
    started_components: list[Any] = field(default_factory=list)
    ready: asyncio.Event | None = None
    task: asyncio.Task | None = None

    def event(self) -> asyncio.Event:
        if self.ready is None:
            self.ready = asyncio.Event()
            if self.started:
                self.ready.set()
        return self.ready


@dataclass(frozen=True, eq=False)
class Root:
    settings: Settings
    clock: Clock
    events: EventBus
    database: Database
    repos: Repos
    secret_box: SecretBox
    admin_auth: AdminAuth
    api_tokens: ApiTokens
    login_throttle: LoginThrottle
    accounts: AccountManager
    logins: LoginService
    channels: ChannelService
    sync: SyncService
    add_queue: AddQueue
    feed_consumers: FeedConsumers
    search_index: SearchIndex
    search: SearchService
    media: MediaService
    media_policy: MediaPolicyRunner
    webhooks: WebhookSenders
    webhook_service: WebhookService
    alerts: AlertService
    digests: DigestSender
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    @property
    def components(self) -> tuple[Any, ...]:
        """Objects with async start()/stop(), in start order."""
        return (self.accounts, self.channels, self.sync, self.add_queue, self.feed_consumers, self.media_policy,
                self.webhooks, self.digests)

    @property
    def started(self) -> bool:
        return self.lifecycle.started

    @property
    def startup_error(self) -> str | None:
        return self.lifecycle.startup_error

    @property
    def generated_password(self) -> bool:
        return self.lifecycle.generated_password

    def require_ready(self) -> None:
        if not self.database.ready:
            raise NotReady('DB_NOT_READY', lazy('The database is not ready yet; try again in a moment.'))
        if not self.lifecycle.started:
            raise NotReady('NOT_READY', lazy('Parsegram is still starting; try again in a few seconds.'))

    def launch(self) -> None:
        """Start in the background (an app start-up handler); see `start`."""
        self.lifecycle.task = asyncio.get_running_loop().create_task(self.start(), name='parsegram start')

    async def wait_started(self, timeout: float | None = None) -> bool:
        """Wait until the database is ready and every component has been started."""
        if self.lifecycle.started:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.lifecycle.event().wait(), timeout)
        return self.lifecycle.started

    async def start(self) -> None:
        """Database (retrying until it answers), indexes, the admin password, then components in order."""
        life = self.lifecycle
        life.stopping = False
        life.event()
        while not life.stopping:
            if not await self.database.start():
                return  # stopped while waiting
            try:
                await self.repos.ensure_indexes()
                life.generated_password = await self.admin_auth.ensure_password() is not None
                break
            except Exception as error:  # the database went away again between ping and set-up
                logger.warning('Database set-up failed ({}); retrying', error)
                await self.clock.sleep(1)
        for component in self.components:
            if life.stopping:
                return
            name = type(component).__name__
            try:
                await component.start()
            except Exception as error:
                logger.exception('{} failed to start', name)
                life.startup_error = f'{name} failed to start: {error}'
                continue
            life.started_components.append(component)
        life.started = True
        life.event().set()
        logger.info('Parsegram is ready')
        await self.database.watch()

    async def stop(self) -> None:
        """Stop components in reverse order, then the event deliveries and the database."""
        life = self.lifecycle
        life.stopping = True
        task, life.task = life.task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for component in reversed(life.started_components):
            try:
                await component.stop()
            except Exception:
                logger.exception('{} failed to stop cleanly', type(component).__name__)
        life.started_components.clear()
        life.started = False
        await self.events.stop()
        await self.database.stop()


def build_root(settings: Settings, clock: Clock | None = None) -> Root:
    clock = clock or SystemClock()
    events = EventBus()
    database = Database(settings)
    repos = Repos.create(database.db)
    secret_box = SecretBox(resolve_secret_key(settings))
    door = TelegramDoor(RequestLimiter.from_settings(settings, clock), record_call=repos.accounts.record_call,
                        clock=clock)
    accounts = AccountManager(settings=settings, repo=repos.accounts, secret_box=secret_box,
                              owner_id=process_owner_id(), events=events, door=door)
    channels = ChannelService(repos=repos, accounts=accounts, events=events)
    sync = SyncService(repos=repos, channels=channels, accounts=accounts, owner_id=accounts.owner_id, clock=clock)
    feed_consumers = FeedConsumers(repos.feed, repos.writer, repos.comment_writer, keep_days=settings.feed_keep_days)
    search_index = SearchIndex(repos, settings.data_dir)
    media = MediaService(repos=repos, channels=channels, events=events)
    feed_consumers.add(search_index)
    events.subscribe(ChannelChanged, search_index.channel_changed)
    outbox = WebhookOutbox(repos, repos.events_log, repos.webhooks)
    feed_consumers.add(outbox)
    events.subscribe(BUS_EVENTS, outbox.on_bus)
    search = SearchService(repos, search_index)
    alerts = AlertsConsumer(repos, repos.alerts, search, repos.events_log, repos.webhooks)
    feed_consumers.add(alerts)
    trouble = TroubleNotices(repos, repos.alerts)
    events.subscribe(TROUBLE_EVENTS, trouble.on_bus)
    digests = DigestSender(alerts=repos.alerts, accounts=accounts, clock=clock)
    for listeners in (alerts.listeners, trouble.listeners):
        listeners.append(lambda: events.publish(NotificationsChanged()))
    alerts.listeners.append(digests.wake)
    address_policy = AddressPolicy(settings.webhook_allow_private)
    webhooks = WebhookSenders(repo=repos.webhooks, log=repos.events_log, secret_box=secret_box,
                              policy=address_policy, clock=clock, owner_id=accounts.owner_id)
    return Root(
        settings=settings, clock=clock, events=events, database=database, repos=repos, secret_box=secret_box,
        admin_auth=AdminAuth(settings=settings, repo=repos.admin),
        api_tokens=ApiTokens(settings=settings, repo=repos.api_tokens),
        login_throttle=LoginThrottle(clock=clock),
        accounts=accounts, logins=LoginService(settings=settings, accounts=accounts),
        channels=channels, sync=sync, add_queue=AddQueue(repos=repos, channels=channels, accounts=accounts),
        feed_consumers=feed_consumers, search_index=search_index, search=search,
        media=media, media_policy=MediaPolicyRunner(repos=repos, media=media, events=events,
                                                    owner_id=accounts.owner_id, clock=clock),
        webhooks=webhooks, webhook_service=WebhookService(repos, webhooks, secret_box, address_policy),
        alerts=AlertService(repos, repos.alerts, search), digests=digests)
