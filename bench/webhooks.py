"""Webhooks: how many events a second reach a local receiver, how soon after the post is stored, and what 50
webhooks cost a backfill.

Parsegram as it runs (the post writer, the change feed's readers with the webhook outbox, the webhook senders;
for the backfills one account with AccountManager, ChannelService and SyncService at their default pacing against
the test DC's realistic limits), a SecantusDB subprocess on disk, and a receiver on loopback in a process of its
own process answering 200. Side by side in one run:

- throughput: --events posts written through the writer in pages of 100, delivered to 1 webhook, then to 50
  (events a second = deliveries / time from the first write to the last arrival);
- delay: --paced posts written one at a time, 20 a second, to 1 webhook; from the write's commit to the arrival
  (p50 / p95; goal p95 <= 1 s);
- backfill: a --posts channel read alone, then another with 50 webhooks whose receiver never answers, then a
  third with 50 webhooks that want post.created (goal: each within 5 % of alone).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from app.clock import SystemClock
from app.crypto import SecretBox
from app.db.models import Channel, Post, utcnow
from app.feed_consumers import FeedConsumers
from app.webhooks.addresses import AddressPolicy
from app.webhooks.outbox import WebhookOutbox
from app.webhooks.sender import WebhookSenders
from app.webhooks.signing import new_secret
from bench.media import Stack
from bench.world import dc_and_database
from tests.support import store_posts
from tests.telegram_dc.limits import PROFILES
from tests.telegram_dc.pytest_plugin import DcHandle

BOX = SecretBox('bench-webhooks')
CHANNEL = 99


class ReceiverProcess:
    """A receiver in a process of its own (tests/receiver.py), so Parsegram's process is not the one answering."""

    def __init__(self, hang: bool = False) -> None:
        self.process = subprocess.Popen([sys.executable, '-m', 'tests.receiver', *(['--hang'] if hang else [])],
                                        stdout=subprocess.PIPE, text=True)
        self.url = f'http://127.0.0.1:{int(self.process.stdout.readline())}/hook'
        self.client = httpx.Client(timeout=30)

    @property
    def count(self) -> int:
        return self.client.get(self.url.replace('/hook', '/count')).json()

    def arrivals(self) -> list[list]:
        return self.client.get(self.url.replace('/hook', '/arrivals')).json()

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(10)


class HookStack(Stack):
    """The media benchmark's account and services, with the feed's readers and the webhook senders."""

    def __init__(self, dc: DcHandle, uri: str, data: Path, name: str) -> None:
        super().__init__(dc, uri, data, name)
        self.consumers = FeedConsumers(self.repos.feed, self.repos.writer, self.repos.comment_writer)
        self.consumers.add(WebhookOutbox(self.repos, self.repos.events_log, self.repos.webhooks))
        self.senders = WebhookSenders(repo=self.repos.webhooks, log=self.repos.events_log, secret_box=BOX,
                                      policy=AddressPolicy('true'), clock=SystemClock(), owner_id='bench')

    async def start(self, digit: int) -> None:
        await super().start(digit)
        await self.consumers.start()
        await self.senders.start()

    async def stop(self) -> None:
        await self.senders.stop()
        await self.consumers.stop()
        await super().stop()

    async def hooks(self, url: str, count: int) -> None:
        for hook in await self.repos.webhooks.list():
            await self.repos.webhooks.delete(hook.id)
            self.senders.forget(hook.id)
        head = await self.repos.events_log.head()
        for n in range(count):
            await self.repos.webhooks.create(url=f'{url}/{n}', events=['post.created'], position=head,
                                             secret_enc=BOX.encrypt(new_secret()))
        self.senders.wake()


async def until(check, timeout: float = 600) -> None:
    deadline = time.perf_counter() + timeout
    while not await asyncio.to_thread(check):
        if time.perf_counter() > deadline:
            raise SystemExit('the benchmark stalled')
        await asyncio.sleep(0.05)


async def throughput(stack: HookStack, receiver: ReceiverProcess, hooks: int, events: int, first_id: int) -> float:
    await stack.hooks(receiver.url, hooks)
    before = await asyncio.to_thread(lambda: receiver.count)
    start = time.perf_counter()
    for page in range(0, events, 100):
        await store_posts(stack.repos, [Post(channel_id=CHANNEL, message_id=first_id + m, date=utcnow(),
                                             text=f'post {m}') for m in range(page, min(page + 100, events))])
    await until(lambda: receiver.count >= before + events * hooks)
    return events * hooks / (time.perf_counter() - start)


async def delays(stack: HookStack, receiver: ReceiverProcess, count: int, first_id: int) -> list[float]:
    await stack.hooks(receiver.url, 1)
    before = await asyncio.to_thread(lambda: receiver.count)
    stored: dict[int, float] = {}
    for m in range(count):
        message_id = first_id + m
        await store_posts(stack.repos, [Post(channel_id=CHANNEL, message_id=message_id, date=utcnow(), text='x')])
        stored[message_id] = time.time()
        await asyncio.sleep(0.05)
    await until(lambda: receiver.count >= before + count)
    arrived = (await asyncio.to_thread(receiver.arrivals))[before:before + count]
    return sorted(at - stored[message_id] for message_id, at in arrived)


async def measure(dc: DcHandle, uri: str, data: Path, names: list[str], args: argparse.Namespace) -> dict:
    receiver, dead = ReceiverProcess(), ReceiverProcess(hang=True)
    stack = HookStack(dc, uri, data, f'bench_hooks_{uuid.uuid4().hex[:6]}')
    await stack.start(digit=8)
    result: dict = {}
    try:
        await stack.repos.channels.upsert_metadata(Channel(id=CHANNEL, title='Bench'))
        result['one'] = await throughput(stack, receiver, 1, args.events, 1)
        result['fifty'] = await throughput(stack, receiver, 50, args.events // 10, 100_000)
        lags = await delays(stack, receiver, args.paced, 200_000)
        result['p50'], result['p95'] = statistics.median(lags), lags[int(len(lags) * 0.95) - 1]
        for label, target, hooks, name in (('alone', receiver, 0, names[0]), ('dead_50', dead, 50, names[1]),
                                           ('with_50', receiver, 50, names[2])):
            await stack.hooks(target.url, hooks)
            await asyncio.sleep(12)  # the history bucket fills again, as before the first run
            start = time.perf_counter()
            await stack.backfilled(await stack.add(name))
            result[label] = args.posts / (time.perf_counter() - start)
    finally:
        await stack.stop()
        receiver.stop()
        dead.stop()
    result['flood_waits'] = dc.stats()['flood_waits']
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench webhooks', description=__doc__)
    parser.add_argument('--events', type=int, default=2_000, help='posts delivered to one webhook (a tenth to 50)')
    parser.add_argument('--paced', type=int, default=200, help='posts written one at a time for the delays')
    parser.add_argument('--posts', type=int, default=3_000, help='posts of each channel backfilled')
    args = parser.parse_args(argv)
    with dc_and_database('realistic') as (dc, uri, data):
        names = [f'bench_hooked_{n}' for n in range(3)]
        for n, name in enumerate(names):
            dc.create_channel(f'Hooked {n}', username=name, posts=args.posts, seed=80 + n)
        result = asyncio.run(measure(dc, uri, data, names, args))
    ceiling = PROFILES['realistic']['messages.getHistory'].rate * 100
    print(f'local receiver on loopback; SecantusDB on disk; backfills of {args.posts:,} posts, one account, test DC '
          f'with realistic limits (history ceiling {ceiling:,.0f} posts/s)')
    print(f'events a second, 1 webhook:   {result["one"]:8.0f}  ({args.events:,} events)')
    print(f'events a second, 50 webhooks: {result["fifty"]:8.0f}  ({args.events // 10:,} events × 50)')
    print(f'stored → receiver:            p50 {result["p50"] * 1000:.0f} ms, p95 {result["p95"] * 1000:.0f} ms '
          f'(goal p95 <= 1000 ms)')
    alone = result['alone']
    print(f'backfill alone:               {alone:8.1f} posts/s ({alone / ceiling:.2f} of the ceiling)')
    for label, name in (('with_50', 'with 50 webhooks'), ('dead_50', 'with 50 dead webhooks')):
        print(f'backfill {name + ":":21}{result[label]:8.1f} posts/s ({result[label] / alone:.2f} of alone)')
    print(f'FLOOD_WAIT answers: {result["flood_waits"]}')
    return 0
