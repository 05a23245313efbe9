"""How fast each account may call Telegram: a token bucket per account and method class, shared by every job,
API call and page of that account, with a daily budget where Telegram counts one (username resolves).

The defaults are safe for the real Telegram (see Settings); they stay the same against a test server.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from app.db.models import utcnow
from app.i18n import lazy

if TYPE_CHECKING:
    from app.clock import Clock
    from app.config import Settings

DAY = 86_400.0
MAX_CHANNELS_PER_ACCOUNT = 500  # Telegram's cap on the channels one account can be a member of
# A resolve leaves our daily window this much later than Telegram's, so the answer's travel time never lets a
# call in that Telegram still counts in yesterday's budget.
DAY_MARGIN = 120.0


class MethodClass(StrEnum):
    HISTORY = 'history'
    RESOLVE = 'resolve'
    JOIN = 'join'
    FULL_CHANNEL = 'full_channel'
    VIEWS = 'views'
    FILES = 'files'
    DIALOGS = 'dialogs'
    CHANNELS = 'channels'  # channels.getChannels: a look-up by a known access hash
    UPDATES = 'updates'  # getState and the differences Telethon asks for after a reconnect
    ACCOUNT = 'account'  # the account's own profile and settings
    LOGIN = 'login'  # auth.*: codes, passwords, QR tokens, log-out
    SEND = 'send'  # messages the account sends: alert digests to its own Saved Messages
    OTHER = 'other'  # any request not in the door's table: paced conservatively


# What each class is called on the Accounts page and in the errors that name it.
CLASS_LABELS = {MethodClass.HISTORY: lazy('history'), MethodClass.RESOLVE: lazy('resolve'),
                MethodClass.JOIN: lazy('join'), MethodClass.FULL_CHANNEL: lazy('full channel'),
                MethodClass.VIEWS: lazy('views'), MethodClass.FILES: lazy('files'),
                MethodClass.DIALOGS: lazy('dialogs'), MethodClass.CHANNELS: lazy('channel look-ups'),
                MethodClass.UPDATES: lazy('updates'), MethodClass.ACCOUNT: lazy('profile'),
                MethodClass.LOGIN: lazy('log-in'), MethodClass.SEND: lazy('messages sent'),
                MethodClass.OTHER: lazy('other requests')}


def class_label(kind: str) -> Any:
    try:
        return CLASS_LABELS[MethodClass(kind)]
    except ValueError:
        return kind.replace('_', ' ')


@dataclass(frozen=True)
class Budget:
    per_second: float  # sustained calls a second
    burst: int = 1  # calls that may go at once after a quiet spell
    per_day: int | None = None  # calls in any 24 hours

    def __post_init__(self) -> None:
        if not self.per_second > 0 or self.burst < 1 or (self.per_day is not None and self.per_day < 1):
            raise ValueError('a budget needs a positive rate, a burst of at least 1 and a daily count of at least 1')


DEFAULT_BUDGETS: dict[MethodClass, Budget] = {
    MethodClass.HISTORY: Budget(per_second=1.0, burst=3),
    MethodClass.RESOLVE: Budget(per_second=1 / 15, burst=5, per_day=200),
    MethodClass.JOIN: Budget(per_second=1 / 60, burst=1),
    MethodClass.FULL_CHANNEL: Budget(per_second=1 / 6, burst=5),
    MethodClass.VIEWS: Budget(per_second=0.5, burst=5),
    MethodClass.FILES: Budget(per_second=4.8, burst=8),
    MethodClass.DIALOGS: Budget(per_second=1 / 10, burst=3),
    MethodClass.CHANNELS: Budget(per_second=1.0, burst=5),
    MethodClass.UPDATES: Budget(per_second=2.0, burst=20),
    MethodClass.ACCOUNT: Budget(per_second=0.5, burst=5),
    MethodClass.LOGIN: Budget(per_second=0.5, burst=5),
    MethodClass.SEND: Budget(per_second=0.5, burst=2),  # Telegram allows about one message a second in a chat
    MethodClass.OTHER: Budget(per_second=0.5, burst=2),
}


class BudgetSpent(Exception):
    """The day's budget of a method class is spent; the next call fits at `retry_at`."""

    def __init__(self, kind: MethodClass, retry_at: datetime, retry_in: float) -> None:
        super().__init__(f'the daily budget of {kind.value} requests is spent until {retry_at:%Y-%m-%d %H:%M} UTC')
        self.kind = kind
        self.retry_at = retry_at
        self.retry_in = retry_in


@dataclass
class _Bucket:
    budget: Budget
    tokens: float
    updated: float
    day: deque = field(default_factory=deque)
    calls: deque = field(default_factory=lambda: deque(maxlen=10_000))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class RequestLimiter:
    def __init__(self, budgets: dict[MethodClass, Budget] | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 wall: Callable[[], datetime] = utcnow) -> None:
        self.budgets = DEFAULT_BUDGETS | (budgets or {})
        self.clock = clock
        self.sleep = sleep
        self.wall = wall  # the time of day the daily budgets are told in
        self._buckets: dict[tuple[str, MethodClass], _Bucket] = {}

    @classmethod
    def on(cls, clock: Clock, budgets: dict[MethodClass, Budget] | None = None) -> RequestLimiter:
        """A limiter that paces and tells the day by `clock` (a test's moves by hand)."""
        return cls(budgets, clock=clock.monotonic, sleep=clock.sleep, wall=clock.now)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> RequestLimiter:
        budgets = DEFAULT_BUDGETS | {
            MethodClass.HISTORY: Budget(per_second=settings.history_requests_per_second,
                                        burst=settings.history_burst),
            MethodClass.RESOLVE: Budget(per_second=1 / settings.resolve_interval_seconds, burst=5,
                                        per_day=settings.resolves_per_day),
            MethodClass.JOIN: Budget(per_second=1 / settings.join_interval_seconds, burst=1),
            MethodClass.FILES: Budget(per_second=settings.file_parts_per_second, burst=settings.file_burst),
        }
        scale = settings.request_pace_scale
        scaled = {kind: replace(b, per_second=b.per_second * scale) for kind, b in budgets.items()}
        return cls.on(clock, scaled) if clock is not None else cls(scaled)

    def set_budget(self, kind: MethodClass, budget: Budget) -> None:
        """Change a class's budget for every account from the next call on."""
        self.budgets[kind] = budget
        for (_, bucket_kind), bucket in self._buckets.items():
            if bucket_kind == kind:
                bucket.budget = budget
                bucket.tokens = min(bucket.tokens, float(budget.burst))

    def _bucket(self, account_id: str, kind: MethodClass) -> _Bucket:
        key = (account_id, kind)
        bucket = self._buckets.get(key)
        if bucket is None:
            budget = self.budgets[kind]
            bucket = self._buckets[key] = _Bucket(budget=budget, tokens=float(budget.burst), updated=self.clock())
        return bucket

    async def acquire(self, account_id: str, kind: MethodClass) -> None:
        """Wait for this account's next `kind` call to fit; raise BudgetSpent when today's budget is gone."""
        bucket = self._bucket(account_id, kind)
        async with bucket.lock:
            while True:
                now = self.clock()
                budget = bucket.budget
                self._check_day(bucket, kind, now)
                bucket.tokens = min(float(budget.burst), bucket.tokens + (now - bucket.updated) * budget.per_second)
                bucket.updated = now
                if bucket.tokens >= 1.0:
                    bucket.tokens -= 1.0
                    bucket.calls.append(now)
                    if budget.per_day is not None:
                        bucket.day.append(now)
                    return
                await self.sleep((1.0 - bucket.tokens) / budget.per_second)

    @staticmethod
    def _calls_today(bucket: _Bucket, now: float) -> int:
        """Drop the calls that have left the daily window; the number still in it."""
        while bucket.day and bucket.day[0] <= now - DAY - DAY_MARGIN:
            bucket.day.popleft()
        return len(bucket.day)

    def _check_day(self, bucket: _Bucket, kind: MethodClass, now: float) -> None:
        per_day = bucket.budget.per_day
        if per_day is None:
            return
        if self._calls_today(bucket, now) >= per_day:
            free_in = bucket.day[0] + DAY + DAY_MARGIN - now
            raise BudgetSpent(kind, self.wall() + timedelta(seconds=free_in), free_in)

    def restore(self, account_id: str, kind: MethodClass, times: list[datetime]) -> None:
        """Count calls made before a restart (wall-clock times) in today's budget."""
        bucket = self._bucket(account_id, kind)
        now, wall = self.clock(), self.wall()
        known = set(bucket.day)
        for at in sorted(times):
            moment = now - (wall - at).total_seconds()
            if moment > now - DAY - DAY_MARGIN and moment not in known:
                bucket.day.append(moment)
                bucket.calls.append(moment)
        bucket.day = deque(sorted(bucket.day))

    def free_times(self, account_id: str, kind: MethodClass, count: int) -> list[datetime]:
        """When each of the next `count` calls fits in the daily budget (now, or as older calls leave the day)."""
        per_day = self.budgets[kind].per_day
        wall = self.wall()
        if per_day is None:
            return [wall] * count
        bucket = self._buckets.get((account_id, kind))
        now = self.clock()
        if bucket is not None:
            self._calls_today(bucket, now)
        day = list(bucket.day) if bucket is not None else []
        times = [wall] * max(0, per_day - len(day))
        for moment in day:  # each call in the window frees its slot a day after it was made
            times.append(wall + timedelta(seconds=moment + DAY + DAY_MARGIN - now))
        while len(times) < count:  # beyond one day's budget: the same slots a day later
            times.append(times[len(times) - per_day] + timedelta(seconds=DAY + DAY_MARGIN))
        return times[:count]

    # ---- what the accounts page shows ---------------------------------------------------------------

    def left_today(self, account_id: str, kind: MethodClass = MethodClass.RESOLVE) -> int | None:
        per_day = self.budgets[kind].per_day
        if per_day is None:
            return None
        bucket = self._buckets.get((account_id, kind))
        if bucket is None:
            return per_day
        return max(0, per_day - self._calls_today(bucket, self.clock()))

    def calls_by_minute(self, account_id: str) -> list[dict[str, Any]]:
        """This account's calls of the last hour, counted per minute of the wall clock (to keep over a restart)."""
        now, wall = self.clock(), self.wall()
        counts: dict[datetime, int] = {}
        for (acc, _kind), bucket in self._buckets.items():
            if acc != account_id:
                continue
            for moment in bucket.calls:
                if moment > now - 3600:
                    at = (wall - timedelta(seconds=now - moment)).replace(second=0, microsecond=0)
                    counts[at] = counts.get(at, 0) + 1
        return [{'at': at, 'n': n} for at, n in sorted(counts.items())]

    def restore_recent(self, account_id: str, minutes: list[dict[str, Any]]) -> None:
        """Count the calls of the last hour made before a restart (only the counts shown; pacing starts afresh)."""
        bucket = self._bucket(account_id, MethodClass.OTHER)
        now, wall = self.clock(), self.wall()
        for minute in minutes:
            at, n = minute.get('at'), int(minute.get('n') or 0)
            if not isinstance(at, datetime):
                continue
            moment = now - (wall - (at if at.tzinfo else at.replace(tzinfo=UTC))).total_seconds()
            if moment > now - 3600:
                bucket.calls.extend([moment] * n)
        bucket.calls = deque(sorted(bucket.calls), maxlen=bucket.calls.maxlen)

    def recent_calls(self, account_id: str) -> dict[str, int]:
        """Calls this account made in the last minute and the last hour, over every method class."""
        now = self.clock()
        times = [t for (acc, _), bucket in self._buckets.items() if acc == account_id for t in bucket.calls]
        return {'minute': sum(1 for t in times if t > now - 60), 'hour': sum(1 for t in times if t > now - 3600)}
