"""Time as a dependency: the system clock in the app, a clock the test moves by hand in tests."""
from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


def ceil_to_milliseconds(moment: datetime) -> datetime:
    """MongoDB keeps milliseconds: a deadline rounded up to them reads back as it was kept, and never earlier."""
    spare = moment.microsecond % 1000
    return moment if spare == 0 else moment + timedelta(microseconds=1000 - spare)


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


async def sleep_or_wake(clock: Clock, wake: asyncio.Event, seconds: float) -> None:
    """Sleep on `clock` until `seconds` have passed or `wake` is set, whichever comes first."""
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    waiter = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        waiter.cancel()


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """Stands still until `advance`; a sleeper wakes once the clock has passed its deadline."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or ceil_to_milliseconds(datetime.now(UTC))
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._now.timestamp()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + timedelta(seconds=seconds), future))
        try:
            await future
        finally:
            self._sleepers = [(at, f) for at, f in self._sleepers if f is not future]

    async def advance(self, seconds: float) -> None:
        """Move time on and let every sleeper whose deadline has passed run up to its next await."""
        self._now += timedelta(seconds=seconds)
        for at, future in list(self._sleepers):
            if at <= self._now and not future.done():
                future.set_result(None)
        for _ in range(3):  # the woken coroutines, and what they schedule in turn
            await asyncio.sleep(0)

    @property
    def sleepers(self) -> int:
        return sum(1 for _, future in self._sleepers if not future.done())
