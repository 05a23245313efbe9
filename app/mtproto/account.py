"""One account's state in this process: its live state, what the API and pages show of it, phone helpers."""
from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from telethon import TelegramClient, errors

from app.db.models import Account
from app.events import AccountChanged, EventBus
from app.i18n import lazy

HELD_REASON = lazy('held by another Parsegram process')
LOGGED_OUT_REASON = lazy('logged out')


class LiveState(StrEnum):
    CONNECTING = 'connecting'
    CONNECTED = 'connected'
    HELD = 'held'  # another Parsegram process holds the lease
    FLOOD_WAIT = 'flood_wait'
    REVOKED = 'revoked'
    ERROR = 'error'
    OFFLINE = 'offline'  # not managed (Telegram not configured, stopped, not authorized)


class AccountInfo(BaseModel):
    """What pages and the API show about an account. Never carries the session."""

    id: str
    phone: str | None = None
    phone_masked: str | None = None
    user_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    display_name: str
    status: str
    state: LiveState
    reason: str | None = None
    flood_wait_until: datetime | None = None
    flood_wait_seconds: int = 0
    # seconds left of each method class's FloodWait (history, resolve, join...); the other classes go on
    flood_waits: dict[str, int] = {}
    connected: bool = False
    created_at: datetime
    updated_at: datetime


def process_owner_id() -> str:
    """A lease owner id unique to this process: host, pid and a random part (pids repeat across restarts)."""
    return f'{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}'


def format_phone(phone: str | None) -> str | None:
    return f'+{phone}' if phone else None


def mask_phone(phone: str | None, tail: int = 4) -> str | None:
    """'+44••••0123': the country's first digits and the last `tail`, as people tell their numbers apart."""
    if not phone:
        return None
    if len(phone) <= 6:
        return '+' + phone[:2] + '•' * (len(phone) - 2)
    tail = min(tail, len(phone) - 2)
    return f'+{phone[:2]}{"•" * (len(phone) - 2 - tail)}{phone[-tail:]}'


def distinct_masks(phones: list[str]) -> dict[str, str]:
    """A mask per phone that no other phone of the list shares: more of the end is shown where two would match."""
    masks: dict[str, str] = {}
    for phone in set(phones):
        tail = 4
        while tail < len(phone) - 2 and any(mask_phone(other, tail) == mask_phone(phone, tail)
                                            for other in phones if other != phone):
            tail += 1
        masks[phone] = mask_phone(phone, tail) or ''
    return masks


def display_name(account: Account) -> str:
    name = ' '.join(part for part in (account.first_name, account.last_name) if part)
    return name or mask_phone(account.phone) or 'Telegram account'


@dataclass
class _Live:
    account_id: str
    client: TelegramClient | None = None
    state: LiveState = LiveState.CONNECTING
    reason: str | None = None
    saved_session: str = ''
    task: asyncio.Task | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    announced: bool = False  # on_connected was called for the current client
    last_health: float = 0.0
    closed: bool = False
    events: EventBus | None = None  # told of every change of `state`

    def __setattr__(self, name: str, value: Any) -> None:
        changed = name == 'state' and self.__dict__.get('state') != value
        super().__setattr__(name, value)
        if changed and self.events is not None:
            self.events.publish(AccountChanged(account_id=self.account_id, state=LiveState(value).value))


class _SessionUnreadable(Exception):
    pass


def _describe(exc: BaseException) -> str:
    if isinstance(exc, errors.RPCError):
        return lazy('Telegram error {code}: {message}', code=exc.code, message=exc.message)
    if isinstance(exc, TimeoutError):
        return lazy('Telegram did not answer in time')
    if isinstance(exc, OSError | ConnectionError):
        return lazy('cannot reach Telegram ({name})', name=type(exc).__name__)
    return type(exc).__name__
