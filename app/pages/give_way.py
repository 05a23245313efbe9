"""Background reads of a page (its charts) give way to what the person asked for (a page of posts)."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class GiveWay:
    """`asked()` marks a person's request while it runs; background work awaits `clear()` between its steps, so
    on a busy database the request waits for at most one step of it, not for all of them."""

    def __init__(self) -> None:
        self._running = 0
        self._clear = asyncio.Event()
        self._clear.set()

    @asynccontextmanager
    async def asked(self) -> AsyncIterator[None]:
        self._running += 1
        self._clear.clear()
        try:
            yield
        finally:
            self._running -= 1
            if self._running == 0:
                self._clear.set()

    async def clear(self) -> None:
        await self._clear.wait()
