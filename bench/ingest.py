"""Ingest: Parsegram's full backfill against its two halves, measured side by side on one large channel.

(a) bare Telethon iter_messages through the test DC, no writes;
(b) bare pymongo bulk writes of the same documents, 500 per insert_many, no Telegram;
(c) Parsegram's backfill (fetch ‖ map ‖ write, checkpoints), into a fresh database, through the post writer:
    each batch compared with what is stored, hashed, written in one transaction with its change feed entry;
(d) the same backfill with a writer that only inserts the posts (no comparison, hashes, transaction or feed),
    into another fresh database: what the change feed and the versions cost.
Prints posts/s of each, c / min(a, b), c / d, the event-loop lag p99 during (c) and the RSS growth during (c).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pymongo import AsyncMongoClient, MongoClient
from telethon import TelegramClient
from telethon.crypto import rsa
from telethon.sessions import StringSession
from telethon.tl import types

from app.db.embedded import free_port
from app.db.post_writer import WriteResult
from app.db.posts_repo import post_doc
from app.db.repos import Repos
from app.mtproto.channels import ChannelService
from app.mtproto.jobs import backfill
from app.mtproto.mapping import post_from_message
from tests.telegram_dc.server import TelegramDC

PHONE = '9996620001'
USERNAME = 'bench_ingest'
BARE_BATCH = 500  # generous for the bare writer: larger than the pipeline's writes (100-300 posts)


class InsertOnly:
    """A post writer that only inserts what it is given: the backfill as it was before the change feed."""

    def __init__(self, repos: Repos) -> None:
        self.posts = repos.posts.collection

    async def store(self, channel_id: int, docs: list[dict], **_: object) -> WriteResult:
        await self.posts.insert_many(docs, ordered=False)
        return WriteResult(channel_id, created=[doc['message_id'] for doc in docs])


def rss_bytes() -> int:
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def start_database(path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, '-m', 'secantus', '--host', '127.0.0.1', '--port', str(port), '--storage-path', str(path),
         '--log-level', 'WARNING'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f'mongodb://127.0.0.1:{port}/?directConnection=true'
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=300)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.admin.command('ping')
            break
        except Exception:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit('the database did not start') from None
            time.sleep(0.1)
    client.close()
    return process, uri


class LoopMonitor:
    """Samples event-loop lag (how late a 10 ms sleep wakes up) and peak RSS while it runs."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.peak_rss = rss_bytes()
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            self.lags.append(time.perf_counter() - start - 0.01)
            self.peak_rss = max(self.peak_rss, rss_bytes())

    def __enter__(self) -> LoopMonitor:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def p99(self) -> float:
        return statistics.quantiles(self.lags, n=100)[98] if len(self.lags) > 2 else 0.0


async def run(dc: TelegramDC, uri: str, posts: int) -> dict[str, float]:
    session = StringSession()
    session.set_dc(dc.dc_id, dc.host, dc.port)
    client = TelegramClient(session, 1, 'bench', receive_updates=False)
    await client.connect()
    mongo: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    try:
        sent = await client.send_code_request(PHONE)
        await client.sign_in(PHONE, PHONE[5] * 5, phone_code_hash=sent.phone_code_hash)
        entity = await client.get_input_entity(USERNAME)

        # (c) Parsegram's backfill into a fresh database. It runs first, so its RSS growth is measured before
        # (a) and (b) have held the whole channel in memory.
        repos = Repos.create(mongo['bench_full'])
        await repos.ensure_indexes()
        added = await ChannelService(repos=repos).add_with_client(client, 'bench', f'@{USERNAME}')
        channel = added.channel
        job = await repos.jobs.create(kind='backfill', channel_id=channel.id)
        peer = types.InputChannel(channel.id, channel.access_hashes['bench'])
        baseline = rss_bytes()
        with LoopMonitor() as monitor:
            start = time.perf_counter()
            await backfill(client, repos, job, peer)
            c_seconds = time.perf_counter() - start
        stored = await repos.posts.count(channel_id=channel.id)
        assert stored == posts, stored
        assert await repos.feed.head() == posts  # every post has its change

        # (d) the same backfill without the feed: posts inserted as they come
        plain = Repos.create(mongo['bench_plain'])
        await plain.ensure_indexes()
        plain.writer = InsertOnly(plain)
        added = await ChannelService(repos=plain).add_with_client(client, 'bench', f'@{USERNAME}')
        job = await plain.jobs.create(kind='backfill', channel_id=added.channel.id)
        start = time.perf_counter()
        await backfill(client, plain, job, peer)
        d_seconds = time.perf_counter() - start
        assert await plain.posts.count(channel_id=channel.id) == posts and await plain.feed.head() == 0

        # (a) bare Telethon, no writes
        start = time.perf_counter()
        messages = [m async for m in client.iter_messages(entity, wait_time=0)]
        a_seconds = time.perf_counter() - start
        assert len(messages) == posts, len(messages)

        # (b) bare pymongo, the same documents, no Telegram
        channel_id = entity.channel_id
        docs = [post_doc(p) for p in (post_from_message(m, channel_id) for m in messages) if p is not None]
        del messages
        bare = Repos.create(mongo['bench_bare'])
        await bare.posts.ensure_indexes()
        start = time.perf_counter()
        for i in range(0, len(docs), BARE_BATCH):
            await bare.posts.collection.insert_many(docs[i:i + BARE_BATCH], ordered=False)
        b_seconds = time.perf_counter() - start
        del docs

        return {'a': posts / a_seconds, 'b': posts / b_seconds, 'c': posts / c_seconds, 'd': posts / d_seconds,
                'a_s': a_seconds, 'b_s': b_seconds, 'c_s': c_seconds, 'd_s': d_seconds,
                'lag_p99_ms': monitor.p99() * 1000,
                'rss_mb': (monitor.peak_rss - baseline) / 2**20}
    finally:
        await mongo.close()
        await client.disconnect()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench ingest', description=__doc__)
    parser.add_argument('--posts', type=int, default=50_000)
    parser.add_argument('--seed', type=int, default=9)
    args = parser.parse_args(argv)

    data = Path(tempfile.mkdtemp(prefix='parsegram-bench-'))
    db_process, uri = start_database(data / 'db')
    dc = TelegramDC().start_in_thread()
    try:
        rsa.add_key(dc.public_key_pem.decode(), old=False)
        dc.call(dc.world.create_user, PHONE, 'Bench')
        channel = dc.call(dc.world.create_channel, 'Bench ingest', username=USERNAME, posts=args.posts,
                          seed=args.seed)
        dc.call(lambda: sum(len(bytes(m)) for m in dc.world.channel_messages(channel['channel_id'])))
        result = asyncio.run(run(dc, uri, args.posts))
    finally:
        dc.stop_thread()
        db_process.terminate()
        db_process.wait(15)
        shutil.rmtree(data, ignore_errors=True)

    ratio = result['c'] / min(result['a'], result['b'])
    print(f'channel: {args.posts:,} posts (test DC in a thread, SecantusDB subprocess on disk)')
    print(f'{"stage":<44}{"seconds":>9}{"posts/s":>10}')
    print(f'{"(a) bare Telethon iter_messages, no writes":<44}{result["a_s"]:>9.2f}{result["a"]:>10,.0f}')
    print(f'{"(b) bare pymongo bulk writes, no Telegram":<44}{result["b_s"]:>9.2f}{result["b"]:>10,.0f}')
    print(f'{"(c) Parsegram backfill":<44}{result["c_s"]:>9.2f}{result["c"]:>10,.0f}')
    print(f'{"(d) backfill without the feed (insert only)":<44}{result["d_s"]:>9.2f}{result["d"]:>10,.0f}')
    print(f'c / min(a, b) = {ratio:.2f}   (goal >= 0.8)')
    cost = result['c'] / result['d']
    print(f'c / d = {cost:.2f}   (what the post writer adds: comparison, hashes, transaction, change feed)')
    print(f'event-loop lag p99 during (c) = {result["lag_p99_ms"]:.1f} ms   (goal <= 100 ms)')
    print(f'RSS growth during (c) = {result["rss_mb"]:.1f} MB   (goal <= 60 MB)')
    return 0
