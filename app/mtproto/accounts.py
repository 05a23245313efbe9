"""AccountManager: one long-lived TelegramClient per authorized account, guarded by a lease in MongoDB.

This module is the registry (lifecycle, queries, log-in, log-out, FloodWaits); keeping each account connected
is in supervisor.py, one account's state in account.py.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from loguru import logger
from telethon import TelegramClient, functions, types

from app.clock import Clock, SystemClock, ceil_to_milliseconds
from app.config import Settings
from app.crypto import SecretBox
from app.db.accounts_repo import AccountsRepo
from app.db.models import Account, AccountStatus, utcnow
from app.events import AccountChanged, EventBus, FloodWaitChanged
from app.i18n import lazy
from app.mtproto.account import (  # noqa: F401 (re-exported)
    HELD_REASON,
    LOGGED_OUT_REASON,
    AccountInfo,
    LiveState,
    _Live,
    display_name,
    distinct_masks,
    format_phone,
    mask_phone,
    process_owner_id,
)
from app.mtproto.client_factory import ACCOUNT_FLOOD_SLEEP_THRESHOLD, make_client
from app.mtproto.door import DoorClient, TelegramDoor
from app.mtproto.errors import REVOKED_REASON
from app.mtproto.limits import MethodClass, RequestLimiter
from app.mtproto.supervisor import SupervisorMixin

OnConnected = Callable[[str, TelegramClient], Awaitable[None]]
OnDisconnected = Callable[[str], Awaitable[None]]


class AccountManager(SupervisorMixin):
    def __init__(self, *, settings: Settings, repo: AccountsRepo, secret_box: SecretBox, owner_id: str,
                 lease_seconds: float = 60.0, tick_seconds: float | None = None, health_seconds: float = 30.0,
                 max_backoff: float = 60.0, events: EventBus | None = None, door: TelegramDoor | None = None,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        # FloodWaits are told by this clock (a test's moves by hand); leases by the database's wall clock
        self.clock = clock or (door.clock if door is not None else SystemClock())
        self.door = door or TelegramDoor(RequestLimiter.from_settings(settings, self.clock),
                                         record_call=repo.record_call, clock=self.clock)
        self.door.floods = self
        self.repo = repo
        self.secret_box = secret_box
        self.owner_id = owner_id
        self.lease_seconds = lease_seconds
        self.tick_seconds = tick_seconds if tick_seconds is not None else lease_seconds / 4
        self.health_seconds = health_seconds
        self.max_backoff = max_backoff
        self.events = events or EventBus()
        self._records: dict[str, Account] = {}
        self._live: dict[str, _Live] = {}
        self._adopting: set[str] = set()  # accounts adopt() is storing: no supervisor of their own is started
        self._listeners: list[tuple[OnConnected, OnDisconnected]] = []
        self._tasks: set[asyncio.Task] = set()
        self._maintenance: asyncio.Task | None = None
        self._started = False
        self._stopping = False
        self._stop_hooks: list[Callable[[], Awaitable[None]]] = []
        self._saved_hour_calls: dict[str, list[dict[str, Any]]] = {}  # what was written last, per account

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._stopping = False
        self._started = True
        await self._refresh_records()
        for account in self._records.values():  # the last hour's request counts, as the page showed them
            if account.hour_calls:
                self.door.limiter.restore_recent(account.id, account.hour_calls)
        if not self.settings.telegram_configured:
            logger.warning('Telegram is not configured; accounts stay offline until TELEGRAM_API_ID/HASH are set')
            return
        for account in self._records.values():
            if self._should_run(account):
                self._ensure_supervisor(account.id)
        self._maintenance = self._spawn(self._maintenance_loop(), 'accounts-maintenance')

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` first when the manager stops (the login service closes its pending clients)."""
        self._stop_hooks.append(hook)

    async def stop(self) -> None:
        for hook in self._stop_hooks:
            try:
                await hook()
            except Exception:
                logger.exception('Account stop hook failed')
        self._stopping = True
        if self._maintenance is not None:
            self._maintenance.cancel()
        await self._save_hour_calls()
        for live in list(self._live.values()):
            await self._close(live, release=True)
        self._live.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._started = False

    # ------------------------------------------------------------ queries (sync, from memory)

    def counts(self) -> tuple[int, int]:
        connected = sum(1 for live in self._live.values() if self._is_connected(live))
        return connected, len(self._records)

    def usable_account_ids(self) -> list[str]:
        now = self.clock.now()
        usable = []
        for account_id, live in self._live.items():
            record = self._records.get(account_id)
            if record is None or record.status != AccountStatus.AUTHORIZED or not self._is_connected(live):
                continue
            if record.flood_wait_until and record.flood_wait_until > now:
                continue
            usable.append(account_id)
        return usable

    def client(self, account_id: str) -> TelegramClient | None:
        live = self._live.get(account_id)
        return live.client if live is not None and self._is_connected(live) else None

    def flood_wait_until(self, account_id: str, kind: str | None = None) -> datetime | None:
        """Until when Telegram asked this account to wait: for every method, or (with `kind`) for that class."""
        record = self._records.get(account_id)
        if record is None:
            return None
        now = self.clock.now()
        waits = [record.flood_wait_until, record.flood_waits.get(kind) if kind is not None else None]
        active = [until for until in waits if until is not None and until > now]
        return max(active) if active else None

    def add_listener(self, on_connected: OnConnected, on_disconnected: OnDisconnected) -> None:
        self._listeners.append((on_connected, on_disconnected))
        for live in self._live.values():  # accounts that connected before the listener came
            if live.announced and live.client is not None:
                self._spawn(self._call_listener(on_connected, live.account_id, live.client), 'listener')

    def name(self, account_id: str) -> str:
        """What a person calls the account: its name in Telegram, else its masked phone number."""
        record = self._records.get(account_id)
        return display_name(record) if record is not None else account_id

    def authorized_account_ids(self) -> set[str]:
        """Accounts logged in, connected now or not: a channel's readers. Revoked and logged-out ones are not (their
        access hashes are kept: the same Telegram user logging in again reads with them, no look-up spent)."""
        return {account_id for account_id, record in self._records.items()
                if record.status == AccountStatus.AUTHORIZED}

    async def list_accounts(self) -> list[AccountInfo]:
        await self._refresh_records()
        infos = [self._info(account) for account in self._records.values()]
        masks = distinct_masks([account.phone for account in self._records.values() if account.phone])
        return [info.model_copy(update={'phone_masked': masks.get(account.phone or '', info.phone_masked)})
                for info, account in zip(infos, self._records.values(), strict=True)]

    async def get_account(self, account_id: str) -> AccountInfo | None:
        account = await self.repo.get(account_id)
        if account is None:
            return None
        self._records[account.id] = account
        return self._info(account)

    async def find_account_id(self, *, phone: str | None = None, user_id: int | None = None) -> str | None:
        account = None
        if user_id is not None:
            account = await self.repo.find_by_user_id(user_id)
        if account is None and phone:
            account = await self.repo.find_by_phone(phone)
        return account.id if account else None

    def is_live(self, account_id: str) -> bool:
        live = self._live.get(account_id)
        return live is not None and self._is_connected(live)

    # ------------------------------------------------------------ changes

    async def adopt(self, account_id: str, client: TelegramClient, user: types.User) -> str:
        """Take over a client that just logged in (no reconnect). Returns the id the account is stored under:
        an existing record of the same Telegram user or phone is reused, so a re-login happens in place."""
        phone = user.phone or None
        existing = await self.repo.find_by_user_id(user.id)
        if existing is None and phone:
            existing = await self.repo.find_by_phone(phone)
        if existing is not None:
            account_id = existing.id
        if not isinstance(client, DoorClient) or client.door is not self.door:
            raise TypeError('an account is adopted only with a client made through the door of its manager')
        # the record is authorized (and found by the maintenance loop) before the live client is registered
        self._adopting.add(account_id)
        try:
            old = self._live.pop(account_id, None)
            if old is not None:
                await self._close(old, release=False)
            self.door.rekey(client.door_key, account_id)
            client.door_key = account_id
            client.flood_sleep_threshold = ACCOUNT_FLOOD_SLEEP_THRESHOLD  # the login's client is the account's now
            session = client.session.save()
            account = await self.repo.save_authorized(
                account_id=account_id, phone=phone, user_id=user.id, first_name=user.first_name,
                last_name=user.last_name, username=user.username, dc_id=client.session.dc_id,
                session_encrypted=self.secret_box.encrypt(session), lease_owner=self.owner_id,
                lease_until=self._lease_until())
            if existing is None:  # the user's earlier record may have been removed: Telegram still counts its waits
                account = await self.repo.take_leftovers(account_id, user.id) or account
                for kind, times in account.day_calls.items():
                    with contextlib.suppress(ValueError):  # a class this version no longer has
                        self.door.limiter.restore(account_id, MethodClass(kind), times)
            self._records[account_id] = account
            live = _Live(account_id=account_id, client=client, state=LiveState.CONNECTED, saved_session=session,
                         events=self.events)
            self._live[account_id] = live
            logger.info('Account {} logged in as user {}', account_id, user.id)
            self.events.publish(AccountChanged(account_id=account_id, state=LiveState.CONNECTED.value))
            # what follows a login (live updates, catching up its channels) runs after the login's request answers
            self._spawn(self._announce(live), f'account-{account_id}-connected')
            if self._started and not self._stopping:
                live.task = self._spawn(self._supervise(live), f'account-{account_id}')
                if self._maintenance is None or self._maintenance.done():
                    self._maintenance = self._spawn(self._maintenance_loop(), 'accounts-maintenance')
        finally:
            self._adopting.discard(account_id)
        return account_id

    async def _save_hour_calls(self) -> None:
        """Keep each live account's request counts of the last hour, so a restart does not reset them."""
        for account_id in list(self._live):
            minutes = self.door.limiter.calls_by_minute(account_id)
            if minutes == self._saved_hour_calls.get(account_id):
                continue  # an idle account: nothing new to write
            try:
                await self.repo.save_hour_calls(account_id, minutes)
                self._saved_hour_calls[account_id] = minutes
            except Exception as exc:  # the database is away: the counts are kept at the next tick
                logger.debug('Saving the request counts of {} failed: {}', account_id, exc)

    async def note_flood_wait(self, account_id: str, seconds: int, kind: str | None = None) -> bool:
        """Store a FloodWait (it survives a restart): for the whole account, or only for one method class.
        False when there is no such account (a login's client before it is adopted)."""
        record = self._records.get(account_id)
        if record is None:
            return False
        until = ceil_to_milliseconds(self.clock.now() + timedelta(seconds=max(int(seconds), 0)))
        await self.repo.set_flood_wait(account_id=account_id, until=until, kind=kind)
        update = {'flood_wait_until': until} if kind is None else {'flood_waits': record.flood_waits | {kind: until}}
        self._records[account_id] = record.model_copy(update=update)
        logger.warning('Account {} must wait {} s (FloodWait{})', account_id, seconds, f' on {kind}' if kind else '')
        self.events.publish(FloodWaitChanged(account_id=account_id, kind=kind or 'all', until=until))
        return True

    async def note_revoked(self, account_id: str, reason: str = REVOKED_REASON) -> None:
        await self.repo.set_status(account_id=account_id, status=AccountStatus.REVOKED, reason=reason,
                                   drop_session=True)
        record = self._records.get(account_id)
        if record is not None:
            self._records[account_id] = record.model_copy(update={
                'status': AccountStatus.REVOKED, 'status_reason': reason, 'session_encrypted': None, 'lease': None})
        live = self._live.pop(account_id, None)
        if live is not None:
            live.state, live.reason = LiveState.REVOKED, reason
            await self._close(live, release=False)
        logger.warning('Account {} was revoked by Telegram: {}', account_id, reason)

    async def log_out(self, account_id: str) -> str | None:
        """Log the account out of Telegram and drop its session ('logged_out'). An account that is already
        logged out or revoked is removed from the list ('removed'). None when there is no such account."""
        account = await self.repo.get(account_id)
        if account is None:
            return None
        live = self._live.pop(account_id, None)
        if account.status == AccountStatus.REVOKED and not account.session_encrypted:
            if live is not None:
                await self._close(live, release=False)
            await self.repo.delete(account_id)
            self._records.pop(account_id, None)
            return 'removed'
        client = live.client if live is not None and self._is_connected(live) else None
        if live is not None:
            if client is not None:
                live.client = None  # kept for the log-out request below
            await self._close(live, release=False)
        try:
            if client is None and account.session_encrypted and self.settings.telegram_configured:
                client = make_client(self.settings, self._decrypt(account.session_encrypted) or '', door=self.door,
                                     door_key=account_id, flood_sleep_threshold=ACCOUNT_FLOOD_SLEEP_THRESHOLD)
                await asyncio.wait_for(client.connect(), timeout=15)
            if client is not None:
                await asyncio.wait_for(client(functions.auth.LogOutRequest()), timeout=15)
        except Exception as exc:  # the session is dropped here either way
            logger.info('Telegram log-out of account {} failed ({}); dropping the session anyway',
                        account_id, type(exc).__name__)
        finally:
            if client is not None:
                await self._disconnect(client)
        await self.repo.set_status(account_id=account_id, status=AccountStatus.REVOKED, reason=LOGGED_OUT_REASON,
                                   drop_session=True)
        await self._refresh_record(account_id)
        logger.info('Account {} logged out', account_id)
        return 'logged_out'

    # ------------------------------------------------------------ helpers

    async def _close(self, live: _Live, *, release: bool) -> None:
        live.closed = True
        live.wake.set()
        if live.task is not None and live.task is not asyncio.current_task() and not live.task.done():
            live.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await live.task
        client, live.client = live.client, None
        if client is not None:
            await self._save_session_if_changed_for(live, client)
            await self._disconnect(client)
        await self._retract(live)
        if release:
            with contextlib.suppress(Exception):
                await self.repo.release_lease(account_id=live.account_id, owner=self.owner_id)
        if live.state == LiveState.CONNECTED:
            live.state = LiveState.OFFLINE

    async def _save_session_if_changed_for(self, live: _Live, client: TelegramClient) -> None:
        if live.state == LiveState.REVOKED:
            return
        live.client = client
        try:
            await self._save_session_if_changed(live)
        except Exception:
            logger.exception('Could not save the session of account {}', live.account_id)
        finally:
            live.client = None

    async def _announce(self, live: _Live) -> None:
        if live.client is None:
            return
        live.announced = True
        for on_connected, _ in list(self._listeners):
            await self._call_listener(on_connected, live.account_id, live.client)

    async def _retract(self, live: _Live) -> None:
        if not live.announced:
            return
        live.announced = False
        for _, on_disconnected in list(self._listeners):
            try:
                await on_disconnected(live.account_id)
            except Exception:
                logger.exception('Account listener failed on disconnect of {}', live.account_id)

    @staticmethod
    async def _call_listener(on_connected: OnConnected, account_id: str, client: TelegramClient) -> None:
        try:
            await on_connected(account_id, client)
        except Exception:
            logger.exception('Account listener failed on connect of {}', account_id)

    @staticmethod
    async def _disconnect(client: TelegramClient) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), timeout=10)

    def _decrypt(self, token: str | None) -> str | None:
        if not token:
            return None
        try:
            return self.secret_box.decrypt(token)
        except ValueError:
            return None

    def _lease_until(self) -> datetime:
        return utcnow() + timedelta(seconds=self.lease_seconds)

    def _should_run(self, account: Account) -> bool:
        return (self.settings.telegram_configured and account.status == AccountStatus.AUTHORIZED
                and bool(account.session_encrypted))

    @staticmethod
    def _is_connected(live: _Live) -> bool:
        return live.state == LiveState.CONNECTED and live.client is not None and bool(live.client.is_connected())

    async def _refresh_records(self) -> None:
        self._records = {account.id: account for account in await self.repo.list()}

    async def _refresh_record(self, account_id: str) -> Account | None:
        account = await self.repo.get(account_id)
        if account is None:
            self._records.pop(account_id, None)
        else:
            self._records[account_id] = account
        return account

    def _info(self, account: Account) -> AccountInfo:
        live = self._live.get(account.id)
        now = self.clock.now()
        flood_until = account.flood_wait_until if account.flood_wait_until and account.flood_wait_until > now else None
        # a logged-out or revoked account sends nothing: its waits are kept for its next log-in, not counted down
        waits = account.flood_waits if account.status == AccountStatus.AUTHORIZED else {}
        if account.status != AccountStatus.AUTHORIZED:
            flood_until = None
        if account.status == AccountStatus.REVOKED:
            state, reason = LiveState.REVOKED, account.status_reason or REVOKED_REASON
        elif account.status == AccountStatus.ERROR:
            state, reason = LiveState.ERROR, account.status_reason
        elif not self.settings.telegram_configured:
            state, reason = LiveState.OFFLINE, lazy('Telegram is not configured')
        elif live is None:
            lease = account.lease
            if lease is not None and lease.owner != self.owner_id and lease.until > utcnow():
                state, reason = LiveState.HELD, HELD_REASON
            else:
                state, reason = (LiveState.CONNECTING, None) if self._started else (LiveState.OFFLINE, None)
        else:
            state, reason = live.state, live.reason
        connected = live is not None and self._is_connected(live)
        if flood_until is not None and state in (LiveState.CONNECTED, LiveState.CONNECTING, LiveState.FLOOD_WAIT):
            state = LiveState.FLOOD_WAIT
        return AccountInfo(
            id=account.id, phone=format_phone(account.phone), phone_masked=mask_phone(account.phone),
            user_id=account.user_id, first_name=account.first_name, last_name=account.last_name,
            username=account.username, display_name=display_name(account), status=account.status.value,
            state=state, reason=reason, flood_wait_until=flood_until,
            flood_wait_seconds=max(0, int((flood_until - now).total_seconds())) if flood_until else 0,
            flood_waits={kind: int((until - now).total_seconds()) for kind, until in sorted(waits.items())
                         if until > now},
            connected=connected, created_at=account.created_at, updated_at=account.updated_at)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        # This package does not import nicegui, so it keeps its own strong task references.
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.opt(exception=task.exception()).error('Background task {} failed', task.get_name())
