"""Telegram's request limits: a token bucket (and a daily budget where Telegram has one) per user and method.

A call over the limit is answered FLOOD_WAIT_X, as Telegram does: X seconds during which every call of that
method by that user gets FLOOD_WAIT with the seconds still left, while the user's other methods go on. A user
who trips the same limit again within `strike_window` waits twice as long each time, up to `max_wait`.

The realistic figures are the published ones (see TELEGRAM_LIMITS in the project's docs): about one history page
a second, some 200 username resolves a day with long waits for bursts, joins a few per several minutes.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

DAY = 86_400.0


@dataclass(frozen=True)
class MethodLimit:
    rate: float  # calls a second, sustained
    burst: int  # calls that may come at once after a quiet spell
    wait: int  # seconds of the first FLOOD_WAIT for going over the rate
    max_wait: int = 86_400
    daily: int | None = None  # calls per rolling 24 hours, where Telegram counts them
    group: str | None = None  # methods that share one bucket (joining by username and by invite)

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError('rate must be a positive number of calls a second')
        if self.burst < 1 or self.wait < 1 or self.max_wait < self.wait:
            raise ValueError('burst and wait must be at least 1, and max_wait at least wait')
        if self.daily is not None and self.daily < 1:
            raise ValueError('daily must be at least 1')


REALISTIC: dict[str, MethodLimit] = {
    'messages.getHistory': MethodLimit(rate=1.0, burst=10, wait=30, max_wait=3_600),
    'contacts.resolveUsername': MethodLimit(rate=0.1, burst=20, wait=54_000, daily=200),
    'channels.joinChannel': MethodLimit(rate=1 / 60, burst=5, wait=300, group='join'),
    'messages.importChatInvite': MethodLimit(rate=1 / 60, burst=5, wait=300, group='join'),
    'messages.getDialogs': MethodLimit(rate=0.2, burst=10, wait=30),
    'channels.getFullChannel': MethodLimit(rate=0.2, burst=20, wait=30),
    'messages.getMessagesViews': MethodLimit(rate=1.0, burst=10, wait=30),
    'channels.getMessages': MethodLimit(rate=1.0, burst=10, wait=30),  # by id, 100 a call: as history
    'upload.getFile': MethodLimit(rate=5.0, burst=50, wait=30),
    'messages.sendMessage': MethodLimit(rate=1.0, burst=5, wait=10),  # about one a second in one chat
}

PROFILES = {'realistic': REALISTIC, 'off': {}}


def limit_from_json(data: Any, base: MethodLimit | None = None) -> MethodLimit:
    if not isinstance(data, dict):
        raise ValueError('a method limit is an object with rate, burst, wait, max_wait, daily, group')
    unknown = set(data) - {'rate', 'burst', 'wait', 'max_wait', 'daily', 'group'}
    if unknown:
        raise ValueError(f'unknown limit field(s): {", ".join(sorted(unknown))}')
    if base is None:
        missing = {'rate', 'burst', 'wait'} - set(data)
        if missing:
            raise ValueError(f'a new method limit needs {", ".join(sorted(missing))}')
        fields = {'max_wait': max(86_400, int(data['wait']))} | data
        return MethodLimit(**fields)
    return replace(base, **data)


@dataclass
class _Bucket:
    tokens: float
    updated: float
    blocked_until: float = 0.0
    strikes: int = 0
    last_strike: float = -math.inf
    day: deque = field(default_factory=deque)


@dataclass
class _MethodStats:
    calls: int = 0
    times: deque = field(default_factory=lambda: deque(maxlen=200))


class Limits:
    """The limiter and the call statistics of one DC. Not thread-safe: use it from the DC's loop."""

    strike_window = 3_600.0

    def __init__(self, profile: str = 'off', clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.methods: dict[str, MethodLimit] = {}
        self._buckets: dict[tuple[Any, str], _Bucket] = {}
        self._stats: dict[tuple[Any, str], _MethodStats] = {}
        self._floods: list[dict] = []
        self.use(profile)

    # ---- configuration ----------------------------------------------------------------------------

    def use(self, profile: str, overrides: dict[str, Any] | None = None) -> None:
        if profile not in PROFILES:
            raise ValueError(f'unknown limits profile {profile!r}; use {" or ".join(PROFILES)}')
        methods = dict(PROFILES[profile])
        for method, data in (overrides or {}).items():
            methods[method] = limit_from_json(data, methods.get(method))
        self.methods = methods
        self._buckets.clear()

    def describe(self) -> dict[str, dict]:
        return {method: asdict(limit) for method, limit in sorted(self.methods.items())}

    # ---- calls ------------------------------------------------------------------------------------

    def check(self, user: Any, method: str) -> int | None:
        """Count one call; the FLOOD_WAIT seconds to answer with, or None when the call may go on."""
        now = self.clock()
        stats = self._stats.setdefault((user, method), _MethodStats())
        stats.calls += 1
        stats.times.append(round(now, 3))
        limit = self.methods.get(method)
        if limit is None or user is None:
            return None
        wait = self._take(self._bucket(user, method, limit, now), limit, now)
        if wait is not None:
            self._floods.append({'user': user, 'method': method, 'seconds': wait, 'at': round(now, 3)})
        return wait

    def _bucket(self, user: Any, method: str, limit: MethodLimit, now: float) -> _Bucket:
        key = (user, limit.group or method)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(limit.burst), updated=now)
        return bucket

    def _take(self, bucket: _Bucket, limit: MethodLimit, now: float) -> int | None:
        if now < bucket.blocked_until:
            return math.ceil(bucket.blocked_until - now)
        bucket.tokens = min(float(limit.burst), bucket.tokens + (now - bucket.updated) * limit.rate)
        bucket.updated = now
        if limit.daily is not None:
            while bucket.day and bucket.day[0] <= now - DAY:
                bucket.day.popleft()
            if len(bucket.day) >= limit.daily:
                bucket.blocked_until = bucket.day[0] + DAY
                return math.ceil(bucket.blocked_until - now)
        if bucket.tokens < 1.0:
            bucket.strikes = bucket.strikes + 1 if now - bucket.last_strike < self.strike_window else 1
            bucket.last_strike = now
            wait = min(limit.max_wait, limit.wait * 2 ** (bucket.strikes - 1))
            bucket.blocked_until = now + wait
            return wait
        bucket.tokens -= 1.0
        if limit.daily is not None:
            bucket.day.append(now)
        return None

    # ---- statistics -------------------------------------------------------------------------------

    def stats(self) -> dict:
        users: dict[str, dict] = {}
        for (user, method), stats in sorted(self._stats.items(), key=lambda item: (str(item[0][0]), item[0][1])):
            name = 'anonymous' if user is None else str(user)
            users.setdefault(name, {})[method] = {'calls': stats.calls, 'times': list(stats.times)}
        return {'now': round(self.clock(), 3), 'users': users, 'flood_waits': list(self._floods)}

    def reset_stats(self) -> None:
        self._stats.clear()
        self._floods.clear()

    def reset(self) -> None:
        """Forget the buckets and the waits they set, and the statistics (a fresh day for every user)."""
        self._buckets.clear()
        self.reset_stats()
