"""The World's records: users, channels with their message store, login codes and QR tokens."""

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime

from telethon.tl import types

from .srp import Challenge, PasswordRecord

# The generated (unpatched) Message class: same wire format, without the client-side conveniences.
RawMessage = next(c for c in types.Message.__mro__ if c.__module__ == 'telethon.tl.types' and c.__name__ == 'Message')


class StoredMessage(RawMessage):
    """A stored message serializes once: pages of history reuse the wire bytes (messages are never mutated)."""

    def _bytes(self) -> bytes:
        wire = self.__dict__.get('_wire')
        if wire is None:
            wire = self.__dict__['_wire'] = RawMessage._bytes(self)
        return wire

    def copy(self, **changes) -> 'StoredMessage':
        clone = StoredMessage.__new__(StoredMessage)
        clone.__dict__.update({k: v for k, v in self.__dict__.items() if k != '_wire'}, **changes)
        return clone


RawMessageEmpty = next(c for c in types.MessageEmpty.__mro__
                       if c.__module__ == 'telethon.tl.types' and c.__name__ == 'MessageEmpty')


@dataclass
class FolderRec:
    """A chat folder (dialog filter): Telegram numbers them from 2 (0 is "All chats", 1 the archive)."""
    id: int
    title: str
    channel_ids: list[int]
    emoticon: str | None = None


@dataclass
class UserRec:
    id: int
    phone: str
    first_name: str
    last_name: str = ''
    username: str | None = None
    password: PasswordRecord | None = None
    challenge: Challenge | None = None
    folders: list[FolderRec] = field(default_factory=list)


@dataclass
class Event:
    pts: int
    kind: str  # 'new', 'edit' or 'delete'
    ids: list[int]
    pts_count: int
    ts: int


@dataclass
class ChannelRec:
    id: int
    title: str
    date: datetime
    username: str | None = None
    private: bool = False
    about: str = ''
    megagroup: bool = False
    invite_hash: str = ''
    photo_id: int = 0
    linked_chat_id: int | None = None
    extra_participants: int = 0
    members: set[int] = field(default_factory=set)
    by_id: list = field(default_factory=lambda: [None])
    ids: list[int] = field(default_factory=list)
    dates: list[int] = field(default_factory=list)
    lower: dict[int, str] = field(default_factory=dict)
    pts: int = 1
    log: list[Event] = field(default_factory=list)
    log_floor: int = 1
    last_event_ts: int = 0
    hidden: set[int] = field(default_factory=set)  # left out of history pages, found by id (see hide_from_history)
    # a discussion group's threads: channel post id → its copy here, the copy → the post, the copy → its comments
    threads: dict[int, int] = field(default_factory=dict)
    threads_by_top: dict[int, int] = field(default_factory=dict)
    comments: dict[int, list[int]] = field(default_factory=dict)

    @property
    def participants_count(self) -> int:
        return self.extra_participants + len(self.members)

    @property
    def top_id(self) -> int:
        return self.ids[-1] if self.ids else 0

    def message(self, message_id: int):
        if 0 < message_id < len(self.by_id):
            return self.by_id[message_id]
        return None

    def store(self, message) -> None:
        """Appends a new message (ids and dates only grow) or replaces an existing one."""
        if message.id == len(self.by_id):
            self.by_id.append(message)
            self.ids.append(message.id)
            self.dates.append(int(message.date.timestamp()))
        else:
            self.by_id[message.id] = message
        self.lower[message.id] = (getattr(message, 'message', '') or '').lower()  # a service message has no text

    def remove(self, message_id: int) -> bool:
        if self.message(message_id) is None:
            return False
        self.by_id[message_id] = None
        self.lower.pop(message_id, None)
        index = bisect_left(self.ids, message_id)
        del self.ids[index]
        del self.dates[index]
        return True

    def events_after(self, pts: int) -> list[Event]:
        return self.log[_bisect_events(self.log, pts):]


def _bisect_events(log: list[Event], pts: int) -> int:
    lo, hi = 0, len(log)
    while lo < hi:
        mid = (lo + hi) // 2
        if log[mid].pts <= pts:
            lo = mid + 1
        else:
            hi = mid
    return lo


def window(ids: list[int], dates: list[int], *, offset_id: int, offset_date: int, add_offset: int,
           limit: int) -> list[int]:
    """Telegram's history paging over ascending ids: newest first, starting below offset_id (or before
    offset_date when offset_id is 0), shifted by add_offset (negative = towards newer), at most limit ids."""
    n = len(ids)
    if offset_id:
        below = bisect_left(ids, offset_id)
    elif offset_date:
        below = bisect_left(dates, offset_date)
    else:
        below = n
    start = max(0, n - below + add_offset)
    end = min(n, n - below + add_offset + limit)
    if start >= end:
        return []
    return ids[n - end:n - start][::-1]


@dataclass
class GroupRec:
    """A basic group: resolvable and joinable by invite, so clients can tell it is not a channel."""

    id: int
    title: str
    date: datetime
    invite_hash: str
    members: set[int] = field(default_factory=set)


@dataclass
class CodeRec:
    phone: str
    code: str
    phone_code_hash: str
    created: float
    expires: float
    cancelled: bool = False
    used: bool = False


@dataclass
class QrToken:
    token: bytes
    auth_key_id: int
    client: object
    expires: float
    accepted_by: int | None = None
