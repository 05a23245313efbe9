"""Another Parsegram process writing posts to the same database, for the change feed's tests.

python -m tests.feed_writer_process URI DATABASE CHANNEL_ID FIRST_ID BATCHES: each batch stores five new posts
and edits the first post of the batch before; prints the feed positions its writes took, as JSON.
"""
from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from app.db.models import Post
from app.db.posts_repo import PostsRepo
from app.db.repos import Repos

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _post(channel_id: int, message_id: int, text: str) -> Post:
    return Post(channel_id=channel_id, message_id=message_id, date=BASE + timedelta(minutes=message_id), text=text)


async def main(uri: str, database: str, channel_id: int, first_id: int, batches: int) -> None:
    client: AsyncMongoClient = AsyncMongoClient(uri, tz_aware=True)
    repos = Repos.create(client[database])
    positions: list[int] = []
    try:
        for batch in range(batches):
            start = first_id + batch * 5
            posts = [_post(channel_id, start + k, f'post {start + k}') for k in range(5)]
            if batch:
                posts.append(_post(channel_id, start - 5, f'post {start - 5}, edited'))
            written = await repos.writer.store(channel_id, PostsRepo.prepare(posts))
            positions += range(written.first_position or 0, (written.last_position or -1) + 1)
    finally:
        await client.close()
    print(json.dumps(positions))


if __name__ == '__main__':
    uri, database, channel, first, batches = sys.argv[1:6]
    asyncio.run(main(uri, database, int(channel), int(first), int(batches)))
