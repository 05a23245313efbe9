"""The one door to Telegram: every request of every client the app makes passes through `TelegramDoor.send`.

`DoorClient` is the only TelegramClient the app builds (client_factory); it hands every request Telethon sends —
the app's own, and those Telethon makes by itself (`GetState`, `catch_up`'s differences, each page of
`iter_dialogs`, the calls behind `sign_in`) — to the door, which, per account ("key") and method class:

1. classifies the request by its TL type (`REQUEST_CLASSES`; a type not in the table is `OTHER`, paced
   conservatively);
2. refuses at once while a FloodWait stored for that class lasts (`StoredFloodWait`, a FloodWaitError with the
   seconds left), so a wait outlives a restart and a log-out and in;
3. waits for that class's token bucket (`RequestLimiter`; a daily class is also recorded, so it survives restarts);
4. counts the request, sends it, and stores every FloodWait Telegram answers for that account and class.

The caller decides what a FloodWait means: a job waits and goes on, an API request answers 429.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from telethon import TelegramClient, errors, functions
from telethon.tl.tlobject import TLRequest

from app.clock import Clock, SystemClock
from app.mtproto.limits import MethodClass, RequestLimiter

C = MethodClass
REQUEST_CLASSES: dict[type[TLRequest], MethodClass] = {
    functions.messages.GetHistoryRequest: C.HISTORY,
    functions.messages.GetMessagesRequest: C.HISTORY,
    functions.channels.GetMessagesRequest: C.HISTORY,
    functions.messages.SearchRequest: C.HISTORY,
    functions.messages.GetRepliesRequest: C.HISTORY,
    functions.contacts.ResolveUsernameRequest: C.RESOLVE,
    functions.messages.CheckChatInviteRequest: C.RESOLVE,
    functions.messages.ImportChatInviteRequest: C.JOIN,
    functions.channels.JoinChannelRequest: C.JOIN,
    functions.channels.GetFullChannelRequest: C.FULL_CHANNEL,
    functions.channels.GetChannelsRequest: C.CHANNELS,
    functions.messages.GetMessagesViewsRequest: C.VIEWS,
    functions.upload.GetFileRequest: C.FILES,
    functions.upload.GetFileHashesRequest: C.FILES,
    functions.messages.GetDialogsRequest: C.DIALOGS,
    functions.messages.GetPeerDialogsRequest: C.DIALOGS,
    functions.messages.GetDialogFiltersRequest: C.DIALOGS,
    functions.messages.GetPinnedDialogsRequest: C.DIALOGS,
    functions.updates.GetStateRequest: C.UPDATES,
    functions.updates.GetDifferenceRequest: C.UPDATES,
    functions.updates.GetChannelDifferenceRequest: C.UPDATES,
    functions.users.GetUsersRequest: C.ACCOUNT,
    functions.users.GetFullUserRequest: C.ACCOUNT,
    functions.account.GetPasswordRequest: C.ACCOUNT,
    functions.help.GetConfigRequest: C.ACCOUNT,
    functions.auth.SendCodeRequest: C.LOGIN,
    functions.auth.ResendCodeRequest: C.LOGIN,
    functions.auth.CancelCodeRequest: C.LOGIN,
    functions.auth.SignInRequest: C.LOGIN,
    functions.auth.CheckPasswordRequest: C.LOGIN,
    functions.auth.ExportLoginTokenRequest: C.LOGIN,
    functions.auth.ImportLoginTokenRequest: C.LOGIN,
    functions.auth.LogOutRequest: C.LOGIN,
    functions.messages.SendMessageRequest: C.SEND,
}


def classify(request: TLRequest) -> MethodClass:
    return REQUEST_CLASSES.get(type(request), MethodClass.OTHER)


def request_name(request: TLRequest) -> str:
    """`messages.getHistory` for functions.messages.GetHistoryRequest: the method's name in Telegram's schema."""
    cls = type(request)
    name = cls.__name__.removesuffix('Request')
    namespace = cls.__module__.rsplit('.', 1)[-1]
    name = name[:1].lower() + name[1:]
    return name if namespace == 'functions' else f'{namespace}.{name}'


class StoredFloodWait(errors.FloodWaitError):
    """Refused before sending: Telegram's FloodWait on this account's `kind` requests still lasts `seconds`."""

    def __init__(self, request: TLRequest, seconds: int, kind: MethodClass) -> None:
        super().__init__(request=request, capture=seconds)
        self.kind = kind


class FloodWaits(Protocol):
    """Where FloodWaits are kept beyond this process (the AccountManager, per account and class)."""

    def flood_wait_until(self, account_id: str, kind: str | None = None) -> datetime | None: ...

    async def note_flood_wait(self, account_id: str, seconds: int, kind: str | None = None) -> bool:
        """Store the wait; False when no account is stored under `account_id`."""


RecordCall = Callable[..., Awaitable[Any]]


class TelegramDoor:
    def __init__(self, limiter: RequestLimiter, *, record_call: RecordCall | None = None,
                 clock: Clock | None = None) -> None:
        self.limiter = limiter
        self.clock = clock or SystemClock()
        self.record_call = record_call
        self.floods: FloodWaits | None = None
        # (key, class, method name) → requests Telegram answered, and requests that got no answer
        self.sent: Counter[tuple[str, MethodClass, str]] = Counter()
        self.unanswered: Counter[tuple[str, MethodClass, str]] = Counter()
        self._waits: dict[tuple[str, MethodClass], datetime] = {}  # keys no account record holds (logins)

    def wait_until(self, key: str, kind: MethodClass) -> datetime | None:
        now = self.clock.now()
        stored = self.floods.flood_wait_until(key, kind) if self.floods is not None else None
        mine = self._waits.get((key, kind))
        active = [until for until in (stored, mine) if until is not None and until > now]
        return max(active) if active else None

    async def send(self, whose: Callable[[], str], request: TLRequest, call: Callable[[], Awaitable[Any]]) -> Any:
        """Send `request` for the key `whose()` names. It is asked again after each wait: a login's client
        becomes an account's (`rekey`) while a request of it waits for its turn, and the request then counts
        for the account, where Telegram counts it too."""
        kind = classify(request)
        until = self.wait_until(whose(), kind)
        if until is not None:
            raise StoredFloodWait(request, max(1, round((until - self.clock.now()).total_seconds())), kind)
        await self.limiter.acquire(whose(), kind)
        per_day = self.limiter.budgets[kind].per_day
        if per_day is not None and self.record_call is not None:
            await self.record_call(account_id=whose(), kind=kind.value, at=self.clock.now(), keep=per_day)
        name = request_name(request)
        try:
            result = await call()
        except errors.RPCError as error:  # Telegram answered: the request reached it
            self.sent[(whose(), kind, name)] += 1
            if isinstance(error, errors.FloodWaitError):
                await self.note(whose(), error.seconds, kind)
                error.kind = kind  # what it holds back, for the message that tells of it
            raise
        except BaseException:  # no answer (a dropped connection, a cancelled task): it may not have reached Telegram
            self.unanswered[(whose(), kind, name)] += 1
            raise
        self.sent[(whose(), kind, name)] += 1
        return result

    async def note(self, key: str, seconds: int, kind: MethodClass) -> None:
        kept = self.floods is not None and await self.floods.note_flood_wait(key, seconds, kind)
        if not kept:  # a login's client, before it is an account's: remembered here, moved over by rekey()
            self._waits[(key, kind)] = self.clock.now() + timedelta(seconds=max(int(seconds), 0))

    def sent_by(self, key: str) -> Counter[str]:
        """Requests `key` sent that Telegram answered, by method name."""
        return Counter({name: count for (sent_key, _, name), count in self.sent.items() if sent_key == key})

    def unanswered_by(self, key: str) -> Counter[str]:
        """Requests of `key` that got no answer (they may or may not have reached Telegram), by method name."""
        return Counter({name: count for (sent_key, _, name), count in self.unanswered.items() if sent_key == key})

    def sent_by_class(self, key: str) -> Counter[MethodClass]:
        """Requests `key` sent, by method class."""
        by_class: Counter[MethodClass] = Counter()
        for (sent_key, kind, _), count in self.sent.items():
            if sent_key == key:
                by_class[kind] += count
        return by_class

    def rekey(self, old: str, new: str) -> None:
        """A login's client became an account's: what it sent and must wait for is the account's now."""
        for counter in (self.sent, self.unanswered):
            for (key, kind, name), count in list(counter.items()):
                if key == old:
                    counter[(new, kind, name)] += count
                    del counter[(key, kind, name)]
        for (key, kind), until in list(self._waits.items()):
            if key == old:
                self._waits[(new, kind)] = max(until, self._waits.get((new, kind), until))
                del self._waits[(key, kind)]


class _Forgetful(dict):
    """Telethon's own memory of FloodWaits, disabled: the door keeps them, per class and beyond a restart."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


class DoorClient(TelegramClient):
    """A TelegramClient whose every request goes through a TelegramDoor under `door_key` (an account's id)."""

    def __init__(self, *args: Any, door: TelegramDoor, door_key: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.door = door
        self.door_key = door_key
        self._flood_waited_requests = _Forgetful()

    async def _call(self, sender: Any, request: Any, ordered: bool = False,
                    flood_sleep_threshold: int | None = None) -> Any:
        call = super()._call
        if isinstance(request, list | tuple):  # a batch goes through the door one request at a time
            return [await self._call(sender, item, ordered, flood_sleep_threshold) for item in request]
        return await self.door.send(lambda: self.door_key, request,
                                    lambda: call(sender, request, ordered, flood_sleep_threshold))

