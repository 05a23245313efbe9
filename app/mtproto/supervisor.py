"""Keeping each account connected: the supervisor and maintenance half of AccountManager.

Every authorized account gets a supervisor task that takes the account's lease, connects its client, waits for
the connection to end and reconnects with backoff. A maintenance loop renews leases, saves sessions that changed
(e.g. after a DC migration), checks that sessions are still authorized and picks up accounts that were
authorized elsewhere or whose lease became free.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from loguru import logger
from telethon import TelegramClient, functions, types

from app.db.models import Account, AccountStatus
from app.i18n import lazy
from app.mtproto.account import HELD_REASON, LiveState, _describe, _Live, _SessionUnreadable
from app.mtproto.client_factory import ACCOUNT_FLOOD_SLEEP_THRESHOLD, make_client
from app.mtproto.errors import flood_seconds, is_revocation

if TYPE_CHECKING:
    from app.config import Settings
    from app.db.accounts_repo import AccountsRepo


class SupervisorMixin:
    settings: Settings
    repo: AccountsRepo
    owner_id: str
    lease_seconds: float
    tick_seconds: float
    health_seconds: float
    max_backoff: float
    _records: dict[str, Account]
    _live: dict[str, _Live]
    _adopting: set[str]
    _stopping: bool

    def _ensure_supervisor(self, account_id: str) -> None:
        if account_id in self._adopting:  # a login's client becoming the account's: adopt() supervises it
            return
        live = self._live.get(account_id)
        if live is not None and live.task is not None and not live.task.done():
            return
        if live is None:
            live = self._live[account_id] = _Live(account_id=account_id, events=self.events)
        live.task = self._spawn(self._supervise(live), f'account-{account_id}')

    async def _supervise(self, live: _Live) -> None:
        backoff = 1.0
        while not self._stopping and not live.closed:
            if live.client is None:
                try:
                    account = await self._refresh_record(live.account_id)
                    leased = account is not None and self._should_run(account) and await self.repo.acquire_lease(
                        account_id=live.account_id, owner=self.owner_id, until=self._lease_until())
                except Exception as exc:  # the database is away; keep trying without a traceback each time
                    live.state, live.reason = LiveState.ERROR, lazy('database unavailable ({name})',
                                                                    name=type(exc).__name__)
                    await self._sleep(live, backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                if account is None or not self._should_run(account):
                    live.state = LiveState.OFFLINE
                    break
                if not leased:
                    live.state, live.reason = LiveState.HELD, HELD_REASON
                    await self._sleep(live, self.tick_seconds)
                    continue
                try:
                    await self._connect(live, account)
                    backoff = 1.0
                except Exception as exc:  # classified below; the loop must survive anything
                    client, live.client = live.client, None
                    if client is not None:
                        await self._disconnect(client)
                    if is_revocation(exc):
                        await self.note_revoked(live.account_id)
                        return
                    seconds = flood_seconds(exc)
                    if seconds:  # the door stored it for the class that drew it
                        live.state, live.reason = LiveState.FLOOD_WAIT, lazy('FloodWait {seconds} s', seconds=seconds)
                        await self._sleep(live, seconds)
                        continue
                    if isinstance(exc, _SessionUnreadable):
                        await self.repo.set_status(account_id=live.account_id, status=AccountStatus.ERROR,
                                                   reason=str(exc))
                        live.state, live.reason = LiveState.ERROR, str(exc)
                        return
                    live.state, live.reason = LiveState.ERROR, _describe(exc)
                    logger.warning('Account {} could not connect: {}; retrying in {:.0f} s',
                                   live.account_id, live.reason, backoff)
                    await self._sleep(live, backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
            client = live.client
            await self._wait_disconnected(live, client)
            if client is not None and live.client is client and not client.is_connected():
                updates_error = getattr(client, '_updates_error', None)
                live.client = None
                await self._retract(live)
                if updates_error is not None and is_revocation(updates_error):
                    await self.note_revoked(live.account_id)
                    return
                if not self._stopping and not live.closed:
                    live.state, live.reason = LiveState.CONNECTING, lazy('connection lost; reconnecting')
                    logger.info('Account {} lost its connection; reconnecting', live.account_id)
                    await self._sleep(live, backoff)
                    backoff = min(backoff * 2, self.max_backoff)

    async def _connect(self, live: _Live, account: Account) -> None:
        session = self._decrypt(account.session_encrypted)
        if session is None:
            raise _SessionUnreadable('the stored session cannot be decrypted (SECRET_KEY changed?) — log in again')
        live.state, live.reason = LiveState.CONNECTING, None
        client = live.client = make_client(self.settings, session, door=self.door, door_key=account.id,
                                           flood_sleep_threshold=ACCOUNT_FLOOD_SLEEP_THRESHOLD)
        await asyncio.wait_for(client.connect(), timeout=30)
        me = (await client(functions.users.GetUsersRequest([types.InputUserSelf()])))[0]
        if account.user_id != me.id or account.username != me.username or account.first_name != me.first_name:
            await self.repo.update_profile(account_id=account.id, phone=me.phone, user_id=me.id,
                                           first_name=me.first_name, last_name=me.last_name, username=me.username)
        live.saved_session = session
        await self._save_session_if_changed(live)
        live.state, live.reason = LiveState.CONNECTED, None
        live.last_health = asyncio.get_running_loop().time()
        await self._refresh_record(account.id)
        logger.info('Account {} connected', account.id)
        await self._announce(live)

    async def _wait_disconnected(self, live: _Live, client: TelegramClient | None) -> None:
        if client is None:
            return
        live.wake.clear()

        async def disconnected() -> None:
            with contextlib.suppress(Exception):
                await client.disconnected

        waiters = [asyncio.ensure_future(disconnected()), asyncio.ensure_future(live.wake.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _sleep(self, live: _Live, seconds: float) -> None:
        live.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(live.wake.wait(), timeout=seconds)

    # ------------------------------------------------------------ maintenance

    async def _maintenance_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.tick_seconds)
            try:
                await self._maintain()
            except Exception as exc:
                logger.warning('Account maintenance failed: {}', _describe(exc))

    async def _maintain(self) -> None:
        now = asyncio.get_running_loop().time()
        for live in list(self._live.values()):
            if not self._is_connected(live):
                continue
            if not await self.repo.renew_lease(account_id=live.account_id, owner=self.owner_id,
                                               until=self._lease_until()):
                logger.warning('Account {} lease was taken over; disconnecting', live.account_id)
                client, live.client = live.client, None
                live.state, live.reason = LiveState.HELD, HELD_REASON
                await self._retract(live)
                if client is not None:
                    await self._disconnect(client)
                live.wake.set()
                continue
            await self._save_session_if_changed(live)
            if now - live.last_health >= self.health_seconds:
                live.last_health = now
                await self._check_health(live)
        await self._refresh_records()
        await self._save_hour_calls()
        for account in self._records.values():
            if self._should_run(account):
                self._ensure_supervisor(account.id)
            elif account.id in self._live and account.status != AccountStatus.AUTHORIZED:
                # logged out or revoked by another process
                live = self._live.pop(account.id)
                live.state, live.reason = LiveState.REVOKED, account.status_reason
                await self._close(live, release=False)

    async def _check_health(self, live: _Live) -> None:
        client = live.client
        if client is None:
            return
        try:
            await asyncio.wait_for(client(functions.updates.GetStateRequest()), timeout=15)
        except Exception as exc:
            if is_revocation(exc):
                await self.note_revoked(live.account_id)
            elif flood_seconds(exc) is None:  # a FloodWait was stored by the door, for GetState's class
                logger.info('Health check of account {} failed: {}', live.account_id, _describe(exc))

    async def _save_session_if_changed(self, live: _Live) -> None:
        client = live.client
        if client is None or client.session is None:
            return
        session = client.session.save()
        if session and session != live.saved_session:
            await self.repo.set_session(account_id=live.account_id,
                                        session_encrypted=self.secret_box.encrypt(session),
                                        dc_id=client.session.dc_id)
            live.saved_session = session
            logger.info('Saved the changed session of account {}', live.account_id)
