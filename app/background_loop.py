"""A component that works in turns: one turn, a pause until woken or its time comes, the next turn; a failed turn is
logged and the next one tries again. It stops within bounds even when its cancellation is lost on the way (a flag
its loop checks, a wake, a cancel, a limited wait)."""
from __future__ import annotations

import asyncio

from loguru import logger

STOP_SECONDS = 10.0


class BackgroundLoop:
    name = 'background loop'

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False

    async def turn(self) -> None:
        raise NotImplementedError

    async def pause(self) -> None:
        """Until the next turn is due (return early when `self._wake` is set)."""
        raise NotImplementedError

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            _, pending = await asyncio.wait({self._task}, timeout=STOP_SECONDS)
            if pending:
                logger.warning('{} did not stop within {} s; left behind', self.name, STOP_SECONDS)
        self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.turn()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception('{} failed; the next turn tries again', self.name)
            if self._stopping:
                return
            await self.pause()
