"""Commands beside the server: `parsegram verify CHANNEL` rechecks a channel's stored history from a terminal.

It reads the database the server uses: MONGO_URI, or the embedded database under DATA_DIR (the running server's,
when one runs; otherwise it starts one for the check and stops it after).
"""
from __future__ import annotations

import sys

from pymongo import AsyncMongoClient

from app.config import Settings
from app.db.client import Database
from app.db.repos import Repos
from app.db.verify import verify_channel

NOT_FOUND = 2


async def verify(settings: Settings, ref: str) -> int:
    database = Database(settings)
    elsewhere = database.embedded.running_elsewhere() if database.embedded is not None else None
    client: AsyncMongoClient = AsyncMongoClient(elsewhere, tz_aware=True) if elsewhere else database.client
    try:
        if not elsewhere and not await database.start(max_attempts=3):
            print(f'Cannot open the database: {database.last_error}', file=sys.stderr)
            return 1
        repos = Repos.create(client[settings.mongo_db])
        channel_id = await repos.channels.find_stored(ref)
        if channel_id is None:
            print(f'No stored channel matches {ref!r}: give its id (as the dashboard or the API lists it) or its '
                  '@username.', file=sys.stderr)
            return NOT_FOUND

        async def progress(posts: int) -> None:
            print(f'  {posts:,} posts checked…', file=sys.stderr, flush=True)

        verdict = await verify_channel(repos, channel_id, progress)
        if verdict.ok:
            print(f'OK: channel {channel_id}, {verdict.posts:,} posts and {verdict.versions:,} versions match their '
                  f'hashes; chain head {verdict.head}.')
            if verdict.unsealed:
                print(f'{verdict.unsealed:,} posts were stored before versions were kept and have not changed since: '
                      'they get a hash when they next change.')
            return 0
        where = f'post {verdict.message_id}, version {verdict.version}: ' if verdict.message_id else ''
        print(f'FAILED: channel {channel_id}: {where}{verdict.reason}.')
        return 1
    finally:
        if elsewhere:
            await client.close()
        await database.stop()  # its own embedded server, when it started one
