"""The objects the dashboard and the API work with, and their start/stop order."""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loguru import logger
from nicegui import background_tasks

from app.auth import AdminAuth, ApiTokens, LoginThrottle
from app.config import Settings
from app.crypto import SecretBox
from app.db.client import Database
from app.db.repos import Repos

if TYPE_CHECKING:
    from app.mtproto.accounts import AccountManager
    from app.mtproto.add_queue import AddQueue
    from app.mtproto.channels import ChannelService
    from app.mtproto.login import LoginService
    from app.mtproto.sync import SyncService


@dataclass(eq=False)
class Services:
    settings: Settings
    database: Database
    repos: Repos
    secret_box: SecretBox
    components: list[Any] = field(default_factory=list)  # objects with async start()/stop(), in start order
    accounts: AccountManager | None = None
    logins: LoginService | None = None
    channels: ChannelService | None = None
    sync: SyncService | None = None
    add_queue: AddQueue | None = None
    admin_auth: AdminAuth = field(init=False)
    api_tokens: ApiTokens = field(init=False)
    login_throttle: LoginThrottle = field(init=False)
    started: bool = field(init=False, default=False)
    startup_error: str | None = field(init=False, default=None)
    generated_password: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.admin_auth = AdminAuth(settings=self.settings, repo=self.repos.admin)
        self.api_tokens = ApiTokens(settings=self.settings, repo=self.repos.api_tokens)
        self.login_throttle = LoginThrottle()
        self._started_components: list[Any] = []
        self._started_event: asyncio.Event | None = None
        self._stopping = False
        self._task: asyncio.Task | None = None

    def launch(self) -> None:
        """Start in the background (an app start-up handler); see `start`."""
        self._task = background_tasks.create(self.start(), name='parsegram start')

    def _event(self) -> asyncio.Event:
        if self._started_event is None:
            self._started_event = asyncio.Event()
            if self.started:
                self._started_event.set()
        return self._started_event

    async def wait_started(self, timeout: float | None = None) -> bool:
        """Wait until the database is ready and every component has been started."""
        if self.started:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event().wait(), timeout)
        return self.started

    async def start(self) -> None:
        """Database (retrying until it answers), indexes, the admin password, then components in order.

        Runs in the background: pages are served meanwhile and show that the database is starting.
        """
        self._stopping = False
        self._event()
        while not self._stopping:
            if not await self.database.start():
                return  # stopped while waiting
            try:
                await self.repos.ensure_indexes()
                self.generated_password = await self.admin_auth.ensure_password() is not None
                break
            except Exception as error:  # the database went away again between ping and set-up
                logger.warning('Database set-up failed ({}); retrying', error)
                await asyncio.sleep(1)
        for component in self.components:
            if self._stopping:
                return
            name = type(component).__name__
            try:
                await component.start()
            except Exception as error:
                logger.exception('{} failed to start', name)
                self.startup_error = f'{name} failed to start: {error}'
                continue
            self._started_components.append(component)
        self.started = True
        self._event().set()
        logger.info('Parsegram is ready')
        await self.database.watch()

    async def stop(self) -> None:
        """Stop components in reverse order, then the database."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for component in reversed(self._started_components):
            try:
                await component.stop()
            except Exception:
                logger.exception('{} failed to stop cleanly', type(component).__name__)
        self._started_components.clear()
        self.started = False
        await self.database.stop()
