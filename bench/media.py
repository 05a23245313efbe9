"""Media: how fast one account keeps a channel's files by its download policy, and what that costs its history.

The test DC runs Telegram's realistic limits (upload.getFile 5 parts a second per account with a burst of 50,
getHistory one call a second with a burst of 10; FLOOD_WAIT beyond either). One account, Parsegram as it runs
(AccountManager, ChannelService, SyncService, MediaService and the policy runner with their default pacing), a
SecantusDB subprocess on disk. Side by side in one run:

- history alone: the backfill of a channel of --posts posts;
- files alone: the policy keeps --files videos of --mib MiB each of another channel;
- both at once: the backfill of a third channel while the policy keeps the files of a fourth.

Prints bytes a second of the policy against the DC's file limit for one account (its getFile rate × the 512 KiB
parts Parsegram asks for; goal >= 0.9, no FLOOD_WAIT) and the history rate with and without the files running
(goal: the same, within noise).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path

from pymongo import AsyncMongoClient

from app.clock import SystemClock
from app.config import Settings
from app.crypto import SecretBox
from app.db.media_repo import PART_BYTES
from app.db.models import JobKind, JobStatus, MediaPolicy
from app.db.repos import Repos
from app.events import EventBus
from app.mtproto.accounts import AccountManager
from app.mtproto.channels import ChannelService
from app.mtproto.limits import RequestLimiter
from app.mtproto.media import MediaService
from app.mtproto.media_policy import MediaPolicyRunner
from app.mtproto.sync import SyncService
from bench.world import dc_and_database
from tests.support import door_client
from tests.telegram_dc.limits import PROFILES
from tests.telegram_dc.pytest_plugin import API_HASH, API_ID, DcHandle

MIB = 1 << 20


class Stack:
    """One account and Parsegram's services, with their default pacing."""

    def __init__(self, dc: DcHandle, uri: str, data: Path, name: str) -> None:
        self.dc, self.name = dc, name
        settings = Settings(telegram_api_id=API_ID, telegram_api_hash=API_HASH, telegram_dc=f'{dc.host}:{dc.port}',
                            telegram_dc_id=dc.dc_id, telegram_public_key=dc.public_key_path, data_dir=data / name)
        self.mongo: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
        self.repos = Repos.create(self.mongo[name])
        events = EventBus()
        self.manager = AccountManager(settings=settings, repo=self.repos.accounts, secret_box=SecretBox('b' * 32),
                                      owner_id=f'bench-{uuid.uuid4().hex[:6]}', events=events)
        self.channels = ChannelService(repos=self.repos, accounts=self.manager,
                                       limiter=RequestLimiter.from_settings(settings), events=events)
        self.sync = SyncService(repos=self.repos, channels=self.channels, accounts=self.manager,
                                owner_id=self.manager.owner_id)
        self.media = MediaService(repos=self.repos, channels=self.channels, events=events)
        self.policy = MediaPolicyRunner(repos=self.repos, media=self.media, events=events,
                                        owner_id=self.manager.owner_id, clock=SystemClock(), tick_seconds=1.0)

    async def start(self, digit: int) -> None:
        await self.repos.ensure_indexes()
        for part in (self.manager, self.channels, self.sync, self.policy):
            await part.start()
        phone = self.dc.new_phone(digit)
        self.user_id = self.dc.create_user(phone, 'Bench media')
        client = door_client(self.dc, self.manager.door)
        self.account_id = await self.manager.adopt(f'bench-{uuid.uuid4().hex[:6]}', client,
                                                   await self.dc.login(client, phone))
        while self.account_id not in self.manager.usable_account_ids():
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        for part in (self.policy, self.sync, self.channels, self.manager):
            await part.stop()
        await self.mongo.drop_database(self.name)
        await self.mongo.close()

    async def add(self, username: str) -> int:
        return (await self.channels.add(f'@{username}', account_id=self.account_id)).channel.id

    async def backfilled(self, channel_id: int) -> None:
        query = {'kind': JobKind.BACKFILL.value, 'status': JobStatus.DONE.value, 'channel_id': channel_id}
        while await self.repos.jobs.collection.count_documents(query) < 1:
            await asyncio.sleep(0.1)

    async def files_kept(self, channel_id: int, files: int) -> None:
        while len(await self.repos.media.kept_ids(channel_id)) < files:
            await asyncio.sleep(0.1)

    async def keep_files(self, channel_id: int) -> None:
        await self.repos.channels.set_media_policy(channel_id, MediaPolicy(
            enabled=True, types=['video'], max_file_bytes=1 << 40, quota_bytes=1 << 50))
        self.policy.wake()


async def measure(dc: DcHandle, uri: str, data: Path, names: dict[str, str], args: argparse.Namespace) -> dict:
    dc.reset_stats()
    stack = Stack(dc, uri, data, f'bench_media_{uuid.uuid4().hex[:6]}')
    await stack.start(digit=7)
    result: dict = {}
    try:
        media_alone = await stack.add(names['media_alone'])
        media_both = await stack.add(names['media_both'])
        await stack.backfilled(media_alone)
        await stack.backfilled(media_both)
        await asyncio.sleep(3)  # the catch-up syncs and audits of those two settle first

        start = time.perf_counter()
        await stack.backfilled(await stack.add(names['history_alone']))
        result['history_alone'] = args.posts / (time.perf_counter() - start)
        await asyncio.sleep(12)  # the history bucket fills again, as before the first run

        start = time.perf_counter()
        await stack.keep_files(media_alone)
        await stack.files_kept(media_alone, args.files)
        result['files_alone'] = args.files * args.mib * MIB / (time.perf_counter() - start)
        await asyncio.sleep(12)  # both buckets fill again

        start = time.perf_counter()

        async def history() -> float:
            await stack.backfilled(await stack.add(names['history_both']))
            return time.perf_counter() - start

        async def files() -> float:
            await stack.keep_files(media_both)
            await stack.files_kept(media_both, args.files)
            return time.perf_counter() - start
        history_seconds, files_seconds = await asyncio.gather(history(), files())
        result['history_both'] = args.posts / history_seconds
        result['files_both'] = args.files * args.mib * MIB / files_seconds
    finally:
        await stack.stop()
    result['flood_waits'] = dc.stats()['flood_waits']
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench media', description=__doc__)
    parser.add_argument('--posts', type=int, default=6_000, help='posts of each channel whose history is read')
    parser.add_argument('--files', type=int, default=40, help='videos of each channel whose files are kept')
    parser.add_argument('--mib', type=int, default=2, help='MiB of each video')
    args = parser.parse_args(argv)

    with dc_and_database('realistic') as (dc, uri, data):
        names = {}
        for i, name in enumerate(('history_alone', 'history_both')):
            names[name] = f'bench_history_{i}'
            dc.create_channel(f'History {i}', username=names[name], posts=args.posts, seed=60 + i)
        for i, name in enumerate(('media_alone', 'media_both')):
            names[name] = f'bench_media_{i}'
            channel_id = dc.create_channel(f'Media {i}', username=names[name])['channel_id']
            for n in range(args.files):
                dc.post_message(channel_id, f'clip {n}', media='video', media_size=args.mib * MIB)
        result = asyncio.run(measure(dc, uri, data, names, args))

    limits = PROFILES['realistic']
    file_limit = limits['upload.getFile'].rate * PART_BYTES
    history_ceiling = limits['messages.getHistory'].rate * 100
    print(f'one account; test DC with realistic limits (getFile {limits["upload.getFile"].rate:g} parts/s → '
          f'{file_limit / MIB:.2f} MiB/s in parts of {PART_BYTES // 1024} KiB; getHistory '
          f'{history_ceiling:,.0f} posts/s); {args.files} videos × {args.mib} MiB; {args.posts:,}-post histories')
    print(f'{"":24}{"files MiB/s":>13}{"of file limit":>15}{"history posts/s":>17}{"of ceiling":>12}')
    print(f'{"history alone":24}{"":>13}{"":>15}{result["history_alone"]:>17.1f}'
          f'{result["history_alone"] / history_ceiling:>12.2f}')
    print(f'{"files alone":24}{result["files_alone"] / MIB:>13.2f}{result["files_alone"] / file_limit:>15.2f}')
    print(f'{"both at once":24}{result["files_both"] / MIB:>13.2f}{result["files_both"] / file_limit:>15.2f}'
          f'{result["history_both"]:>17.1f}{result["history_both"] / history_ceiling:>12.2f}')
    print(f'history with files / without = {result["history_both"] / result["history_alone"]:.2f}   '
          f'FLOOD_WAITs: {len(result["flood_waits"])}')
    print('goal: files >= 0.9 of the file limit, no FLOOD_WAIT, history with files running as fast as without')
    return 0
