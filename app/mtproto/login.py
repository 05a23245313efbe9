"""Login flows as explicit state machines, shared by the JSON API and the dashboard.

Code login:  start(phone) → code_sent ─verify→ authorized
                                       └─verify→ password_required ─password→ authorized
QR login:    start_qr()   → qr_pending ─(token accepted)→ authorized | password_required
                                       └─(nobody scans)→ expired
Every pending state can be cancelled, and expires after `pending_ttl` seconds without progress.

The client that asked Telegram for the code stays in memory and is the one that signs in; once
authorized it is handed to the AccountManager as is (no reconnect).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from loguru import logger
from pydantic import BaseModel
from telethon import TelegramClient, errors, events, functions, types

from app.config import Settings
from app.i18n import lazy
from app.mtproto.accounts import AccountManager, mask_phone
from app.mtproto.client_factory import TelegramNotConfigured, make_client
from app.mtproto.errors import TERMINAL_STATES, LoginError, LoginState, to_login_error

# Which step each state accepts; anything else is answered with 409 WRONG_STEP.
ALLOWED: dict[LoginState, frozenset[str]] = {
    LoginState.CODE_SENT: frozenset({'verify', 'resend', 'cancel'}),
    LoginState.PASSWORD_REQUIRED: frozenset({'password', 'cancel'}),
    LoginState.QR_PENDING: frozenset({'qr_status', 'cancel'}),
}
WAITING_FOR = {
    LoginState.CODE_SENT: lazy('the login code'),
    LoginState.PASSWORD_REQUIRED: lazy('the two-step verification password'),
    LoginState.QR_PENDING: lazy('the QR code to be scanned'),
}
FINISHED_KEEP_SECONDS = 600.0
CONNECT_TIMEOUT = 30.0
CONNECT_ATTEMPTS = 3  # a fresh connection, and a fresh key exchange, for each
CONNECT_RETRY_SECONDS = 1.0


class LoginStep(BaseModel):
    """Where a login stands; what the API answers and the page renders. Never holds codes or passwords."""

    account_id: str
    status: LoginState
    code_type: str | None = None  # how the code was sent: app, sms, call, flash_call, missed_call, email, ...
    next_type: str | None = None  # how "resend" will send it
    timeout: int | None = None  # seconds until "resend" makes sense
    hint: str | None = None  # 2FA password hint
    url: str | None = None  # tg://login?token=... for the QR image
    expires_at: datetime | None = None  # when the QR token expires
    phone_masked: str | None = None
    display_name: str | None = None
    username: str | None = None
    error_code: str | None = None
    message: str | None = None
    notice: str | None = None  # e.g. that an older pending login was closed to make room for this one


@dataclass
class _Pending:
    account_id: str
    kind: str  # 'code' or 'qr'
    owner: str  # who started it: a token's holder or the dashboard; the cap of pending logins counts per owner
    client: TelegramClient
    state: LoginState
    started: float
    last_activity: float
    phone: str | None = None
    phone_code_hash: str | None = None
    code_type: str | None = None
    next_type: str | None = None
    timeout: int | None = None
    hint: str | None = None
    token: bytes | None = None
    token_expires: datetime | None = None
    qr_event: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    finished_at: float | None = None
    user: types.User | None = None
    error: LoginError | None = None

    def step(self) -> LoginStep:
        user = self.user
        url = None
        if self.token is not None and self.state == LoginState.QR_PENDING:
            url = 'tg://login?token=' + base64.urlsafe_b64encode(self.token).decode().rstrip('=')
        name = ' '.join(p for p in (user.first_name, user.last_name) if p) if user is not None else None
        waiting_for_code = self.state == LoginState.CODE_SENT or (
            self.state == LoginState.PASSWORD_REQUIRED and self.kind == 'code')
        return LoginStep(
            account_id=self.account_id, status=self.state,
            code_type=self.code_type if waiting_for_code else None,
            next_type=self.next_type if self.state == LoginState.CODE_SENT else None,
            timeout=self.timeout if self.state == LoginState.CODE_SENT else None,
            hint=self.hint if self.state == LoginState.PASSWORD_REQUIRED else None, url=url,
            expires_at=self.token_expires if url else None, phone_masked=mask_phone(self.phone),
            display_name=name or None, username=user.username if user is not None else None,
            error_code=self.error.code if self.error else None, message=self.error.message if self.error else None)


def russian_trunk_guess(raw: str) -> str | None:
    """'8 999 664 12 34' is how Russians and Kazakhs write +7 999 664 12 34: the number it probably means, or None
    when the text is not a number written that way."""
    text = unicodedata.normalize('NFKC', raw or '').strip()
    if text.startswith(('+', '00')):
        return None
    digits = re.sub(r'[\s\-().]', '', text)
    return f'+7{digits[1:]}' if re.fullmatch(r'8[0-9]{10}', digits) else None


def normalize_phone(phone: str) -> str:
    # NFKC makes full-width digits ASCII; digits of other scripts stay what they are and are refused, so one
    # phone is one record
    digits = re.sub(r'[\s\-().]', '', unicodedata.normalize('NFKC', phone or ''))
    if digits.startswith('00'):
        digits = digits[2:]
    digits = digits.removeprefix('+')
    if not re.fullmatch(r'[0-9]{5,15}', digits):
        raise LoginError(400, 'PHONE_NUMBER_INVALID',
                         lazy('Enter the phone number in international format with its country code, in the digits '
                              '0-9, e.g. +44 7700 900123.'))
    return digits


def _code_kind(value: object | None) -> str | None:
    if value is None:
        return None
    name = type(value).__name__.removeprefix('SentCodeType').removeprefix('CodeType')
    return re.sub(r'(?<!^)(?=[A-Z])', '_', name).lower() or None


MAX_PENDING = 20  # each pending login holds a Telegram connection open
MAX_PENDING_PER_OWNER = 10
DASHBOARD = 'dashboard'


class LoginService:
    def __init__(self, *, settings: Settings, accounts: AccountManager, pending_ttl: float = 300.0,
                 qr_refresh_margin: float = 5.0, max_pending: int = MAX_PENDING,
                 max_pending_per_owner: int = MAX_PENDING_PER_OWNER) -> None:
        self.settings = settings
        self.accounts = accounts
        self.pending_ttl = pending_ttl
        self.max_pending = max_pending
        self.max_pending_per_owner = max_pending_per_owner
        self.qr_refresh_margin = qr_refresh_margin
        self._pending: dict[str, _Pending] = {}
        self._finished: dict[str, _Pending] = {}
        self._starting: Counter[str] = Counter()  # logins of each owner being started (connecting, sending a code)
        self._tasks: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None
        accounts.on_stop(self.close)

    # ------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Cancel every pending login and close its client (called when the AccountManager stops)."""
        for pending in list(self._pending.values()):
            await self._finish(pending, LoginState.CANCELLED)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._sweeper = None

    def pending_count(self) -> int:
        return len(self._pending)

    def pending_step(self, account_id: str) -> LoginStep | None:
        """Where a login still in progress stands (a reloaded page continues it), or None when it ended."""
        pending = self._pending.get(account_id)
        return pending.step() if pending is not None else None

    def state_of(self, account_id: str) -> LoginState | None:
        """The state of a login still in progress, or None when it ended (or never existed)."""
        pending = self._pending.get(account_id)
        return pending.state if pending is not None else None

    # ------------------------------------------------------------ code login

    async def start(self, phone: str, *, owner: str = DASHBOARD) -> LoginStep:
        phone = normalize_phone(phone)
        self._require_configured()
        account_id = await self.accounts.find_account_id(phone=phone)
        if account_id is not None and self.accounts.is_live(account_id):
            raise LoginError(409, 'ALREADY_LOGGED_IN', lazy('This account is already logged in and connected.'))
        for other in list(self._pending.values()):
            if other.phone == phone:
                await self._finish(other, LoginState.CANCELLED)
        async with self._place(owner) as notes:
            client = await self._connected_client()
            try:
                sent = await client.send_code_request(phone)
            except Exception as exc:
                await _disconnect(client)
                raise self._error(exc, f'sending a code to {mask_phone(phone)}') from None
            now = self._now()
            pending = _Pending(account_id=account_id or _new_id(), kind='code', owner=owner, client=client,
                               state=LoginState.CODE_SENT, started=now, last_activity=now, phone=phone)
            self._apply_sent_code(pending, sent)
            self._pending[pending.account_id] = pending
        self._finished.pop(pending.account_id, None)
        self._ensure_sweeper()
        logger.info('Login {}: code sent to {} via {}', pending.account_id, mask_phone(phone), pending.code_type)
        return pending.step().model_copy(update={'notice': notes[0] if notes else None})

    async def verify(self, account_id: str, code: str) -> LoginStep:
        pending = self._get(account_id, 'verify')
        async with pending.lock:
            self._expect(pending, 'verify')
            code = re.sub(r'[\s\-]', '', code or '')
            if not code:
                raise LoginError(400, 'PHONE_CODE_EMPTY', lazy('Type the code Telegram sent you.'))
            pending.last_activity = self._now()
            try:
                user = await pending.client.sign_in(pending.phone, code, phone_code_hash=pending.phone_code_hash)
            except errors.SessionPasswordNeededError:
                await self._require_password(pending)
                return pending.step()
            except Exception as exc:
                raise await self._fail(pending, exc, 'checking the code') from None
            return await self._authorized(pending, user)

    async def password(self, account_id: str, password: str) -> LoginStep:
        pending = self._get(account_id, 'password')
        async with pending.lock:
            self._expect(pending, 'password')
            if not password:
                raise LoginError(400, 'PASSWORD_EMPTY', lazy('Type the two-step verification password.'))
            pending.last_activity = self._now()
            try:
                user = await pending.client.sign_in(password=password)
            except Exception as exc:
                raise await self._fail(pending, exc, 'checking the password') from None
            return await self._authorized(pending, user)

    async def resend(self, account_id: str) -> LoginStep:
        pending = self._get(account_id, 'resend')
        async with pending.lock:
            self._expect(pending, 'resend')
            pending.last_activity = self._now()
            try:
                sent = await pending.client.send_code_request(pending.phone)
            except Exception as exc:
                raise await self._fail(pending, exc, 'resending the code') from None
            self._apply_sent_code(pending, sent)
            logger.info('Login {}: code resent via {}', account_id, pending.code_type)
            return pending.step()

    async def cancel(self, account_id: str) -> LoginStep:
        finished = self._finished.get(account_id)
        if account_id not in self._pending and finished is not None:
            return finished.step()
        pending = self._get(account_id, 'cancel')
        async with pending.lock:
            if pending.state in TERMINAL_STATES:
                return pending.step()
            if pending.kind == 'code' and pending.state == LoginState.CODE_SENT and pending.phone_code_hash:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pending.client(functions.auth.CancelCodeRequest(
                        pending.phone, pending.phone_code_hash)), timeout=5)
            await self._finish(pending, LoginState.CANCELLED)
            logger.info('Login {} cancelled', account_id)
            return pending.step()

    # ------------------------------------------------------------ QR login

    async def start_qr(self, *, owner: str = DASHBOARD) -> LoginStep:
        self._require_configured()
        async with self._place(owner) as notes:
            client = await self._connected_client()
            now = self._now()
            pending = _Pending(account_id=_new_id(), kind='qr', owner=owner, client=client, state=LoginState.QR_PENDING,
                               started=now, last_activity=now)
            try:
                token = await client(functions.auth.ExportLoginTokenRequest(client.api_id, client.api_hash, []))
            except Exception as exc:
                await _disconnect(client)
                raise self._error(exc, 'creating a QR login') from None
            if not isinstance(token, types.auth.LoginToken):
                await _disconnect(client)
                raise LoginError(502, 'TELEGRAM_ERROR', lazy('Telegram answered the QR login unexpectedly. Try again.'))
            pending.token, pending.token_expires = token.token, token.expires

            async def on_login_token(_update: object) -> None:
                pending.qr_event.set()

            client.add_event_handler(on_login_token, events.Raw(types.UpdateLoginToken))
            self._pending[pending.account_id] = pending
        self._spawn(self._watch_qr(pending), f'qr-{pending.account_id}')
        self._ensure_sweeper()
        logger.info('Login {}: QR code created', pending.account_id)
        return pending.step().model_copy(update={'notice': notes[0] if notes else None})

    @contextlib.asynccontextmanager
    async def _place(self, owner: str) -> AsyncIterator[list[str]]:
        """Hold a place among the pending logins while one starts (so logins started at once cannot pass the cap
        together); when this owner, or everyone, is at the cap, the oldest pending login is closed first. Yields
        the notes for the answer."""
        waiting = sorted(self._pending.values(), key=lambda p: p.started)
        mine = [p for p in waiting if p.owner == owner]
        if len(mine) + self._starting[owner] >= self.max_pending_per_owner:
            candidates, cap = mine, lazy('{count} logins started from one place', count=self.max_pending_per_owner)
        elif len(waiting) + sum(self._starting.values()) >= self.max_pending:
            candidates, cap = waiting, lazy('{count} logins', count=self.max_pending)
        else:
            candidates, cap = None, ''
        if candidates is not None and not candidates:
            raise LoginError(429, 'TOO_MANY_LOGINS', lazy('At most {cap} can wait at once, and that many are being '
                                                          'started right now. Try again in a few seconds.',
                                                          cap=cap), retry_after=5)
        notes: list[str] = []
        self._starting[owner] += 1
        try:
            if candidates:
                oldest = candidates[0]
                self._pending.pop(oldest.account_id, None)  # taken now, so no other start closes it too
                oldest.error = LoginError(409, 'LOGIN_CLOSED', lazy('This login was closed to make room for a newer '
                                                                    'one: at most {cap} can wait at once. Start it '
                                                                    'again.', cap=cap))
                await self._finish(oldest, LoginState.CANCELLED)
                which = mask_phone(oldest.phone) if oldest.phone else lazy('a QR login')
                logger.info('Login {}: closed to make room (at most {} wait at once)', oldest.account_id, cap)
                notes.append(lazy('At most {cap} can wait at once, so the oldest one ({which}) was closed.', cap=cap,
                                  which=which))
            yield notes
        finally:
            self._starting[owner] -= 1

    async def qr_status(self, account_id: str) -> LoginStep:
        pending = self._pending.get(account_id) or self._finished.get(account_id)
        if pending is None:
            raise LoginError(404, 'ACCOUNT_NOT_FOUND', lazy('There is no login with this account_id. Start a new one.'))
        return pending.step()

    async def _watch_qr(self, pending: _Pending) -> None:
        """Wait for the token to be accepted; refresh it shortly before it expires."""
        while pending.state == LoginState.QR_PENDING:
            expires = pending.token_expires
            remaining = (expires - self.accounts.clock.now()).total_seconds() if expires else 30.0
            margin = min(self.qr_refresh_margin, max(remaining, 0) / 3)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pending.qr_event.wait(), timeout=max(remaining - margin, 0.2))
            async with pending.lock:
                if pending.state != LoginState.QR_PENDING:
                    return
                pending.qr_event.clear()
                try:
                    user = await self._export_token(pending)
                except errors.SessionPasswordNeededError:
                    await self._require_password(pending)
                    return
                except Exception as exc:
                    error, state = to_login_error(exc)
                    pending.error = error
                    logger.info('Login {}: QR login failed: {}', pending.account_id, error.code)
                    await self._finish(pending, state or LoginState.FAILED)
                    return
                if user is not None:
                    with contextlib.suppress(LoginError):
                        await self._authorized(pending, user)
                    return

    async def _export_token(self, pending: _Pending) -> types.User | None:
        """Ask for the token again: a fresh token while nobody accepted it, the authorization once somebody did."""
        client = pending.client
        result = await client(functions.auth.ExportLoginTokenRequest(client.api_id, client.api_hash, []))
        if isinstance(result, types.auth.LoginTokenMigrateTo):
            await client._switch_dc(result.dc_id)
            result = await client(functions.auth.ImportLoginTokenRequest(result.token))
        if isinstance(result, types.auth.LoginToken):
            pending.token, pending.token_expires = result.token, result.expires
            return None
        if isinstance(result, types.auth.LoginTokenSuccess):
            user = result.authorization.user
            await client._on_login(user)
            return user
        raise LoginError(502, 'TELEGRAM_ERROR', lazy('Telegram answered the QR login unexpectedly. Start again.'))

    # ------------------------------------------------------------ transitions

    async def _require_password(self, pending: _Pending) -> None:
        pending.state = LoginState.PASSWORD_REQUIRED
        pending.last_activity = self._now()
        try:
            info = await pending.client(functions.account.GetPasswordRequest())
            pending.hint = info.hint or None
        except Exception as exc:  # the hint is a courtesy; the password step works without it
            logger.info('Login {}: could not read the password hint ({})', pending.account_id, type(exc).__name__)
        logger.info('Login {}: two-step verification password required', pending.account_id)

    async def _authorized(self, pending: _Pending, user: types.User) -> LoginStep:
        pending.user = user
        try:
            account_id = await self.accounts.adopt(pending.account_id, pending.client, user)
        except Exception as exc:
            logger.exception('Login {}: storing the authorized account failed', pending.account_id)
            pending.error = LoginError(503, 'STORAGE_ERROR', lazy('Logged in, but the account could not be saved. '
                                                                  'Check the database and log in again.'))
            await self._finish(pending, LoginState.FAILED)
            raise pending.error from exc
        self._pending.pop(pending.account_id, None)
        step_id = pending.account_id
        pending.account_id = account_id
        pending.state = LoginState.AUTHORIZED
        pending.finished_at = self._now()
        self._finished[step_id] = pending
        self._finished[account_id] = pending
        return pending.step()

    async def _fail(self, pending: _Pending, exc: BaseException, doing: str) -> LoginError:
        error, state = to_login_error(exc)
        logger.info('Login {}: {} failed: {}', pending.account_id, doing, error.code)
        if state == LoginState.PASSWORD_REQUIRED:
            await self._require_password(pending)
        elif state is not None and state in TERMINAL_STATES:
            pending.error = error
            await self._finish(pending, state)
        return error

    async def _finish(self, pending: _Pending, state: LoginState) -> None:
        """Move to a terminal state (not authorized) and close the client."""
        pending.state = state
        pending.finished_at = self._now()
        self._pending.pop(pending.account_id, None)
        self._finished[pending.account_id] = pending
        await _disconnect(pending.client)

    # ------------------------------------------------------------ helpers

    def _get(self, account_id: str, action: str) -> _Pending:
        pending = self._pending.get(account_id)
        if pending is not None:
            return pending
        finished = self._finished.get(account_id)
        if finished is not None and finished.state == LoginState.EXPIRED:
            minutes = max(1, round(self.pending_ttl / 60))
            raise LoginError(404, 'LOGIN_EXPIRED', lazy('This login expired after {minutes} min without an answer. '
                                                        'Start again.', minutes=minutes))
        if finished is not None and finished.state == LoginState.AUTHORIZED:
            raise LoginError(409, 'ALREADY_AUTHORIZED', lazy('This login is already complete.'))
        if finished is not None and finished.state == LoginState.CANCELLED:
            raise LoginError(404, 'LOGIN_CANCELLED', lazy('This login was cancelled. Start again.'))
        if finished is not None and finished.error is not None:
            raise LoginError(finished.error.status, finished.error.code, finished.error.message)
        raise LoginError(404, 'ACCOUNT_NOT_FOUND', lazy('There is no login in progress with this account_id. Start '
                                                        'with /auth/start or /auth/qr.'))

    @staticmethod
    def _expect(pending: _Pending, action: str) -> None:
        if action not in ALLOWED.get(pending.state, frozenset()):
            waiting = WAITING_FOR.get(pending.state)
            raise LoginError(409, 'WRONG_STEP', lazy('This login waits for {step}.', step=waiting) if waiting
                             else lazy('This login is {state}.', state=pending.state.value))

    def _require_configured(self) -> None:
        if not self.settings.telegram_configured:
            raise LoginError(503, 'TELEGRAM_NOT_CONFIGURED', str(TelegramNotConfigured()))

    def _new_client(self) -> TelegramClient:
        # a login's requests are paced and counted under a key of their own until the account adopts the client
        return make_client(self.settings, door=self.accounts.door, door_key=f'login-{_new_id()}')

    async def _connected_client(self) -> TelegramClient:
        try:
            client = self._new_client()
        except TelegramNotConfigured as exc:
            raise LoginError(503, 'TELEGRAM_NOT_CONFIGURED', str(exc)) from None
        attempt = 1
        while True:
            try:
                await asyncio.wait_for(client.connect(), timeout=CONNECT_TIMEOUT)
                return client
            except Exception as exc:
                await _disconnect(client)
                # a dropped connection or a refused key exchange is worth another try; a timeout already waited
                retry = isinstance(exc, OSError | EOFError) and not isinstance(exc, TimeoutError)
                if not retry or attempt == CONNECT_ATTEMPTS:
                    raise self._error(exc, 'connecting to Telegram') from None
            logger.info('Login: connecting to Telegram failed; trying again')
            await asyncio.sleep(CONNECT_RETRY_SECONDS)
            client, attempt = self._new_client(), attempt + 1

    @staticmethod
    def _error(exc: BaseException, doing: str) -> LoginError:
        error, _ = to_login_error(exc)
        logger.info('Login: {} failed: {}', doing, error.code)
        return error

    @staticmethod
    def _apply_sent_code(pending: _Pending, sent: object) -> None:
        pending.phone_code_hash = getattr(sent, 'phone_code_hash', None) or pending.phone_code_hash
        pending.code_type = _code_kind(getattr(sent, 'type', None))
        pending.next_type = _code_kind(getattr(sent, 'next_type', None))
        pending.timeout = getattr(sent, 'timeout', None)

    def _ensure_sweeper(self) -> None:
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = self._spawn(self._sweep_loop(), 'login-expiry')

    async def _sweep_loop(self) -> None:
        interval = max(0.2, min(self.pending_ttl / 4, 5.0))
        while True:
            await asyncio.sleep(interval)
            now = self._now()
            for pending in list(self._pending.values()):
                last = pending.started if pending.kind == 'qr' and pending.state == LoginState.QR_PENDING \
                    else pending.last_activity
                if now - last >= self.pending_ttl and not pending.lock.locked():
                    pending.error = LoginError(404, 'LOGIN_EXPIRED', lazy('This login expired. Start again.'))
                    await self._finish(pending, LoginState.EXPIRED)
                    logger.info('Login {} expired', pending.account_id)
            for key, done in list(self._finished.items()):
                if done.finished_at is not None and now - done.finished_at > FINISHED_KEEP_SECONDS:
                    self._finished.pop(key, None)

    def _now(self) -> float:
        return self.accounts.clock.monotonic()  # how long a login has been idle, by the accounts' clock

    def _spawn(self, coro, name: str) -> asyncio.Task:
        # This package does not import nicegui, so it keeps its own strong task references.
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _new_id() -> str:
    return uuid.uuid4().hex


async def _disconnect(client: TelegramClient) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.disconnect(), timeout=10)

