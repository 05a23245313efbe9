"""Delivery: each webhook's events go out one at a time, in order, from the durable event log.

A process delivers to the webhooks whose lease it holds (claimed like jobs, renewed while it runs), each in a task
of its own, so a slow or dead receiver holds up its own queue only. A failed attempt is tried again after a growing
pause (5 s, 10 s, 20 s, … up to an hour, each ±20 %), under the same event id; after 24 hours of failing the
webhook is paused with the reason. The retry state is in the webhook's document, so a restart goes on where the
last process stopped.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin

import httpx
from loguru import logger

from app.clock import Clock, sleep_or_wake
from app.crypto import SecretBox
from app.webhooks.addresses import AddressPolicy, AddressRefused
from app.webhooks.event_log import TEST_EVENT, Event, EventLog
from app.webhooks.repo import Delivery, Webhook, WebhooksRepo
from app.webhooks.signing import signature

TIMEOUT_SECONDS = 10.0
FIRST_RETRY_SECONDS = 5.0
LONGEST_RETRY_SECONDS = 3600.0
RETRY_FOR = timedelta(hours=24)
LEASE = timedelta(seconds=60)
CLAIM_EVERY_SECONDS = 10.0
POLL_SECONDS = 2.0  # events appended by other processes are found this often
MAX_REDIRECTS = 5
BATCH = 100  # events read at once; their deliveries are recorded together
# Requests in flight at once, over every webhook of the process: a few keep a busy receiver's queue moving, and
# more would fill the event loop with delivery work while reading Telegram waits its turn behind it
IN_FLIGHT = 4
EVENTS_KEPT = timedelta(days=3)  # past the 24 h of retries, with room for a webhook resumed the next day
TRIM_EVERY = timedelta(hours=1)
USER_AGENT = 'Parsegram-Webhooks/1'


def retry_delay(attempts: int, rng: random.Random | None = None) -> float:
    """The pause after the `attempts`-th failed attempt in a row: doubling, capped, with ±20 % jitter."""
    base = min(FIRST_RETRY_SECONDS * 2 ** (attempts - 1), LONGEST_RETRY_SECONDS)
    return base * (rng or random).uniform(0.8, 1.2)


@dataclass
class Attempt:
    ok: bool
    status_code: int | None = None
    duration_ms: int | None = None
    error: str | None = None
    refused: bool = False


class WebhookSenders:
    def __init__(self, *, repo: WebhooksRepo, log: EventLog, secret_box: SecretBox, policy: AddressPolicy,
                 clock: Clock, owner_id: str) -> None:
        self.repo = repo
        self.log = log
        self.secret_box = secret_box
        self.policy = policy
        self.clock = clock
        self.owner_id = owner_id
        self._tasks: dict[str, asyncio.Task] = {}
        self._wakes: dict[str, asyncio.Event] = {}
        self._stopping = False
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self._claim_wake = asyncio.Event()
        self._main: asyncio.Task | None = None
        # one connection pool per webhook: a receiver that hangs holds its own connections, never another's
        self._http: dict[str, httpx.AsyncClient] = {}
        log.listeners.append(self.wake)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._stopping = False
        self._main = asyncio.create_task(self._claim_loop(), name='webhook-claims')

    async def stop(self) -> None:
        self._stopping = True  # the loops end at their next turn even if a cancellation is lost on the way
        self.wake()
        tasks = [task for task in (self._main, *self._tasks.values()) if task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        for webhook_id in list(self._tasks):
            with contextlib.suppress(Exception):
                await self.repo.release(webhook_id, self.owner_id)
        self._tasks.clear()
        self._main = None
        for client in self._http.values():
            await client.aclose()
        self._http.clear()

    def wake(self) -> None:
        """New events (or a new or resumed webhook): look again now."""
        self._claim_wake.set()
        for event in self._wakes.values():
            event.set()

    def forget(self, webhook_id: str) -> None:
        """Stop delivering to a webhook that was paused or deleted."""
        task = self._tasks.pop(webhook_id, None)
        if task is not None:
            task.cancel()
        self._wakes.pop(webhook_id, None)
        client = self._http.pop(webhook_id, None)
        if client is not None:
            background_close(client)

    async def _claim_loop(self) -> None:
        trimmed_at = None
        while not self._stopping:
            self._claim_wake.clear()
            try:
                await self.claim()
                if trimmed_at is None or self.clock.now() - trimmed_at >= TRIM_EVERY:
                    trimmed_at = self.clock.now()
                    await self.log.trim(older_than=trimmed_at - EVENTS_KEPT)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception('claiming webhooks failed')
            await self._nap(self._claim_wake, CLAIM_EVERY_SECONDS)

    async def claim(self) -> None:
        """Renew the leases this process holds and take webhooks no live process holds."""
        now = self.clock.now()
        for hook in await self.repo.active():
            running = hook.id in self._tasks and not self._tasks[hook.id].done()
            if await self.repo.claim(hook.id, self.owner_id, now, LEASE):
                if not running:
                    self._wakes[hook.id] = asyncio.Event()
                    self._tasks[hook.id] = asyncio.create_task(self._run(hook.id), name=f'webhook-{hook.id}')
            elif running:
                self.forget(hook.id)

    async def _nap(self, wake: asyncio.Event, seconds: float) -> None:
        await sleep_or_wake(self.clock, wake, seconds)

    # ------------------------------------------------------------ one webhook's queue

    async def _run(self, webhook_id: str) -> None:
        wake = self._wakes[webhook_id]
        while not self._stopping:
            try:
                if not await self._step(webhook_id, wake):
                    break
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception('delivering to webhook {} failed; trying again', webhook_id)
                await self.clock.sleep(FIRST_RETRY_SECONDS)
        if self._tasks.get(webhook_id) is asyncio.current_task():
            del self._tasks[webhook_id]

    async def _step(self, webhook_id: str, wake: asyncio.Event) -> bool:
        """Deliver (or try) the next event; False once this process no longer delivers to the webhook."""
        hook = await self.repo.get(webhook_id)
        if hook is None or hook.paused or hook.lease_owner != self.owner_id:
            return False
        now = self.clock.now()
        if hook.next_attempt_at is not None and hook.next_attempt_at > now:
            await self.clock.sleep((hook.next_attempt_at - now).total_seconds())
            return True
        wake.clear()
        page = await self.log.next_for(hook.position, hook.events, channel_ids=hook.channel_ids, tags=hook.tags,
                                       limit=BATCH)
        if not page.events:
            await self._flush(hook, [], page.scanned_to)  # events this webhook does not want: passed over
            if page.caught_up:
                await self._nap(wake, POLL_SECONDS)
            return True
        delivered: list[Delivery] = []
        upto: int | None = None  # set once every event of the page went out: the page's end is passed
        try:
            for event in page.events:
                if self._tasks.get(hook.id) is not asyncio.current_task():  # paused, deleted or changed meanwhile
                    break
                async with self._in_flight:
                    attempt = await self.send(hook, event.body())
                delivery = Delivery(id=f'{hook.id}:{event.number}:{hook.attempts + 1}', webhook_id=hook.id,
                                    event_id=event.id, event_number=event.number, event_type=event.type,
                                    status='delivered', attempts=hook.attempts + 1, status_code=attempt.status_code,
                                    duration_ms=attempt.duration_ms, error=attempt.error, at=self.clock.now())
                if attempt.ok:
                    delivered.append(delivery)
                    hook.attempts, hook.failing_since = 0, None
                    continue
                await self._flush(hook, delivered)
                delivered = []
                return await self._failed(hook, delivery, attempt)
            else:
                upto = page.scanned_to
        finally:  # what went out is recorded, also when the process stops mid-batch
            await self._flush(hook, delivered, upto)
        return True

    async def _flush(self, hook: Webhook, delivered: list[Delivery], upto: int | None = None) -> None:
        """Record what went out and move past it (and past `upto`), in one write."""
        last = max(upto or 0, (delivered[-1].event_number or 0) if delivered else 0)
        if last > hook.position:  # always so when something went out: events come after the position
            await self.repo.advance(hook.id, self.owner_id, last, delivered)

    async def _failed(self, hook: Webhook, delivery: Delivery, attempt: Attempt) -> bool:
        now = self.clock.now()
        failing_since = hook.failing_since or now
        pause = None
        if now - failing_since >= RETRY_FOR:
            pause = f'Paused after failing for 24 hours: {attempt.error}'
        next_at = None if pause else now + timedelta(seconds=retry_delay(delivery.attempts))
        delivery.status = 'failed' if pause else 'retrying'
        await self.repo.failed_attempt(delivery, self.owner_id, failing_since=failing_since, next_attempt_at=next_at,
                                       pause_reason=pause)
        if pause:
            logger.warning('webhook {} paused: failing for 24 hours', hook.id)
            return False
        return True

    # ------------------------------------------------------------ one request

    async def send(self, hook: Webhook, body: dict[str, Any]) -> Attempt:
        """POST one event, signed; follow redirects (each checked like the URL itself)."""
        http = self._http.get(hook.id)
        if http is None:
            http = self._http[hook.id] = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False,
                                                           headers={'User-Agent': USER_AGENT})
        raw = json.dumps(body, ensure_ascii=False, separators=(',', ':'), default=str).encode()
        timestamp = str(int(self.clock.now().timestamp()))
        headers = {'Content-Type': 'application/json', 'X-Parsegram-Event-Id': body['id'],
                   'X-Parsegram-Event': body['type'], 'X-Parsegram-Timestamp': timestamp,
                   'X-Parsegram-Signature': signature(self.secret_box.decrypt(hook.secret_enc), timestamp, raw)}
        url = hook.url
        started = time.monotonic()
        for _ in range(MAX_REDIRECTS + 1):
            try:
                await self.policy.check(url)
            except AddressRefused as error:
                return Attempt(False, error=str(error.message), refused=True)
            try:
                async with http.stream('POST', url, content=raw, headers=headers) as response:
                    status = response.status_code
                    location = response.headers.get('location')
            except httpx.TimeoutException:
                return Attempt(False, duration_ms=_ms(started), error=f'No answer within {TIMEOUT_SECONDS:.0f} s')
            except httpx.HTTPError as error:
                return Attempt(False, duration_ms=_ms(started), error=f'Could not connect ({type(error).__name__})')
            if status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                continue
            ok = 200 <= status < 300
            return Attempt(ok, status, _ms(started), None if ok else f'HTTP {status}')
        return Attempt(False, duration_ms=_ms(started), error=f'More than {MAX_REDIRECTS} redirects')

    async def send_test(self, hook: Webhook, *, event_id: str | None = None) -> Delivery:
        """A `webhook.test` event now, out of turn; `event_id` sends an earlier test again under its id."""
        event = Event(0, TEST_EVENT, self.clock.now(),
                      {'webhook_id': hook.id, 'message': 'A test event from Parsegram'})
        body = {**event.body(), 'id': event_id or f'evt_test_{uuid.uuid4().hex[:12]}'}
        return await self._send_out_of_turn(hook, body, None, replay=event_id is not None)

    async def replay(self, hook: Webhook, event: Event) -> Delivery:
        return await self._send_out_of_turn(hook, event.body(), event.number, replay=True)

    async def _send_out_of_turn(self, hook: Webhook, body: dict[str, Any], number: int | None, *,
                                replay: bool) -> Delivery:
        attempt = await self.send(hook, body)
        status = 'delivered' if attempt.ok else ('refused' if attempt.refused else 'failed')
        delivery = Delivery(id=uuid.uuid4().hex[:16], webhook_id=hook.id, event_id=body['id'], event_number=number,
                            event_type=body['type'], status=status, attempts=1, status_code=attempt.status_code,
                            duration_ms=attempt.duration_ms, error=attempt.error, at=self.clock.now(), replay=replay)
        await self.repo.record(delivery)
        return delivery


def background_close(client: httpx.AsyncClient) -> None:
    task = asyncio.get_running_loop().create_task(client.aclose())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task] = set()


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
