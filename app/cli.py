"""Commands beside the server: `parsegram verify CHANNEL` rechecks a channel's stored history from a terminal;
`parsegram reindex` rebuilds the search index.

It reads the database the server uses: MONGO_URI, or the embedded database under DATA_DIR (the running server's,
when one runs; otherwise it starts one for the check and stops it after).
"""
from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator

from pymongo import AsyncMongoClient

from app.config import Settings
from app.db.client import Database
from app.db.repos import Repos
from app.db.verify import verify_channel
from app.search.index import REBUILD_MARKER, IndexStatus, SearchIndex, running_indexes

NOT_FOUND = 2


@contextlib.asynccontextmanager
async def _repos(settings: Settings) -> AsyncIterator[Repos | None]:
    """The server's database: the running server's embedded one, MONGO_URI, or an embedded one started for the
    command (stopped after it); None when it cannot be opened (the reason is printed)."""
    database = Database(settings)
    elsewhere = database.embedded.running_elsewhere() if database.embedded is not None else None
    client: AsyncMongoClient = AsyncMongoClient(elsewhere, tz_aware=True) if elsewhere else database.client
    try:
        if not elsewhere and not await database.start(max_attempts=3):
            print(f'Cannot open the database: {database.last_error}', file=sys.stderr)
            yield None
        else:
            yield Repos.create(client[settings.mongo_db])
    finally:
        if elsewhere:
            await client.close()
        await database.stop()  # its own embedded server, when it started one


async def reindex(settings: Settings) -> int:
    running = running_indexes(settings.data_dir)
    if running:
        for path in running:
            (path / REBUILD_MARKER).touch()
        print(f'The running server will rebuild its search index within seconds ({len(running)} index'
              f'{"es" if len(running) > 1 else ""} under {settings.data_dir}); follow it on the Search page or '
              'GET /api/mtproto/search/index.')
        return 0
    async with _repos(settings) as repos:
        if repos is None:
            return 1
        index = SearchIndex(repos, settings.data_dir)
        last = [0.0]

        def progress(status: IndexStatus) -> None:
            if status.state == 'building' and time.monotonic() - last[0] >= 1:
                last[0] = time.monotonic()
                print(f'  {status.done:,} of about {status.total:,} posts indexed…', file=sys.stderr, flush=True)

        index.listeners.append(progress)
        try:
            await index.rebuild(repos.feed)
            print(f'Search index rebuilt: {index.status.posts:,} posts, current to change {index.status.position}.')
        finally:
            await index.close()
        return 0


async def verify(settings: Settings, ref: str) -> int:
    async with _repos(settings) as repos:
        if repos is None:
            return 1
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
