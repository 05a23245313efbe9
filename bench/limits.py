"""Limits: how fast Parsegram backfills inside Telegram's request limits, with 1, 2 and 4 accounts side by side.

The test DC runs Telegram's realistic limits (getHistory about one call a second per account with a burst of 10,
FLOOD_WAIT_30 and longer beyond it; resolves, joins and full-channel reads with limits of their own). Four public
channels of --posts posts each are backfilled by Parsegram as it runs (AccountManager, ChannelService and
SyncService with their default, safe pacing) with 1, 2 and 4 accounts, each run with fresh accounts into a fresh
database. One account adds the four channels; the others learn them when there is work for them.

Prints, for each run: seconds, posts/s, posts/s per account against the DC's ceiling for one account
(100 posts a call × its getHistory rate), and the FLOOD_WAITs the DC answered; then the speed-up from 1 to 4.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path

from pymongo import AsyncMongoClient

from app.config import Settings
from app.crypto import SecretBox
from app.db.models import JobKind, JobStatus
from app.db.repos import Repos
from app.mtproto.accounts import AccountManager
from app.mtproto.channels import ChannelService
from app.mtproto.limits import MethodClass, RequestLimiter
from app.mtproto.sync import SyncService
from bench.world import dc_and_database
from tests.support import door_client
from tests.telegram_dc.limits import PROFILES
from tests.telegram_dc.pytest_plugin import API_HASH, API_ID, DcHandle

POSTS_PER_CALL = 100
HISTORY = 'messages.getHistory'


async def run(dc: DcHandle, uri: str, data: Path, usernames: list[str], accounts: int, posts: int,
              digit: int) -> dict[str, float]:
    dc.reset_stats()
    settings = Settings(telegram_api_id=API_ID, telegram_api_hash=API_HASH, telegram_dc=f'{dc.host}:{dc.port}',
                        telegram_dc_id=dc.dc_id, telegram_public_key=dc.public_key_path, data_dir=data / 'app')
    mongo: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    repos = Repos.create(mongo[f'bench_limits_{accounts}'])
    await repos.ensure_indexes()
    manager = AccountManager(settings=settings, repo=repos.accounts, secret_box=SecretBox('b' * 32),
                             owner_id=f'bench-{uuid.uuid4().hex[:6]}')
    channels = ChannelService(repos=repos, accounts=manager, limiter=RequestLimiter())  # the safe defaults
    sync = SyncService(repos=repos, channels=channels, accounts=manager, owner_id=manager.owner_id)
    await manager.start()
    await channels.start()
    await sync.start()
    try:
        users, account_ids = [], []
        for i in range(accounts):
            phone = dc.new_phone(digit)
            users.append(dc.create_user(phone, f'Bench {accounts}.{i}'))
            client = door_client(dc, manager.door)
            account_id = await manager.adopt(f'bench-{uuid.uuid4().hex[:6]}', client, await dc.login(client, phone))
            account_ids.append(account_id)
            if i == 0:
                first = account_id
        while len(manager.usable_account_ids()) < accounts:
            await asyncio.sleep(0.1)
        start = time.perf_counter()
        ids = [(await channels.add(f'@{name}', account_id=first)).channel.id for name in usernames]
        query = {'kind': JobKind.BACKFILL.value, 'status': JobStatus.DONE.value, 'channel_id': {'$in': ids}}
        while await repos.jobs.collection.count_documents(query) < len(ids):
            await asyncio.sleep(0.2)
        seconds = time.perf_counter() - start
        stored = sum([await repos.posts.count(channel_id=i) for i in ids])
        assert stored == posts * len(ids), stored
    finally:
        await sync.stop()
        await channels.stop()
        await manager.stop()
        await mongo.drop_database(f'bench_limits_{accounts}')
        await mongo.close()
    stats = dc.stats()
    readers = sum(1 for user in users if stats['users'].get(str(user), {}).get(HISTORY, {}).get('calls'))
    # requests a minute of each method class, the busiest account's, against the pace Parsegram allows it
    per_class: dict[MethodClass, tuple[float, float, int]] = {}
    for account_id in account_ids:
        for kind, count in manager.door.sent_by_class(account_id).items():
            if kind not in (MethodClass.LOGIN, MethodClass.ACCOUNT):
                budget = channels.limiter.budgets[kind]
                busiest = max(count / seconds * 60, per_class.get(kind, (0.0, 0.0, 0))[0])
                per_class[kind] = (busiest, budget.per_second * 60, budget.burst)
    return {'seconds': seconds, 'posts_s': stored / seconds, 'per_account': stored / seconds / accounts,
            'readers': readers, 'flood_waits': len(stats['flood_waits']), 'per_class': per_class}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog='python -m bench limits', description=__doc__)
    parser.add_argument('--posts', type=int, default=20_000, help='posts in each of the four channels')
    parser.add_argument('--accounts', default='1,2,4', help='the account counts to run, e.g. 1,4')
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.accounts.split(',')]

    with dc_and_database('realistic') as (dc, uri, data):
        usernames = [f'bench_limits_{i}' for i in range(4)]
        for i, name in enumerate(usernames):
            dc.create_channel(f'Bench limits {i}', username=name, posts=args.posts, seed=20 + i)
        results = {n: asyncio.run(run(dc, uri, data, usernames, n, args.posts, digit=n))
                   for n in counts}

    ceiling = PROFILES['realistic'][HISTORY].rate * POSTS_PER_CALL
    print(f'4 channels × {args.posts:,} posts; test DC with realistic limits (getHistory {ceiling / 100:g} call/s '
          f'per account → ceiling {ceiling:,.0f} posts/s per account); SecantusDB subprocess on disk')
    print(f'{"accounts":>8}{"reading":>9}{"seconds":>10}{"posts/s":>10}{"per account":>13}{"of ceiling":>12}'
          f'{"FLOOD_WAITs":>13}')
    for n, r in results.items():
        print(f'{n:>8}{r["readers"]:>9}{r["seconds"]:>10.1f}{r["posts_s"]:>10.1f}{r["per_account"]:>13.1f}'
              f'{r["per_account"] / ceiling:>12.2f}{r["flood_waits"]:>13}')
    print('goal: of ceiling >= 0.9, FLOOD_WAITs 0')
    print("requests a minute per method class, the busiest account's from adding to the last backfill / the pace "
          'Parsegram allows it, plus its burst after a quiet spell')
    for n, r in results.items():
        cells = '   '.join(f'{kind.value} {rate:.1f}/{allowed:g}+{burst}'
                           for kind, (rate, allowed, burst) in sorted(r['per_class'].items()))
        print(f'{n:>8}  {cells}')
    if 1 in results and max(counts) > 1:
        top = max(counts)
        print(f'speed-up 1 → {top} accounts = {results[1]["seconds"] / results[top]["seconds"]:.2f}   '
              f'(goal >= {0.9 * top:.1f})')
    return 0
